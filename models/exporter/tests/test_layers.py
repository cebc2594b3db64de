"""Patchify order and the fixed 2-D sin-cos positions, against values computed by hand."""
import math
import unittest

import _path  # noqa: F401
import torch

from configs import BackboneConfig
from layers import patchify, sincos_2d
from terramind import PixelEmbedding


class PatchifyOrder(unittest.TestCase):
    def test_pixel_major_channel_minor(self):
        c, size, p = 3, 32, 16
        # value = c*10000 + row*100 + col: every element says where it came from
        rows = torch.arange(size).view(1, 1, size, 1).float()
        cols = torch.arange(size).view(1, 1, 1, size).float()
        x = torch.arange(c).view(1, c, 1, 1).float() * 10000 + rows * 100 + cols
        out = patchify(x, p)
        self.assertEqual(tuple(out.shape), (1, 4, p * p * c))
        # patch n=3 is (row 1, col 1) in raster order; element (ph=2, pw=5, ch=1) sits at (2*16+5)*3+1
        self.assertEqual(out[0, 3, (2 * 16 + 5) * 3 + 1].item(), 1 * 10000 + (16 + 2) * 100 + (16 + 5))
        # patch n=1 is (row 0, col 1); first element = channel 0 at (0, 16)
        self.assertEqual(out[0, 1, 0].item(), 16)
        self.assertEqual(out[0, 1, 1].item(), 10000 + 16)

    def test_embedding_uses_that_order(self):
        emb = PixelEmbedding(2, 8)
        with torch.no_grad():
            emb.proj.weight.zero_()
            emb.proj.weight[0, (1 * 16 + 0) * 2 + 1] = 1.0  # picks channel 1 at (ph=1, pw=0)
            emb.pos_emb.zero_()
        x = torch.zeros(1, 2, 224, 224)
        x[0, 1, 14 * 0 + 1, 16 * 2 + 0] = 7.0  # patch (row 0, col 2), pixel (1, 0), channel 1
        tokens, _ = emb(x)
        self.assertEqual(tokens[0, 2, 0].item(), 7.0)
        self.assertEqual(tokens[0, :, 0].abs().sum().item(), 7.0)


class SinCos(unittest.TestCase):
    def test_hand_computed(self):
        pos = sincos_2d(14, 14, 8)
        self.assertEqual(tuple(pos.shape), (196, 8))
        r, c = 2, 3
        w = [1.0, 1.0 / 100.0]  # 10000 ** (-k / 2) for k = 0, 1
        expected = [math.sin(r * w[0]), math.sin(r * w[1]), math.cos(r * w[0]), math.cos(r * w[1]),
                    math.sin(c * w[0]), math.sin(c * w[1]), math.cos(c * w[0]), math.cos(c * w[1])]
        got = pos[r * 14 + c].tolist()
        for g, e in zip(got, expected):
            self.assertAlmostEqual(g, e, places=6)

    def test_first_half_encodes_row(self):
        pos = sincos_2d(14, 14, 16)
        # same row, different column: first half identical
        self.assertTrue(torch.equal(pos[5 * 14 + 1, :8], pos[5 * 14 + 9, :8]))
        self.assertFalse(torch.equal(pos[5 * 14 + 1, 8:], pos[5 * 14 + 9, 8:]))


class Mlp(unittest.TestCase):
    def test_gated_hidden_width(self):
        from terramind import make_mlp
        self.assertEqual(make_mlp(BackboneConfig(768, 12, 1, 1, True)).fc1.out_features, 2048)
        self.assertEqual(make_mlp(BackboneConfig(1024, 16, 1, 1, True)).fc1.out_features, 2730)


if __name__ == '__main__':
    unittest.main()
