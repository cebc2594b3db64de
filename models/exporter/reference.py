"""Reference runner of docs/model-package.md, on the PyTorch modules a package was exported from.

  reference.py <package-dir> <case-dir>        equivalence case: reads case.json, writes result.json + tensors
  reference.py bench <package-dir> [--repeat N] [--batches 1,8] [--threads N] [--stages a,b] [--linear onednn]
                                               per-stage CPU timings of the torch modules, JSON on stdout;
                                               builds only the timed modules, init skipped (weights do not
                                               change the timing), so base packages start in seconds

Random packages are rebuilt from the seed in their manifest (and checked against the package's query tables);
official packages need --checkpoint-dir (or TERRAMIND_CHECKPOINT_DIR) holding the checkpoints named in the manifest.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from build import build_all  # noqa: E402
from configs import MODALITIES, SIZES  # noqa: E402
from diffusion import DdimSchedule  # noqa: E402

DTYPES = {'float32': np.float32, 'int64': np.int64}


def load_models(pkg_dir, checkpoint_dir=None):
    with open(os.path.join(pkg_dir, 'manifest.json')) as f:
        manifest = json.load(f)
    size = SIZES[manifest['size']]
    if manifest['weights'] == 'random':
        backbone, toks = build_all(size, seed=manifest['source']['seed'])
    else:
        from export import load_official
        ckpt = checkpoint_dir or os.environ.get('TERRAMIND_CHECKPOINT_DIR')
        if not ckpt:
            raise SystemExit('official package: pass --checkpoint-dir or set TERRAMIND_CHECKPOINT_DIR')
        backbone, toks = build_all(size)
        load_official(manifest['size'], ckpt, backbone, toks)
    backbone.eval()
    for t in toks.values():
        t.eval()
    verify_queries(pkg_dir, manifest, backbone)
    return manifest, backbone, toks


def verify_queries(pkg_dir, manifest, backbone):
    """Cheap proof that the rebuilt weights are the package's weights."""
    for name, entry in manifest['modalities'].items():
        if 'output' not in entry:
            continue
        oe = backbone.decoder_embeddings[MODALITIES[name].output_key]
        ours = oe.queries(backbone.mask_token).detach()[0].numpy()
        theirs = np.fromfile(os.path.join(pkg_dir, entry['output']['queries']), dtype='<f4').reshape(ours.shape)
        if not np.allclose(ours, theirs, atol=1e-3 if manifest['precision'] == 'fp16' else 0, rtol=0):
            raise SystemExit(f'rebuilt weights do not match {entry["output"]["queries"]}: wrong seed or torch version?')


def read_tensor(case_dir, spec):
    arr = np.fromfile(os.path.join(case_dir, spec['file']), dtype=np.dtype(DTYPES[spec['dtype']]).newbyteorder('<'))
    return torch.from_numpy(arr.reshape(spec['shape']).astype(DTYPES[spec['dtype']]))


def write_tensor(case_dir, name, t):
    arr = t.detach().cpu().numpy()
    dtype = 'int64' if arr.dtype == np.int64 else 'float32'
    arr.astype('<i8' if dtype == 'int64' else '<f4').tofile(os.path.join(case_dir, name))
    return {'file': name, 'dtype': dtype, 'shape': list(arr.shape)}


@torch.no_grad()
def decode_divae(tok, code, noise, steps, schedule):
    """DDIM 'trailing' loop as IBM's DDIMScheduler.step (terramind-reference.md 3.3): the noise estimate comes from
    the raw UNet prediction, x0 is then clamped to [-clip, clip] and only the clamped x0 enters x_prev; returns the
    final clamped x0."""
    x = noise
    x0 = noise
    for t, a_t, a_prev in schedule.steps(steps):
        tt = torch.full((x.shape[0],), t, dtype=torch.int64)
        x0_raw = tok.decoder(x, tt, code)
        eps = (x - a_t ** 0.5 * x0_raw) / (1.0 - a_t) ** 0.5
        x0 = x0_raw.clamp(-schedule.clip, schedule.clip)
        x = a_prev ** 0.5 * x0 + (1.0 - a_prev) ** 0.5 * eps
    return x0


