"""Loading checkpoints laid out like the official files: strict, prefix-tolerant, sha256 recorded."""
import hashlib
import os
import shutil
import tempfile
import unittest

import _path  # noqa: F401
import torch

from build import build_all
from configs import MODALITIES, SIZES
from export import load_official


class OfficialLoad(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix='tm-ckpt-')
        cls.backbone, cls.toks = build_all(SIZES['test'], seed=3)
        sd = {'sampler.model.' + k: v for k, v in cls.backbone.state_dict().items()}
        sd['sampler.model.encoder_embeddings.coords.token_emb.weight'] = torch.zeros(4, 32)  # a modality we skip
        torch.save(sd, os.path.join(cls.dir, 'TerraMind_v1_test.pt'))
        for name, tok in cls.toks.items():
            torch.save(tok.state_dict(), os.path.join(cls.dir, MODALITIES[name].tokenizer_file))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def test_loads_every_tensor_and_records_hashes(self):
        backbone, toks = build_all(SIZES['test'], seed=4)
        records = load_official('test', self.dir, backbone, toks)
        for k, v in self.backbone.state_dict().items():
            self.assertTrue(torch.equal(v, backbone.state_dict()[k]), k)
        for name, tok in self.toks.items():
            for k, v in tok.state_dict().items():
                self.assertTrue(torch.equal(v, toks[name].state_dict()[k]), f'{name} {k}')
        self.assertEqual(len(records), 7)
        with open(os.path.join(self.dir, 'TerraMind_Tokenizer_DEM.pt'), 'rb') as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        self.assertIn({'file': 'TerraMind_Tokenizer_DEM.pt', 'sha256': digest}, records)

    def test_a_missing_key_fails_loudly(self):
        sd = torch.load(os.path.join(self.dir, 'TerraMind_Tokenizer_DEM.pt'))
        del sd['quant_proj.bias']
        bad = tempfile.mkdtemp(prefix='tm-bad-')
        try:
            for f in os.listdir(self.dir):
                shutil.copy(os.path.join(self.dir, f), bad)
            torch.save(sd, os.path.join(bad, 'TerraMind_Tokenizer_DEM.pt'))
            backbone, toks = build_all(SIZES['test'])
            with self.assertRaisesRegex(RuntimeError, 'quant_proj.bias'):
                load_official('test', bad, backbone, toks)
        finally:
            shutil.rmtree(bad)


if __name__ == '__main__':
    unittest.main()
