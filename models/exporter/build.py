"""Construct the PyTorch modules of a package for a size config, for a chosen set of modalities."""
import contextlib
from typing import Iterable

import torch

from configs import MODALITIES, Modality, SizeConfig, channels, levels_for, vocab
from terramind import TerraMind
from tokenizer_modules import DiVAE, VQVAE

INPUTS = ['S2L2A', 'S2L1C', 'S2RGB', 'S1GRD', 'S1RTC', 'DEM', 'LULC', 'NDVI']
OUTPUTS = ['S2L2A', 'S1GRD', 'S1RTC', 'DEM', 'NDVI', 'LULC']
TOKEN_INPUTS = ['LULC', 'NDVI']


def build_backbone(size: SizeConfig, inputs: Iterable[str] = INPUTS, outputs: Iterable[str] = OUTPUTS) -> TerraMind:
    pixel, token, out = {}, {}, {}
    for name in inputs:
        m = MODALITIES[name]
        if m.input_kind == 'pixel':
            pixel[m.input_key] = len(m.bands)
        else:
            token[m.input_key] = vocab(levels_for(size, m))
    for name in outputs:
        m = MODALITIES[name]
        out[m.output_key] = vocab(levels_for(size, m))
    return TerraMind(size.backbone, pixel, token, out)


def build_tokenizer(size: SizeConfig, m: Modality):
    if m.tokenizer == 'vqvae':
        return VQVAE(size.vit, channels(m), size.lulc_levels)
    return DiVAE(size.vit, size.unet, channels(m), size.divae_levels)


def build_all(size: SizeConfig, seed=None):
    """Backbone plus one tokenizer per modality that needs one; random init when seed is given."""
    if seed is not None:
        torch.manual_seed(seed)
    backbone = build_backbone(size)
    if seed is not None:
        backbone.init_random()
    toks = {}
    for name in sorted(set(OUTPUTS) | set(TOKEN_INPUTS)):
        toks[name] = build_tokenizer(size, MODALITIES[name])
        if seed is not None:
            toks[name].init_random()
    return backbone, toks


@contextlib.contextmanager
def skip_init():
    """Build modules without initializing weights (layout checks of large sizes in seconds, not minutes)."""
    names = ['uniform_', 'normal_', 'kaiming_uniform_', 'kaiming_normal_', 'trunc_normal_', 'zeros_', 'ones_',
             'xavier_uniform_', 'constant_']
    saved = {n: getattr(torch.nn.init, n) for n in names}
    try:
        for n in names:
            setattr(torch.nn.init, n, lambda t, *a, **k: t)
        yield
    finally:
        for n, f in saved.items():
            setattr(torch.nn.init, n, f)
