"""TerraMind v1 encoder-decoder, named so that its state dict matches TerraMind_v1_<size>.pt."""
from typing import Dict, List

import torch
import torch.nn as nn

from configs import BackboneConfig
from layers import (BiaslessLayerNorm, CrossAttention, GatedMlp, Mlp, SelfAttention, init_weights, patchify,
                    sincos_2d)

GRID = 14
PATCH = 16


def make_mlp(cfg: BackboneConfig) -> nn.Module:
    if cfg.gated:
        return GatedMlp(cfg.dim, int(2 * 4 * cfg.dim / 3), bias=False)
    return Mlp(cfg.dim, 4 * cfg.dim, bias=True)


class EncoderBlock(nn.Module):
    def __init__(self, cfg: BackboneConfig):
        super().__init__()
        bias = not cfg.gated
        self.norm1 = BiaslessLayerNorm(cfg.dim)
        self.attn = SelfAttention(cfg.dim, cfg.heads, bias)
        self.norm2 = BiaslessLayerNorm(cfg.dim)
        self.mlp = make_mlp(cfg)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class DecoderBlock(nn.Module):
    def __init__(self, cfg: BackboneConfig):
        super().__init__()
        bias = not cfg.gated
        self.norm1 = BiaslessLayerNorm(cfg.dim)
        self.self_attn = SelfAttention(cfg.dim, cfg.heads, bias)
        self.query_norm = BiaslessLayerNorm(cfg.dim)
        self.context_norm = BiaslessLayerNorm(cfg.dim)
        self.cross_attn = CrossAttention(cfg.dim, cfg.heads, bias)
        self.norm2 = BiaslessLayerNorm(cfg.dim)
        self.mlp = make_mlp(cfg)

    def forward(self, x, context):
        x = x + self.self_attn(self.norm1(x))
        x = x + self.cross_attn(self.query_norm(x), self.context_norm(context))
        return x + self.mlp(self.norm2(x))


class _Positions(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.mod_emb = nn.Parameter(torch.zeros(1, 1, dim))
        self.register_buffer('pos_emb', sincos_2d(GRID, GRID, dim)[None])

    def emb(self, batch: int):
        return (self.pos_emb + self.mod_emb).expand(batch, -1, -1)


class PixelEmbedding(_Positions):
    """Patchify (pixel-major, channel-minor) -> Linear without bias, plus pos + modality embedding."""

    def __init__(self, channels: int, dim: int):
        super().__init__(dim)
        self.proj = nn.Linear(channels * PATCH * PATCH, dim, bias=False)

    def forward(self, pixels):
        emb = self.emb(pixels.shape[0])
        return self.proj(patchify(pixels, PATCH)) + emb, emb


class TokenEmbedding(_Positions):
    """Tokenizer ids -> embedding table, plus pos + modality embedding."""

    def __init__(self, vocab: int, dim: int):
        super().__init__(dim)
        self.token_emb = nn.Embedding(vocab, dim)

    def forward(self, ids):
        emb = self.emb(ids.shape[0])
        return self.token_emb(ids) + emb, emb


class OutputEmbedding(_Positions):
    """Decoder side of an output modality: its query positions and a logits head tied to token_emb."""

    def __init__(self, vocab: int, dim: int):
        super().__init__(dim)
        self.token_emb = nn.Embedding(vocab, dim)
        self.to_logits = nn.Linear(dim, vocab, bias=False)
        self.to_logits.weight = self.token_emb.weight

    def queries(self, mask_token):
        return mask_token + self.pos_emb + self.mod_emb  # [1,196,D]

    def forward(self, hidden):
        return self.to_logits(hidden)


class TerraMind(nn.Module):
    def __init__(self, cfg: BackboneConfig, pixel_inputs: Dict[str, int], token_inputs: Dict[str, int],
                 outputs: Dict[str, int]):
        """pixel_inputs: key -> channels; token_inputs / outputs: key -> vocab size."""
        super().__init__()
        self.cfg = cfg
        self.encoder_embeddings = nn.ModuleDict()
        for key, ch in pixel_inputs.items():
            self.encoder_embeddings[key] = PixelEmbedding(ch, cfg.dim)
        for key, v in token_inputs.items():
            self.encoder_embeddings[key] = TokenEmbedding(v, cfg.dim)
        self.decoder_embeddings = nn.ModuleDict({k: OutputEmbedding(v, cfg.dim) for k, v in outputs.items()})
        self.encoder = nn.ModuleList([EncoderBlock(cfg) for _ in range(cfg.encoder_depth)])
        self.encoder_norm = BiaslessLayerNorm(cfg.dim)
        self.decoder_proj_context = nn.Linear(cfg.dim, cfg.dim)
        self.decoder = nn.ModuleList([DecoderBlock(cfg) for _ in range(cfg.decoder_depth)])
        self.decoder_norm = BiaslessLayerNorm(cfg.dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))

    def init_random(self):
        init_weights(self)
        for m in list(self.encoder_embeddings.values()) + list(self.decoder_embeddings.values()):
            nn.init.normal_(m.mod_emb, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)

    def encode(self, tokens, emb):
        x = tokens
        for blk in self.encoder:
            x = blk(x)
        return self.decoder_proj_context(self.encoder_norm(x)) + emb

    def decode(self, context, queries):
        x = queries
        for blk in self.decoder:
            x = blk(x, context)
        return self.decoder_norm(x)

    def embed_inputs(self, inputs: Dict[str, torch.Tensor]):
        """inputs: key -> pixels [B,C,224,224] or ids [B,196]; returns concatenated (tokens, emb)."""
        toks: List[torch.Tensor] = []
        embs: List[torch.Tensor] = []
        for key, x in inputs.items():
            t, e = self.encoder_embeddings[key](x)
            toks.append(t)
            embs.append(e)
        return torch.cat(toks, 1), torch.cat(embs, 1)

    def logits(self, context, key: str):
        q = self.decoder_embeddings[key].queries(self.mask_token).expand(context.shape[0], -1, -1)
        return self.decoder_embeddings[key](self.decode(context, q))