@torch.no_grad()
def run_case(pkg_dir, case_dir, checkpoint_dir=None):
    manifest, backbone, toks = load_models(pkg_dir, checkpoint_dir)
    with open(os.path.join(case_dir, 'case.json')) as f:
        case = json.load(f)
    schedule = DdimSchedule(manifest['diffusion'])
    result = {'logits': {}, 'decoded': {}, 'encodedIds': {}}
    inputs = {}
    # Encoder tokens are concatenated in the order of case.json's "inputs" keys.
    for name, spec in case['inputs'].items():
        m = MODALITIES[name]
        x = read_tensor(case_dir, spec)
        if m.input_kind == 'token' and x.dtype != torch.int64:
            x = toks[name].encode_ids(x)
            result['encodedIds'][name] = write_tensor(case_dir, f'encoded_{name}.bin', x)
        inputs[m.input_key] = x
    tokens, emb = backbone.embed_inputs(inputs)
    context = backbone.encode(tokens, emb)
    result['context'] = write_tensor(case_dir, 'context.bin', context)
    for name, spec in case.get('outputs', {}).items():
        m = MODALITIES[name]
        result['logits'][name] = write_tensor(case_dir, f'logits_{name}.bin', backbone.logits(context, m.output_key))
        if 'tokens' not in spec:
            continue
        ids = read_tensor(case_dir, spec['tokens']).reshape(-1, 14, 14)
        tok = toks[name]
        code = tok.fsq.code_from_index(ids)
        if m.tokenizer == 'vqvae':
            decoded = tok.decode_code(code)
        else:
            steps = int(spec.get('timesteps', manifest['defaults']['timesteps']))
            decoded = decode_divae(tok, code, read_tensor(case_dir, spec['noise']), steps, schedule)
        result['decoded'][name] = write_tensor(case_dir, f'decoded_{name}.bin', decoded)
    with open(os.path.join(case_dir, 'result.json'), 'w') as f:
        json.dump(result, f, indent=1)


def timed(fn, repeat):
    fn()  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t0) / repeat * 1000.0


STAGES = ['embed_S2L2A+encoder', 'decoder+head_DEM', 'unet_step_DEM', 'decoder_LULC']


def cheap_fill(module):
    """Deterministic, fast stand-in for the random init: timing needs finite, sane-range values, not the seed's.

    Only modules built under skip_init hold uninitialised memory; filling just the timed ones keeps the rest
    untouched (no pages, no RSS)."""
    g = torch.Generator().manual_seed(0)
    for m in module.modules():
        if isinstance(m, (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d)):
            bound = m.weight[0].numel() ** -0.5  # fan-in scaled, like torch's default init
            m.weight.uniform_(-bound, bound, generator=g)
            if m.bias is not None:
                m.bias.zero_()
        elif isinstance(m, torch.nn.Embedding):
            m.weight.uniform_(-0.035, 0.035, generator=g)  # std 0.02, as init_weights
        elif isinstance(m, (torch.nn.LayerNorm, torch.nn.GroupNorm)):
            m.weight.fill_(1.0)
            m.bias.zero_()


def onednn_linears(module):
    """Swap every nn.Linear for torch's oneDNN inference Linear (same maths, different GEMM library)."""
    from torch.utils.mkldnn import MkldnnLinear
    for name, child in module.named_children():
        if isinstance(child, torch.nn.Linear):
            setattr(module, name, MkldnnLinear(child, torch.float32))
        else:
            onednn_linears(child)
    return module


def bench_models(manifest, stages):
    """Modules of the timed stages only, same architecture and shapes as the package, weights by cheap_fill.

    Rebuilding a base package from its seed (backbone with every modality, six tokenizers at official widths) takes
    minutes and GBs that timing does not need: the graphs are the same whatever the weights."""
    from build import build_backbone, build_tokenizer, skip_init
    size = SIZES[manifest['size']]
    with skip_init():
        backbone = build_backbone(size, inputs=['S2L2A'], outputs=['DEM'])
        cheap_fill(backbone)
        timed = {'backbone': backbone}
        if 'unet_step_DEM' in stages:
            dem = build_tokenizer(size, MODALITIES['DEM'])
            cheap_fill(dem.decoder)
            timed['DEM'] = dem
        if 'decoder_LULC' in stages:
            lulc = build_tokenizer(size, MODALITIES['LULC'])
            cheap_fill(lulc.post_quant_proj)
            cheap_fill(lulc.decoder)
            timed['LULC'] = lulc
    for m in timed.values():
        m.eval()
    return timed


