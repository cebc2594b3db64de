"""Export a TerraMind v1 model package (docs/model-package.md) from PyTorch to ONNX.

  official: export.py --checkpoint-dir DIR --size base --out DIR [--fp16]
  random:   export.py --random --config test|tiny|small|base|large --seed 0 --out DIR [--fp16]
  fp16 copy of an exported fp32 package (same bytes as exporting with --fp16, in seconds instead of minutes):
            export.py --from-package DIR --fp16 --out DIR
"""
import argparse
import hashlib
import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from build import INPUTS, OUTPUTS, TOKEN_INPUTS, build_all  # noqa: E402
from configs import DEFAULTS, DIFFUSION, MODALITIES, SIZES, channels, levels_for, vocab  # noqa: E402
from graphs import (DecoderGraph, EmbedGraph, EncoderGraph, HeadGraph, LulcDecoderGraph,  # noqa: E402
                    TokenizerEncoderGraph, UNetGraph)
from onnx_tools import finalize_onnx  # noqa: E402

OPSET = 17
# Bump when the bytes of any output change (the runtime keys caches on name + version).
PACKAGE_VERSION = '1.1.0'
IMG = 224
TOKENS = 196
BACKBONE_FILE = 'TerraMind_v1_{size}.pt'


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def require_checkpoints(size_name, ckpt_dir, tokenizer_names):
    needed = [BACKBONE_FILE.format(size=size_name)] + [MODALITIES[n].tokenizer_file for n in sorted(tokenizer_names)]
    missing = [f for f in needed if not os.path.isfile(os.path.join(ckpt_dir, f))]
    if missing:
        raise SystemExit(f'missing checkpoint files in {ckpt_dir}: {", ".join(missing)} (see docs/exporting.md)')


def load_official(size_name, ckpt_dir, backbone, tokenizers):
    """Load the plain state dicts; keys of modalities we do not export (coords, captions...) are dropped."""
    records = []
    require_checkpoints(size_name, ckpt_dir, tokenizers)
    path = os.path.join(ckpt_dir, BACKBONE_FILE.format(size=size_name))
    sd = torch.load(path, map_location='cpu')
    sd = {k[len('sampler.model.'):] if k.startswith('sampler.model.') else k: v for k, v in sd.items()}
    ours = backbone.state_dict()
    dropped = sorted(k for k in sd if k not in ours)
    backbone.load_state_dict({k: v for k, v in sd.items() if k in ours}, strict=True)
    records.append({'file': os.path.basename(path), 'sha256': sha256_file(path)})
    if dropped:
        print(f'note: {len(dropped)} checkpoint keys of modalities not exported were skipped, e.g. {dropped[:3]}')
    for name, tok in tokenizers.items():
        path = os.path.join(ckpt_dir, MODALITIES[name].tokenizer_file)
        tok.load_state_dict(torch.load(path, map_location='cpu'), strict=True)
        records.append({'file': os.path.basename(path), 'sha256': sha256_file(path)})
    return records


def export_graph(module, args, path, input_names, output_names, dynamic_axes, fp16):
    module.eval()
    with torch.no_grad():
        torch.onnx.export(module, args, path, opset_version=OPSET, input_names=input_names,
                          output_names=output_names, dynamic_axes=dynamic_axes, do_constant_folding=True)
    finalize_onnx(path, fp16)


def batch_axes(names):
    return {n: {0: 'B'} for n in names}


