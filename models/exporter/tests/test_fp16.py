"""--fp16 storage: float16 initializers with Casts back, float32 graph edges, a valid model."""
import os
import shutil
import tempfile
import unittest

import _path  # noqa: F401
import onnx
import torch
from onnx import TensorProto

from onnx_tools import finalize_onnx


class Fp16Storage(unittest.TestCase):
    def test_weights_halved_edges_float32(self):
        d = tempfile.mkdtemp(prefix='tm-fp16-')
        try:
            path = os.path.join(d, 'lin.onnx')
            torch.manual_seed(0)
            torch.onnx.export(torch.nn.Linear(64, 32), (torch.randn(2, 64),), path, opset_version=17,
                              input_names=['x'], output_names=['y'], dynamic_axes={'x': {0: 'B'}, 'y': {0: 'B'}})
            before = os.path.getsize(path)
            finalize_onnx(path, fp16=True)
            m = onnx.load(path)
            self.assertLess(os.path.getsize(path), before * 0.6)
            self.assertEqual({i.data_type for i in m.graph.initializer}, {TensorProto.FLOAT16})
            self.assertEqual(m.graph.input[0].type.tensor_type.elem_type, TensorProto.FLOAT)
            self.assertEqual(m.graph.output[0].type.tensor_type.elem_type, TensorProto.FLOAT)
            self.assertEqual(sum(n.op_type == 'Cast' for n in m.graph.node), 2)
            onnx.checker.check_model(m)
        finally:
            shutil.rmtree(d)


if __name__ == '__main__':
    unittest.main()
