"""Our modules' state-dict keys and shapes equal the reference layouts (so official checkpoints load strictly)."""
import unittest

import _path  # noqa: F401

from build import build_tokenizer, skip_init
from check_keys import check_backbone, check_tokenizer
from configs import MODALITIES, SIZES


class StateDictLayouts(unittest.TestCase):
    def test_backbones(self):
        for size in ('tiny', 'base', 'large'):
            with self.subTest(size=size):
                self.assertEqual(check_backbone(size), [])

    def test_tokenizers(self):
        for mod in ('LULC', 'DEM', 'NDVI', 'S1GRD'):
            with self.subTest(modality=mod):
                self.assertEqual(check_tokenizer(mod), [])


class TokenizerChannels(unittest.TestCase):
    def test_s2l2a_and_s1rtc_follow_the_divae_layout(self):
        with skip_init():
            dem = build_tokenizer(SIZES['base'], MODALITIES['DEM']).state_dict()
            s2 = build_tokenizer(SIZES['base'], MODALITIES['S2L2A']).state_dict()
            s1 = build_tokenizer(SIZES['base'], MODALITIES['S1RTC']).state_dict()
        self.assertEqual(set(dem), set(s2))
        self.assertEqual(set(dem), set(s1))
        self.assertEqual(list(s2['encoder.proj.weight'].shape), [768, 12, 16, 16])
        self.assertEqual(list(s2['decoder.input_blocks.0.0.weight'].shape), [256, 12 * 16 + 5, 3, 3])
        self.assertEqual(list(s2['decoder.out.2.weight'].shape), [12 * 16, 256, 3, 3])
        self.assertEqual(list(s1['decoder.out.2.weight'].shape), [2 * 16, 256, 3, 3])


if __name__ == '__main__':
    unittest.main()
