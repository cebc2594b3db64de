"""Sizes, modality tables and standardization constants of TerraMind v1 (facts from terramind-reference.md)."""
from dataclasses import dataclass, field
from typing import Dict, List, Tuple


@dataclass(frozen=True)
class BackboneConfig:
    dim: int
    heads: int
    encoder_depth: int
    decoder_depth: int
    gated: bool  # base/large: SwiGLU without biases; tiny/small: GELU MLP with biases


@dataclass(frozen=True)
class VitConfig:
    dim: int = 768
    depth: int = 12
    heads: int = 12
    mlp_ratio: int = 4
    patch: int = 16
    pos_grid: int = 16  # positions built for 256 px, resized to the 14x14 grid at 224


@dataclass(frozen=True)
class UNetConfig:
    model_channels: int = 256
    num_res_blocks: int = 3
    attention_resolutions: Tuple[int, ...] = (4, 8)
    channel_mult: Tuple[int, ...] = (1, 2, 2, 2)
    groups: int = 32
    patch: int = 4


@dataclass(frozen=True)
class SizeConfig:
    name: str
    backbone: BackboneConfig
    vit: VitConfig
    unet: UNetConfig
    divae_levels: Tuple[int, ...]
    lulc_levels: Tuple[int, ...]


OFFICIAL_TOKENIZERS = dict(vit=VitConfig(), unet=UNetConfig(), divae_levels=(8, 8, 8, 6, 5), lulc_levels=(7, 5, 5, 5, 5))

SIZES: Dict[str, SizeConfig] = {
    'tiny': SizeConfig('tiny', BackboneConfig(192, 3, 12, 4, False), **OFFICIAL_TOKENIZERS),
    'small': SizeConfig('small', BackboneConfig(384, 6, 12, 6, False), **OFFICIAL_TOKENIZERS),
    'base': SizeConfig('base', BackboneConfig(768, 12, 12, 12, True), **OFFICIAL_TOKENIZERS),
    'large': SizeConfig('large', BackboneConfig(1024, 16, 24, 24, True), **OFFICIAL_TOKENIZERS),
    # Same architecture with tiny widths: the committed package must stay a few MB and run in CI in seconds.
    'test': SizeConfig(
        'test', BackboneConfig(32, 2, 2, 2, False),
        vit=VitConfig(dim=32, depth=1, heads=2),
        unet=UNetConfig(model_channels=8, num_res_blocks=1, groups=4),
        divae_levels=(4, 4, 3, 3, 2), lulc_levels=(5, 3, 3, 3, 2)),
}


@dataclass(frozen=True)
class Modality:
    name: str
    bands: List[str]
    mean: List[float]
    std: List[float]
    input_key: str = ''          # encoder embedding key ('' = not an input)
    input_kind: str = 'pixel'    # 'pixel' or 'token'
    output_key: str = ''         # decoder embedding key ('' = not an output)
    tokenizer: str = ''          # 'divae' | 'vqvae' for outputs and token inputs
    tokenizer_file: str = ''
    classes: int = 0


S2L2A_BANDS = ['B01', 'B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08', 'B8A', 'B09', 'B11', 'B12']
S2L1C_BANDS = ['B01', 'B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08', 'B8A', 'B09', 'B10', 'B11', 'B12']

MODALITIES: Dict[str, Modality] = {m.name: m for m in [
    Modality('S2L2A', S2L2A_BANDS,
             [1390.458, 1503.317, 1718.197, 1853.91, 2199.1, 2779.975, 2987.011, 3083.234, 3132.22, 3162.988, 2424.884, 1857.648],
             [2106.761, 2141.107, 2038.973, 2134.138, 2085.321, 1889.926, 1820.257, 1871.918, 1753.829, 1797.379, 1434.261, 1334.311],
             input_key='untok_sen2l2a@224', output_key='tok_sen2l2a@224', tokenizer='divae', tokenizer_file='TerraMind_Tokenizer_S2L2A.pt'),
    Modality('S2L1C', S2L1C_BANDS,
             [2357.089, 2137.385, 2018.788, 2082.986, 2295.651, 2854.537, 3122.849, 3040.56, 3306.481, 1473.847, 506.07, 2472.825, 1838.929],
             [1624.683, 1675.806, 1557.708, 1833.702, 1823.738, 1733.977, 1732.131, 1679.732, 1727.26, 1024.687, 442.165, 1331.411, 1160.419],
             input_key='untok_sen2l1c@224'),
    Modality('S2RGB', ['red', 'green', 'blue'], [87.271, 80.931, 66.667], [58.767, 47.663, 42.631], input_key='untok_sen2rgb@224'),
    Modality('S1GRD', ['vv', 'vh'], [-12.599, -20.293], [5.195, 5.890],
             input_key='untok_sen1grd@224', output_key='tok_sen1grd@224', tokenizer='divae', tokenizer_file='TerraMind_Tokenizer_S1GRD.pt'),
    Modality('S1RTC', ['vv', 'vh'], [-10.93, -17.329], [4.391, 4.459],
             input_key='untok_sen1rtc@224', output_key='tok_sen1rtc@224', tokenizer='divae', tokenizer_file='TerraMind_Tokenizer_S1RTC.pt'),
    Modality('DEM', ['elevation'], [670.665], [951.272],
             input_key='untok_dem@224', output_key='tok_dem@224', tokenizer='divae', tokenizer_file='TerraMind_Tokenizer_DEM.pt'),
    Modality('LULC', ['class'], [0.0], [1.0], input_key='tok_lulc@224', input_kind='token',
             output_key='tok_lulc@224', tokenizer='vqvae', tokenizer_file='TerraMind_Tokenizer_LULC.pt', classes=10),
    Modality('NDVI', ['ndvi'], [0.327], [0.322], input_key='tok_ndvi@224', input_kind='token',
             output_key='tok_ndvi@224', tokenizer='divae', tokenizer_file='TerraMind_Tokenizer_NDVI.pt'),
]}


def channels(m: Modality) -> int:
    """Channels the tokenizer sees: LULC is one-hot over its classes inside the tokenizer encoder."""
    return m.classes if m.classes else len(m.bands)


def vocab(levels) -> int:
    v = 1
    for l in levels:
        v *= l
    return v


def levels_for(size: SizeConfig, m: Modality):
    return size.lulc_levels if m.tokenizer == 'vqvae' else size.divae_levels


DIFFUSION = {
    'numTrainTimesteps': 1000, 'betaStart': 0.0001, 'betaEnd': 0.02, 'betaSchedule': 'linear',
    'zeroTerminalSnr': True, 'predictionType': 'sample', 'timestepSpacing': 'trailing', 'clipSample': 1.0,
}
DEFAULTS = {'timesteps': 10, 'temperature': 1.0, 'topP': 0.8, 'topK': 0}
