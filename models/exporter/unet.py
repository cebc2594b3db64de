"""Patched diffusion UNet of the DiVAE tokenizers (guided-diffusion layout, x0 prediction, code concatenated)."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from configs import UNetConfig


def timestep_embedding(t, dim: int, max_period: float = 10000.0):
    """[B] -> [B,dim] as [cos, sin]."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.to(torch.float32)[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class ResBlock(nn.Module):
    def __init__(self, ch: int, out_ch: int, emb_ch: int, groups: int):
        super().__init__()
        self.in_layers = nn.Sequential(nn.GroupNorm(groups, ch), nn.SiLU(), nn.Conv2d(ch, out_ch, 3, padding=1))
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb_ch, out_ch))
        self.out_layers = nn.Sequential(nn.GroupNorm(groups, out_ch), nn.SiLU(), nn.Dropout(0.0),
                                        nn.Conv2d(out_ch, out_ch, 3, padding=1))
        self.skip_connection = nn.Identity() if ch == out_ch else nn.Conv2d(ch, out_ch, 1)

    def forward(self, x, emb):
        h = self.in_layers(x) + self.emb_layers(emb)[:, :, None, None]
        return self.skip_connection(x) + self.out_layers(h)


class AttentionBlock(nn.Module):
    """Single-head spatial self-attention over H*W positions."""

    def __init__(self, ch: int, groups: int):
        super().__init__()
        self.norm = nn.GroupNorm(groups, ch)
        self.qkv = nn.Conv1d(ch, ch * 3, 1)
        self.proj_out = nn.Conv1d(ch, ch, 1)

    def forward(self, x, emb=None):
        b, c, h, w = x.shape
        flat = x.reshape(b, c, h * w)
        q, k, v = self.qkv(self.norm(flat.reshape(b, c, h, w)).reshape(b, c, h * w)).split(c, dim=1)
        scale = 1.0 / math.sqrt(math.sqrt(c))
        weight = torch.softmax((q * scale).transpose(1, 2) @ (k * scale), dim=-1)  # [b, t, s]
        a = v @ weight.transpose(1, 2)  # [b, c, t]
        return (flat + self.proj_out(a)).reshape(b, c, h, w)


class Downsample(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.op = nn.Conv2d(ch, ch, 3, stride=2, padding=1)

    def forward(self, x, emb=None):
        return self.op(x)


class Upsample(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x, emb=None):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode='nearest'))


class Stage(nn.Sequential):
    """One entry of input_blocks/middle_block/output_blocks: layers that all take (x, emb)."""

    def forward(self, x, emb):
        for layer in self:
            x = layer(x, emb) if isinstance(layer, (ResBlock, AttentionBlock, Downsample, Upsample)) else layer(x)
        return x


class PatchedUNet(nn.Module):
    def __init__(self, cfg: UNetConfig, channels: int, code_channels: int):
        super().__init__()
        self.cfg = cfg
        self.channels = channels
        p2 = cfg.patch * cfg.patch
        mc, g = cfg.model_channels, cfg.groups
        emb_ch = mc * 4
        self.time_embed = nn.Sequential(nn.Linear(mc, emb_ch), nn.SiLU(), nn.Linear(emb_ch, emb_ch))
        self.input_blocks = nn.ModuleList([Stage(nn.Conv2d(channels * p2 + code_channels, mc, 3, padding=1))])
        skips = [mc]
        ch, ds = mc, 1
        for level, mult in enumerate(cfg.channel_mult):
            for _ in range(cfg.num_res_blocks):
                layers = [ResBlock(ch, mult * mc, emb_ch, g)]
                ch = mult * mc
                if ds in cfg.attention_resolutions:
                    layers.append(AttentionBlock(ch, g))
                self.input_blocks.append(Stage(*layers))
                skips.append(ch)
            if level != len(cfg.channel_mult) - 1:
                self.input_blocks.append(Stage(Downsample(ch)))
                skips.append(ch)
                ds *= 2
        self.middle_block = Stage(ResBlock(ch, ch, emb_ch, g), AttentionBlock(ch, g), ResBlock(ch, ch, emb_ch, g))
        self.output_blocks = nn.ModuleList()
        for level, mult in list(enumerate(cfg.channel_mult))[::-1]:
            for i in range(cfg.num_res_blocks + 1):
                layers = [ResBlock(ch + skips.pop(), mc * mult, emb_ch, g)]
                ch = mc * mult
                if ds in cfg.attention_resolutions:
                    layers.append(AttentionBlock(ch, g))
                if level and i == cfg.num_res_blocks:
                    layers.append(Upsample(ch))
                    ds //= 2
                self.output_blocks.append(Stage(*layers))
        self.out = nn.Sequential(nn.GroupNorm(g, ch), nn.SiLU(), nn.Conv2d(mc, channels * p2, 3, padding=1))

    def forward(self, x, t, code):
        """x [B,C,H,W] noisy sample, t [B] int64, code [B,F,h,w] in [0,1] -> x0 prediction [B,C,H,W]."""
        b, c, hh, ww = x.shape
        p = self.cfg.patch
        # b c (nh ph) (nw pw) -> b (c ph pw) nh nw
        h = x.reshape(b, c, hh // p, p, ww // p, p).permute(0, 1, 3, 5, 2, 4).reshape(b, c * p * p, hh // p, ww // p)
        cond = F.interpolate(code, size=(hh // p, ww // p), mode='nearest')
        h = torch.cat([h, cond], dim=1)
        # the sinusoidal embedding is model_channels wide (256 in the official tokenizers)
        emb = self.time_embed(timestep_embedding(t, self.cfg.model_channels))
        hs = []
        for blk in self.input_blocks:
            h = blk(h, emb)
            hs.append(h)
        h = self.middle_block(h, emb)
        for blk in self.output_blocks:
            h = blk(torch.cat([h, hs.pop()], dim=1), emb)
        h = self.out(h)
        # inverse patchify
        h = h.reshape(b, c, p, p, hh // p, ww // p).permute(0, 1, 4, 2, 5, 3)
        return h.reshape(b, c, hh, ww)
