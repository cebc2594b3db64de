"""The committed package: manifest fields, files, and its query tables rebuilt from the recorded seed."""
import json
import os
import unittest

import _path
import numpy as np

from configs import DEFAULTS, DIFFUSION, MODALITIES

PKG = os.path.join(_path.REPO, 'models', 'terramind-test-random')


class CommittedPackage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(PKG, 'manifest.json')) as f:
            cls.m = json.load(f)

    def test_header(self):
        m = self.m
        self.assertEqual(m['schemaVersion'], 1)
        self.assertEqual((m['size'], m['weights'], m['precision']), ('test', 'random', 'fp32'))
        self.assertEqual(m['source']['seed'], 0)
        self.assertEqual(m['architecture'], {'dim': 32, 'heads': 2, 'encoderDepth': 2, 'decoderDepth': 2, 'mlp': 'gelu'})
        self.assertEqual((m['imageSize'], m['patchSize'], m['tokenGrid']), (224, 16, [14, 14]))
        self.assertEqual(m['diffusion'], DIFFUSION)
        self.assertEqual(m['defaults'], {'timesteps': 10, 'temperature': 1.0, 'topP': 0.8, 'topK': 0})
        self.assertEqual(m['defaults'], DEFAULTS)

    def test_modalities(self):
        mods = self.m['modalities']
        self.assertEqual(sorted(mods), sorted(MODALITIES))
        self.assertEqual(sorted(k for k, v in mods.items() if 'output' in v), ['DEM', 'LULC', 'NDVI', 'S1GRD', 'S1RTC', 'S2L2A'])
        self.assertEqual(sorted(k for k, v in mods.items() if 'tokenizerEncoder' in v.get('input', {})), ['LULC', 'NDVI'])
        s2 = mods['S2L2A']
        self.assertEqual(len(s2['bands']), 12)
        self.assertAlmostEqual(s2['mean'][0], 1390.458)
        self.assertAlmostEqual(s2['std'][11], 1334.311)
        self.assertEqual(mods['S2L1C']['bands'][10], 'B10')
        self.assertAlmostEqual(mods['DEM']['mean'][0], 670.665)
        self.assertEqual(mods['LULC']['classes'], 10)
        self.assertEqual(mods['LULC']['output']['tokenizer'], {'kind': 'vqvae', 'fsqLevels': [5, 3, 3, 3, 2], 'decoder': 'decoder_LULC.onnx'})
        self.assertEqual(mods['LULC']['output']['vocabSize'], 270)
        self.assertEqual(mods['DEM']['output']['tokenizer']['fsqLevels'], [4, 4, 3, 3, 2])
        self.assertEqual(mods['DEM']['output']['vocabSize'], 288)

    def test_files_exist_and_queries_match_seed(self):
        from build import build_all
        from configs import SIZES
        backbone, _ = build_all(SIZES['test'], seed=self.m['source']['seed'])
        names = {self.m['encoder'], self.m['decoder']}
        for name, e in self.m['modalities'].items():
            names |= set(e.get('input', {}).values())
            if 'output' in e:
                o = e['output']
                names |= {o['queries'], o['head'], o['tokenizer'].get('unet') or o['tokenizer']['decoder']}
                q = np.fromfile(os.path.join(PKG, o['queries']), dtype='<f4')
                self.assertEqual(q.size, 196 * 32)
                ref = backbone.decoder_embeddings[MODALITIES[name].output_key].queries(backbone.mask_token)
                np.testing.assert_array_equal(q.reshape(196, 32), ref.detach()[0].numpy())
        for n in names:
            self.assertTrue(os.path.isfile(os.path.join(PKG, n)), n)
        self.assertEqual(sorted(names | {'manifest.json'}), sorted(os.listdir(PKG)))


if __name__ == '__main__':
    unittest.main()