@torch.no_grad()
def bench(pkg_dir, repeat, batches, checkpoint_dir=None, threads=None, stages=None, linear='default'):
    """Times the PyTorch modules stage by stage; checkpoint_dir is accepted for compatibility and unused."""
    if threads:
        torch.set_num_threads(threads)
    stages = list(stages or STAGES)
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        raise SystemExit(f'unknown stage(s) {unknown}; known: {STAGES}')
    with open(os.path.join(pkg_dir, 'manifest.json')) as f:
        manifest = json.load(f)
    t0 = time.perf_counter()
    models = bench_models(manifest, stages)
    if linear == 'onednn':
        for m in models.values():
            onednn_linears(m)
    build_s = time.perf_counter() - t0
    backbone = models['backbone']
    out = {'package': manifest['name'], 'size': manifest['size'], 'device': 'cpu', 'threads': torch.get_num_threads(),
           'torch': torch.__version__, 'linear': linear, 'weights': 'cheap fill (timing only)',
           'buildSeconds': round(build_s, 2), 'repeat': repeat, 'unit': 'ms per call', 'stages': {}}
    key = MODALITIES['S2L2A'].input_key
    dem_levels = len(SIZES[manifest['size']].divae_levels)
    lulc_levels = len(SIZES[manifest['size']].lulc_levels)
    for b in batches:
        g = torch.Generator().manual_seed(0)
        pixels = torch.randn(b, 12, 224, 224, generator=g)
        code = torch.rand(b, dem_levels, 14, 14, generator=g)
        x = torch.randn(b, 1, 224, 224, generator=g)
        t = torch.full((b,), 999, dtype=torch.int64)
        held = {}

        def encode():
            held['context'] = backbone.encode(*backbone.embed_inputs({key: pixels}))

        def context():  # the encoder stage's own output when it ran, one extra pass otherwise
            if 'context' not in held:
                encode()
            return held['context']

        fns = {
            'embed_S2L2A+encoder': encode,
            'decoder+head_DEM': lambda: backbone.logits(context(), MODALITIES['DEM'].output_key),
            'unet_step_DEM': lambda: models['DEM'].decoder(x, t, code),
            'decoder_LULC': lambda: models['LULC'].decode_code(torch.rand(b, lulc_levels, 14, 14, generator=g)),
        }
        res = {}
        for name in STAGES:
            if name in stages:
                if name == 'decoder+head_DEM':
                    context()  # outside the timed calls
                res[name] = round(timed(fns[name], repeat), 2)
                print(f'reference bench batch{b} {name}: {res[name]} ms', file=sys.stderr, flush=True)
        out['stages'][f'batch{b}'] = res
    out['peakRssMiB'] = peak_rss_mib()
    return out


def peak_rss_mib():
    """VmHWM of this process: ru_maxrss keeps the forking parent's peak across exec (node's GBs under the bench)."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return round(int(line.split()[1]) / 1024)
    return None


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == 'bench':
        ap = argparse.ArgumentParser(prog='reference.py bench')
        ap.add_argument('package')
        ap.add_argument('--repeat', type=int, default=3)
        ap.add_argument('--batches', default='1,8')
        ap.add_argument('--threads', type=int)
        ap.add_argument('--checkpoint-dir', help='unused: timing does not need the real weights')
        ap.add_argument('--stages', help=f'comma list of {",".join(STAGES)} (default: all)')
        ap.add_argument('--linear', choices=['default', 'onednn'], default='default',
                        help='onednn: nn.Linear through oneDNN instead of the BLAS torch was built with')
        a = ap.parse_args(argv[1:])
        res = bench(a.package, a.repeat, [int(x) for x in a.batches.split(',')], a.checkpoint_dir, a.threads,
                    a.stages.split(',') if a.stages else None, a.linear)
        print(json.dumps(res))
        return
    ap = argparse.ArgumentParser(prog='reference.py')
    ap.add_argument('package')
    ap.add_argument('case')
    ap.add_argument('--checkpoint-dir')
    a = ap.parse_args(argv)
    run_case(a.package, a.case, a.checkpoint_dir)


if __name__ == '__main__':
    main()
