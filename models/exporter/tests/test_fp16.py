"""--fp16 storage: float16 initializers with Casts back, float32 graph edges, a valid model; --from-package copies."""
import json
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


class Fp16Copy(unittest.TestCase):
    def test_copy_of_an_fp32_package_has_the_bytes_of_an_fp16_export(self):
        from export import export_graph, fp16_copy
        d = tempfile.mkdtemp(prefix='tm-fp16-copy-')
        try:
            src, direct, out = (os.path.join(d, n) for n in ('src', 'direct', 'out'))
            os.makedirs(src)
            os.makedirs(direct)
            torch.manual_seed(0)
            lin = torch.nn.Linear(64, 32)
            args = ((torch.randn(2, 64),), ['x'], ['y'], {'x': {0: 'B'}, 'y': {0: 'B'}})
            export_graph(lin, args[0], os.path.join(src, 'g.onnx'), *args[1:], fp16=False)
            export_graph(lin, args[0], os.path.join(direct, 'g.onnx'), *args[1:], fp16=True)
            with open(os.path.join(src, 'queries_X.bin'), 'wb') as f:
                f.write(b'\x00\x00\x80\x3f')
            with open(os.path.join(src, 'manifest.json'), 'w') as f:
                json.dump({'name': 'pkg', 'version': '1.0.0', 'precision': 'fp32'}, f)
            manifest = fp16_copy(src, out)
            with open(os.path.join(out, 'g.onnx'), 'rb') as a, open(os.path.join(direct, 'g.onnx'), 'rb') as b:
                self.assertEqual(a.read(), b.read())
            with open(os.path.join(out, 'queries_X.bin'), 'rb') as f:
                self.assertEqual(f.read(), b'\x00\x00\x80\x3f')
            self.assertEqual(manifest, {'name': 'pkg-fp16', 'version': '1.0.0', 'precision': 'fp16'})
            with open(os.path.join(out, 'manifest.json')) as f:
                self.assertEqual(json.load(f), manifest)
            with self.assertRaises(SystemExit):  # an fp16 package is not converted again
                fp16_copy(out, os.path.join(d, 'again'))
        finally:
            shutil.rmtree(d)


if __name__ == '__main__':
    unittest.main()