def export_package(size_name, out, backbone, tokenizers, fp16, weights, seed, checkpoints):
    os.makedirs(out, exist_ok=True)
    size = SIZES[size_name]
    d = size.backbone.dim
    b = 2  # trace with batch 2 so no batch-1 specialisation sneaks in
    manifest_mods = {}
    for name in INPUTS + [o for o in OUTPUTS if o not in INPUTS]:
        m = MODALITIES[name]
        entry = {'bands': list(m.bands), 'mean': list(m.mean), 'std': list(m.std)}
        if m.classes:
            entry['classes'] = m.classes
        manifest_mods[name] = entry
        if name in INPUTS:
            emb = backbone.encoder_embeddings[m.input_key]
            f = f'embed_{name}.onnx'
            if m.input_kind == 'pixel':
                x = torch.randn(b, len(m.bands), IMG, IMG)
                export_graph(EmbedGraph(emb), (x,), os.path.join(out, f), ['pixels'], ['tokens', 'emb'],
                             batch_axes(['pixels', 'tokens', 'emb']), fp16)
                entry['input'] = {'embed': f}
            else:
                ids = torch.randint(0, vocab(levels_for(size, m)), (b, TOKENS))
                export_graph(EmbedGraph(emb), (ids,), os.path.join(out, f), ['ids'], ['tokens', 'emb'],
                             batch_axes(['ids', 'tokens', 'emb']), fp16)
                tf = f'tokenizer_encoder_{name}.onnx'
                img = torch.randint(0, m.classes, (b, 1, IMG, IMG)).float() if m.classes else torch.randn(b, channels(m), IMG, IMG)
                export_graph(TokenizerEncoderGraph(tokenizers[name]), (img,), os.path.join(out, tf), ['image'], ['ids'],
                             batch_axes(['image', 'ids']), fp16)
                entry['input'] = {'embed': f, 'tokenizerEncoder': tf}
        if name in OUTPUTS:
            oe = backbone.decoder_embeddings[m.output_key]
            levels = list(levels_for(size, m))
            q = oe.queries(backbone.mask_token).detach()[0].contiguous().numpy().astype('<f4')
            qf = f'queries_{name}.bin'
            q.tofile(os.path.join(out, qf))
            hf = f'head_{name}.onnx'
            export_graph(HeadGraph(oe), (torch.randn(b, TOKENS, d),), os.path.join(out, hf), ['hidden'], ['logits'],
                         batch_axes(['hidden', 'logits']), fp16)
            code = torch.rand(b, len(levels), 14, 14)
            if m.tokenizer == 'divae':
                uf = f'unet_{name}.onnx'
                x = torch.randn(b, len(m.bands), IMG, IMG)
                t = torch.tensor([999, 99][:b], dtype=torch.int64)
                export_graph(UNetGraph(tokenizers[name]), (x, t, code), os.path.join(out, uf), ['x', 't', 'code'], ['x0'],
                             batch_axes(['x', 't', 'code', 'x0']), fp16)
                tok = {'kind': 'divae', 'fsqLevels': levels, 'unet': uf}
            else:
                df = f'decoder_{name}.onnx'
                export_graph(LulcDecoderGraph(tokenizers[name]), (code,), os.path.join(out, df), ['code'], ['logits'],
                             batch_axes(['code', 'logits']), fp16)
                tok = {'kind': 'vqvae', 'fsqLevels': levels, 'decoder': df}
            entry['output'] = {'queries': qf, 'head': hf, 'vocabSize': vocab(levels), 'tokenizer': tok}

    n = 2 * TOKENS  # trace with two inputs' worth of tokens; N stays symbolic
    export_graph(EncoderGraph(backbone), (torch.randn(b, n, d), torch.randn(b, n, d)), os.path.join(out, 'encoder.onnx'),
                 ['tokens', 'emb'], ['context'],
                 {'tokens': {0: 'B', 1: 'N'}, 'emb': {0: 'B', 1: 'N'}, 'context': {0: 'B', 1: 'N'}}, fp16)
    export_graph(DecoderGraph(backbone), (torch.randn(b, n, d), torch.randn(b, TOKENS, d)), os.path.join(out, 'decoder.onnx'),
                 ['context', 'queries'], ['hidden'],
                 {'context': {0: 'B', 1: 'N'}, 'queries': {0: 'B'}, 'hidden': {0: 'B'}}, fp16)

    cfg = size.backbone
    manifest = {
        'schemaVersion': 1,
        'name': f'terramind-v1-{size_name}-{weights}' + ('-fp16' if fp16 else ''),
        'version': PACKAGE_VERSION,
        'size': size_name,
        'weights': weights,
        'precision': 'fp16' if fp16 else 'fp32',
        'source': ({'seed': seed} if seed is not None else {}) | {'checkpoints': checkpoints},
        'architecture': {'dim': cfg.dim, 'heads': cfg.heads, 'encoderDepth': cfg.encoder_depth,
                         'decoderDepth': cfg.decoder_depth, 'mlp': 'gated-silu' if cfg.gated else 'gelu'},
        'imageSize': IMG, 'patchSize': 16, 'tokenGrid': [14, 14],
        'encoder': 'encoder.onnx', 'decoder': 'decoder.onnx',
        'modalities': manifest_mods,
        'diffusion': dict(DIFFUSION),
        'defaults': dict(DEFAULTS),
    }
    with open(os.path.join(out, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')
    return manifest


def fp16_copy(src, out):
    """Writes a float16-storage copy of the fp32 package `src` to `out`.

    --fp16 only post-processes each exported graph (finalize_onnx), so doing that to the graphs of an fp32 export
    gives the files a --fp16 export would have written; query tables are float32 in both and are copied as they are.
    """
    with open(os.path.join(src, 'manifest.json')) as f:
        manifest = json.load(f)
    if manifest.get('precision') != 'fp32':
        raise SystemExit(f'{src} is not an fp32 package (precision {manifest.get("precision")!r})')
    if os.path.abspath(src) == os.path.abspath(out):
        raise SystemExit('--out must be another folder than --from-package')
    os.makedirs(out, exist_ok=True)
    for name in sorted(os.listdir(src)):
        if name != 'manifest.json':
            shutil.copyfile(os.path.join(src, name), os.path.join(out, name))
    for name in sorted(os.listdir(out)):
        if name.endswith('.onnx'):
            finalize_onnx(os.path.join(out, name), True)
    manifest['name'] += '-fp16'
    manifest['precision'] = 'fp16'
    with open(os.path.join(out, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')
    return manifest


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument('--checkpoint-dir', help='folder with TerraMind_v1_<size>.pt and TerraMind_Tokenizer_<MOD>.pt')
    src.add_argument('--random', action='store_true', help='seeded random weights (tests, benchmarks)')
    src.add_argument('--from-package', help='an exported fp32 package to copy with float16 storage (needs --fp16)')
    ap.add_argument('--size', choices=sorted(SIZES), help='checkpoint size (tiny, small, base, large)')
    ap.add_argument('--config', choices=sorted(SIZES), help='size config for --random')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--fp16', action='store_true', help='store weights as float16 (edges stay float32)')
    ap.add_argument('--out', required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    start = time.time()
    if args.from_package:
        if not args.fp16:
            ap.error('--from-package needs --fp16 (it converts an fp32 package)')
        fp16_copy(args.from_package, args.out)
        return report(args.out, start)
    if args.random:
        if not args.config:
            ap.error('--random needs --config')
        size_name, seed = args.config, args.seed
        backbone, toks = build_all(SIZES[size_name], seed=seed)
        checkpoints, weights = [], 'random'
    else:
        if not args.size:
            ap.error('--checkpoint-dir needs --size')
        size_name, seed = args.size, None
        require_checkpoints(size_name, args.checkpoint_dir, set(OUTPUTS) | set(TOKEN_INPUTS))  # before minutes of building
        backbone, toks = build_all(SIZES[size_name])
        checkpoints, weights = load_official(size_name, args.checkpoint_dir, backbone, toks), 'official'
    backbone.eval()
    for t in toks.values():
        t.eval()
    export_package(size_name, args.out, backbone, toks, args.fp16, weights, seed, checkpoints)
    report(args.out, start)


def report(out, start):
    total = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    print(json.dumps({'out': out, 'bytes': total, 'seconds': round(time.time() - start, 1)}))


if __name__ == '__main__':
    main()
