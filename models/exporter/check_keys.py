"""Compare our modules' state-dict keys and shapes with the reference layouts in terramind-state-dicts/.

Usage: /usr/bin/python3 check_keys.py [--dir tests/layouts]  (exit 1 on any mismatch)
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from build import build_backbone, build_tokenizer, skip_init  # noqa: E402
from configs import MODALITIES, SIZES  # noqa: E402

DEFAULT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'tests', 'layouts')
# The layout files were produced for S2L2A input and these outputs.
LAYOUT_INPUTS = ['S2L2A']
LAYOUT_OUTPUTS = ['LULC', 'DEM', 'S1GRD', 'NDVI']
TOKENIZER_FILES = {'LULC': 'tok_lulc', 'DEM': 'tok_dem', 'NDVI': 'tok_ndvi', 'S1GRD': 'tok_sen1grd'}


def read_layout(path):
    out = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                key, shape, _dtype = line.rstrip('\n').split('\t')
                out[key] = [int(s) for s in shape.strip('[]').split(',') if s.strip()]
    return out


def diff(module, expected):
    got = {k: list(v.shape) for k, v in module.state_dict().items()}
    problems = [f'missing {k}' for k in expected if k not in got]
    problems += [f'unexpected {k}' for k in got if k not in expected]
    problems += [f'shape {k}: ours {got[k]} ref {expected[k]}' for k in got if k in expected and got[k] != expected[k]]
    return problems


def check_backbone(size, layout_dir=DEFAULT_DIR):
    path = os.path.join(layout_dir, f'keys_terramind_v1_{size}_encdec.txt')
    with skip_init():
        model = build_backbone(SIZES[size], LAYOUT_INPUTS, LAYOUT_OUTPUTS)
    return diff(model, read_layout(path))


def check_tokenizer(modality, layout_dir=DEFAULT_DIR):
    path = os.path.join(layout_dir, f'keys_tokenizer_{TOKENIZER_FILES[modality]}.txt')
    # Official widths (base size carries the official tokenizer configuration).
    with skip_init():
        module = build_tokenizer(SIZES['base'], MODALITIES[modality])
    return diff(module, read_layout(path))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dir', default=DEFAULT_DIR)
    args = ap.parse_args()
    failed = False
    for size in ('tiny', 'base', 'large'):
        p = check_backbone(size, args.dir)
        print(f'backbone {size}: ' + ('exact match' if not p else f'{len(p)} problems: ' + '; '.join(p[:10])))
        failed |= bool(p)
    for mod in TOKENIZER_FILES:
        p = check_tokenizer(mod, args.dir)
        print(f'tokenizer {mod}: ' + ('exact match' if not p else f'{len(p)} problems: ' + '; '.join(p[:10])))
        failed |= bool(p)
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
