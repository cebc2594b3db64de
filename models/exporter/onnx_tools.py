"""Post-processing of exported ONNX files: optional float16 weight storage and external data for big graphs."""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

EXTERNAL_THRESHOLD = 1536 * 1024 * 1024  # well under protobuf's 2 GB ceiling


def weights_to_fp16(model: onnx.ModelProto):
    """Store every float32 initializer as float16 followed by a Cast back to float32.

    Arithmetic stays float32 (onnxruntime CPU lacks float16 kernels for several ops); files halve in size and
    the graph's inputs and outputs keep their float32 types.
    """
    g = model.graph
    casts = []
    for init in g.initializer:
        if init.data_type != TensorProto.FLOAT:
            continue
        arr = numpy_helper.to_array(init)
        if arr.size < 16:  # scalars and tiny constants are not worth a Cast
            continue
        name = init.name
        half = numpy_helper.from_array(arr.astype(np.float16), name + '_fp16')
        init.CopyFrom(half)
        casts.append(helper.make_node('Cast', [name + '_fp16'], [name], to=TensorProto.FLOAT, name=name + '_cast'))
    for i, node in enumerate(casts):
        g.node.insert(i, node)
    return model


def finalize_onnx(path: str, fp16: bool):
    model = onnx.load(path, load_external_data=True)
    if fp16:
        weights_to_fp16(model)
    big = model.ByteSize() > EXTERNAL_THRESHOLD
    for f in os.listdir(os.path.dirname(path) or '.'):
        if f.startswith(os.path.basename(path) + '.'):
            os.remove(os.path.join(os.path.dirname(path), f))  # stale external data from a previous run
    if big:
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=os.path.basename(path) + '.data', size_threshold=1024)
    else:
        onnx.save_model(model, path)
    onnx.checker.check_model(path)
