"""FSQ index <-> code round trip and the little-endian mixed-radix index."""
import unittest

import _path  # noqa: F401
import torch

from tokenizer_modules import FSQ


class FsqRoundTrip(unittest.TestCase):
    def test_every_index_round_trips(self):
        for levels in ([8, 8, 8, 6, 5], [7, 5, 5, 5, 5], [4, 4, 3, 3, 2]):
            fsq = FSQ(levels)
            v = 1
            for l in levels:
                v *= l
            idx = torch.arange(v).view(1, v, 1)
            code = fsq.code_from_index(idx)
            self.assertGreaterEqual(code.min().item(), 0.0)
            self.assertLessEqual(code.max().item(), 1.0)
            self.assertTrue(torch.equal(fsq.index_from_code(code), idx))

    def test_dimension_zero_is_least_significant(self):
        fsq = FSQ([8, 8, 8, 6, 5])
        code = fsq.code_from_index(torch.tensor([[[1, 8, 15359]]]))
        for got, want in zip(code[0, :, 0, 0].tolist(), [1 / 7, 0, 0, 0, 0]):
            self.assertAlmostEqual(got, want, places=6)
        self.assertAlmostEqual(code[0, 1, 0, 1].item(), 1 / 7, places=6)
        self.assertEqual(code[0, :, 0, 2].tolist(), [1, 1, 1, 1, 1])

    def test_quantize_from_logits(self):
        fsq = FSQ([8, 8, 8, 6, 5])
        z = torch.tensor([-20.0, 20.0, 0.0, 0.0, 0.0]).view(1, 5, 1, 1)
        n = fsq.numbers(z)  # sigmoid -> 0, 1, .5, .5, .5 -> round(x*(L-1))
        self.assertEqual(n.flatten().tolist(), [0, 7, 4, 2, 2])  # round(3.5)=4 (half to even), round(2.5)=2, round(2)=2
        self.assertEqual(fsq.index_from_numbers(n).item(), 0 + 7 * 8 + 4 * 64 + 2 * 512 + 2 * 3072)


if __name__ == '__main__':
    unittest.main()
