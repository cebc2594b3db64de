"""TerraMind v1 tokenizers: ViT encoder + FSQ (all), diffusion UNet decoder (DiVAE), ViT decoder (LULC VQVAE).

Parameter names follow TerraMind_Tokenizer_<MOD>.pt so the official files load with strict=True.
"""
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from configs import UNetConfig, VitConfig
from layers import Mlp, SelfAttention, init_weights, sincos_2d
from unet import PatchedUNet

GRID = 14


class VitBlock(nn.Module):
    def __init__(self, cfg: VitConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.attn = SelfAttention(cfg.dim, cfg.heads, bias=True)
        self.norm2 = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.mlp = Mlp(cfg.dim, cfg.dim * cfg.mlp_ratio)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class _VitTrunk(nn.Module):
    """Positions built for a 16x16 grid (256 px), bicubic-resized to the 14x14 grid of a 224 px tile."""

    def __init__(self, cfg: VitConfig):
        super().__init__()
        g = cfg.pos_grid
        pos = sincos_2d(g, g, cfg.dim).t().reshape(1, cfg.dim, g, g)
        self.pos_emb = nn.Parameter(pos, requires_grad=False)
        self.blocks = nn.ModuleList([VitBlock(cfg) for _ in range(cfg.depth)])
        self.norm_mlp = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.post_mlp = Mlp(cfg.dim, cfg.dim * cfg.mlp_ratio, act=nn.Tanh)

    def positions(self):
        """[1, 196, dim]; a constant at export time."""
        pos = F.interpolate(self.pos_emb, size=(GRID, GRID), mode='bicubic', align_corners=False)
        return pos.flatten(2).transpose(1, 2)

    def trunk(self, x, pos):
        x = x + pos
        for blk in self.blocks:
            x = blk(x)
        return x + self.post_mlp(self.norm_mlp(x))


class VitEncoder(_VitTrunk):
    def __init__(self, cfg: VitConfig, in_channels: int):
        super().__init__(cfg)
        self.proj = nn.Conv2d(in_channels, cfg.dim, cfg.patch, cfg.patch)

    def forward(self, image, pos=None):
        x = self.proj(image).flatten(2).transpose(1, 2)
        x = self.trunk(x, self.positions() if pos is None else pos)
        b, n, c = x.shape
        return x.transpose(1, 2).reshape(b, c, GRID, GRID)


class VitDecoder(_VitTrunk):
    def __init__(self, cfg: VitConfig, out_channels: int):
        super().__init__(cfg)
        self.out_channels = out_channels
        self.patch = cfg.patch
        self.out_proj = nn.Linear(cfg.dim, out_channels * cfg.patch * cfg.patch)

    def forward(self, x, pos=None):
        """x [B,dim,14,14] -> [B,out,224,224]; each patch vector is channel-major (c ph pw)."""
        x = self.trunk(x.flatten(2).transpose(1, 2), self.positions() if pos is None else pos)
        x = self.out_proj(x)
        b, p, c = x.shape[0], self.patch, self.out_channels
        x = x.reshape(b, GRID, GRID, c, p, p).permute(0, 3, 1, 4, 2, 5)
        return x.reshape(b, c, GRID * p, GRID * p)


class FSQ:
    """Finite scalar quantization: per-dimension levels, code in [0,1], little-endian mixed-radix index."""

    def __init__(self, levels: Sequence[int]):
        self.levels = list(levels)
        basis = [1]
        for l in self.levels[:-1]:
            basis.append(basis[-1] * l)
        self.basis = basis

    def numbers(self, z):
        """z [B,F,h,w] pre-activation -> integer level per dimension (as float)."""
        lv = torch.tensor(self.levels, dtype=z.dtype, device=z.device).view(1, -1, 1, 1)
        return torch.round(torch.sigmoid(z) * (lv - 1))

    def index_from_numbers(self, n):
        basis = torch.tensor(self.basis, dtype=torch.int64, device=n.device).view(1, -1, 1, 1)
        return (n.to(torch.int64) * basis).sum(1)  # [B,h,w]

    def code_from_index(self, idx):
        """idx [B,h,w] int64 -> code [B,F,h,w] float in [0,1]."""
        basis = torch.tensor(self.basis, dtype=torch.int64, device=idx.device).view(1, -1, 1, 1)
        lv = torch.tensor(self.levels, dtype=torch.int64, device=idx.device).view(1, -1, 1, 1)
        n = torch.div(idx[:, None], basis, rounding_mode='floor') % lv
        return n.to(torch.float32) / (lv - 1).to(torch.float32)

    def index_from_code(self, code):
        lv = torch.tensor(self.levels, dtype=code.dtype, device=code.device).view(1, -1, 1, 1)
        return self.index_from_numbers(torch.round(code * (lv - 1)))


class Tokenizer(nn.Module):
    """Shared encoder half: image -> FSQ ids [B,196] (raster order)."""

    def __init__(self, vit: VitConfig, in_channels: int, levels: Sequence[int], one_hot: bool):
        super().__init__()
        self.one_hot = one_hot
        self.in_channels = in_channels
        self.fsq = FSQ(levels)
        self.encoder = VitEncoder(vit, in_channels)
        self.quant_proj = nn.Conv2d(vit.dim, len(levels), 1)

    def prepare(self, image):
        if self.one_hot:  # class indices as float [B,1,H,W] -> one-hot [B,classes,H,W]
            # truncating cast as the reference's .long(); an index outside 0..classes-1 becomes all zeros
            classes = torch.arange(self.in_channels, dtype=torch.int64, device=image.device).view(1, -1, 1, 1)
            return (image.to(torch.int64) == classes).to(torch.float32)
        return image

    def encode_ids(self, image, pos=None):
        z = self.quant_proj(self.encoder(self.prepare(image), pos))
        return self.fsq.index_from_numbers(self.fsq.numbers(z)).flatten(1)

    def init_random(self):
        init_weights(self)


class DiVAE(Tokenizer):
    def __init__(self, vit: VitConfig, unet: UNetConfig, channels: int, levels: Sequence[int]):
        super().__init__(vit, channels, levels, one_hot=False)
        self.decoder = PatchedUNet(unet, channels, len(levels))


class VQVAE(Tokenizer):
    def __init__(self, vit: VitConfig, classes: int, levels: Sequence[int]):
        super().__init__(vit, classes, levels, one_hot=True)
        self.post_quant_proj = nn.Conv2d(len(levels), vit.dim, 1)
        self.decoder = VitDecoder(vit, classes)

    def decode_code(self, code, pos=None):
        return self.decoder(self.post_quant_proj(code), pos)
