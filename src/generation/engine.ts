import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { LRUCache } from 'lru-cache';
import { SingleFlight } from '../cache/single-flight.js';
import type { CacheStore } from '../cache/store.js';
import { badRequest } from '../errors.js';
import { transformBounds } from '../geo/crs.js';
import type { Bbox } from '../grid/tiles.js';
import type { Logger } from '../logger.js';
import { MODALITIES, type Modality } from '../modalities.js';
import type { ModelPackage, ModelRuntime } from '../model/index.js';
import { RequestBudget, runWithBudget } from '../net/request-budget.js';
import { raceAbort } from '../raster/byte-source.js';
import { createRaster, type Grid, type Raster } from '../raster/raster.js';
import { sampleWindow, sourceCoordinates, toPixelCoordinates, TOLERANCE_FRACTION } from '../raster/warp.js';
import type { ModalityReader } from '../sources/types.js';
import { WindowBlender } from './blend.js';
import { ChipCache, type ChipOrigin } from './chip-cache.js';
import type { ChipValues } from './chip-codec.js';
import { generateChip, isClassMap, outputPlanes, type ChipSource } from './chip-generator.js';
import { chipKey } from './chip-keys.js';
import {
  alignedWindow,
  chipsCovering,
  chipWindow,
  latticeFor,
  latticeWindow,
  windowForTarget,
  windowGrid,
  CHIP_STRIDE,
  type ChipIndex,
  type LatticeWindow,
} from './lattice.js';
import { InputGate } from './input-gate.js';
import { ChipLeases } from './leases.js';
import { packageDigest } from './package-digest.js';
import { canonicalSources, canonicalSpec } from './params.js';
import type { ChipEngine, ChipProgress, EngineReadOptions, GenerationPlan, GenerationSpec } from './types.js';
import { WorkQueue } from './work-queue.js';

/**
 * The chip engine (docs/generation.md): the one path from "these outputs on this grid" to blended rasters, for
 * map tiles, coverage tiles and processes alike. A read finds the anchored chips under its target, takes them
 * from memory or the cache store, generates the missing ones through one process-wide queue (so the model
 * batcher stacks chips of concurrent reads), blends them in a fixed order (so every window gets identical sums)
 * and resamples onto the target when it is not on the lattice.
 */
export interface SourceOpening {
  open(href: string, modality: Modality, options?: { trusted?: boolean; signal?: AbortSignal }): Promise<ModalityReader>;
}

export interface ChipEngineSettings {
  /** Chips waiting for the model, process-wide; past it reads get 503 + Retry-After. */
  queueMax: number;
  /** Chips generated at once (what the batcher can stack). */
  concurrency: number;
  /** Decoded chips kept in memory. */
  memoryBytes: number;
  leaseTtlMs: number;
  leaseWaitMs: number;
  leaseSettleMs: number;
  /** Lattice rows blended at once for large lattice-aligned reads (memory bound of job reads). */
  stripRows?: number;
  /**
   * Each chip's own budget for reading its inputs (fetch deadline, decoded bytes): a chip is shared by every read
   * that wants it, so it must not run under the deadline of whichever request happened to ask first.
   */
  chipFetchTimeoutMs?: number;
  chipDecodedBytes?: number;
}

export interface ChipEngineOptions {
  runtime: ModelRuntime;
  opener: SourceOpening;
  store: CacheStore;
  settings: ChipEngineSettings;
  logger?: Logger;
  /** Identity written into leases (default host-pid-random). */
  instanceId?: string;
  /** Observes every chip a read obtains (metrics). */
  onChip?: (event: { output: Modality; origin: ReadOrigin }) => void;
  /** Observes the model's time per stage (ms) of every chip generated. */
  onModelStages?: (stages: Record<string, number>) => void;
}

export interface ChipEngineStats {
  queued: number;
  running: number;
  generated: number;
  fromStore: number;
  fromMemory: number;
  fromPeers: number;
  /** Chips a read got by joining another read's lookup or generation of the same chip. */
  shared: number;
}

export interface LocalChipEngine extends ChipEngine {
  /** The model package whose inputs, outputs and defaults the engine serves. */
  pkg: ModelPackage;
  /** "<package name>@<version>" and the digest of its files: what chip keys and collection documents name. */
  model: { name: string; version: string; weights: 'official' | 'random'; digest: string };
  stats(): ChipEngineStats;
}

/** Where a read got a chip: as ChipOrigin, or 'shared' when it joined another read's lookup or generation of it. */
export type ReadOrigin = ChipOrigin | 'shared';

interface Opened {
  sources: ChipSource[];
}

const DEFAULT_STRIP_ROWS = 8 * CHIP_STRIDE;
/** Longest a chip with its inputs read waits for other chips' reads before it starts the model (input-gate.ts). */
const INPUT_GATE_MAX_WAIT_MS = 1000;

export function createChipEngine(options: ChipEngineOptions): LocalChipEngine {
  const { runtime, settings } = options;
  const pkg = runtime.pkg;
  const model = { name: pkg.manifest.name, version: pkg.manifest.version, weights: pkg.manifest.weights, digest: packageDigest(pkg) };
  const owner = options.instanceId ?? `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
  const leases = new ChipLeases(options.store, { owner, ttlMs: settings.leaseTtlMs, settleMs: settings.leaseSettleMs }, options.logger);
  const chips = new ChipCache(options.store, leases, { memoryBytes: settings.memoryBytes, leaseWaitMs: settings.leaseWaitMs, pollMs: 100 }, options.logger);
  const queue = new WorkQueue({ concurrency: settings.concurrency, maxQueued: settings.queueMax });
  const gate = new InputGate(INPUT_GATE_MAX_WAIT_MS);
  const flights = new SingleFlight<{ values: ChipValues; origin: ChipOrigin }>();
  const opened = new WeakMap<GenerationPlan, Opened>();
  const plans = new LRUCache<string, Promise<GenerationPlan>>({ max: 512 });
  const counts = { generated: 0, fromStore: 0, fromMemory: 0, fromPeers: 0, shared: 0 };

  async function makePlan(spec: GenerationSpec, signal?: AbortSignal): Promise<GenerationPlan> {
    const sources = canonicalSources(spec.sources);
    if (sources.length === 0) throw badRequest(`Name at least one source modality. This model takes: ${pkg.inputs.join(', ')}.`);
    for (const source of sources) {
      if (!pkg.inputs.includes(source.modality)) {
        throw badRequest(`This model (${model.name}) cannot take ${source.modality} as an input. It takes: ${pkg.inputs.join(', ')}.`);
      }
    }
    const readers = await Promise.all(sources.map((s) => options.opener.open(s.href, s.modality, { trusted: s.trusted, signal })));
    const anchor = readers[0]!;
    const lattice = latticeFor({ crs: anchor.crs, resolution: anchor.resolution, origin: anchor.origin, bounds: anchor.bounds });
    const bounds = readers.slice(1).reduce<Bbox | undefined>((common, reader) => common && intersect(common, reader.bounds), [...anchor.bounds] as Bbox);
    if (!bounds) {
      const listed = sources.map((s, k) => `${s.modality} covers [${readers[k]!.bounds.map((v) => v.toFixed(4)).join(', ')}]`).join('; ');
      throw badRequest(`The sources do not overlap, so there is nothing to generate from: ${listed}.`);
    }
    const nativeBounds = transformBounds(bounds, 'EPSG:4326', lattice.crs);
    if (!nativeBounds) throw badRequest(`The sources' footprint cannot be expressed in ${lattice.crs}.`);
    const plan: GenerationPlan = { spec: { sources, params: spec.params }, lattice, bounds, nativeBounds };
    opened.set(plan, { sources: sources.map((s, k) => ({ modality: s.modality, reader: readers[k]! })) });
    return plan;
  }

  function plan(spec: GenerationSpec, signal?: AbortSignal): Promise<GenerationPlan> {
    // Trust is each source's own, so it is listed in the sources' canonical order, as canonicalSpec lists them: in
    // the order given, [DEM trusted, S2 not] and [S2 trusted, DEM not] read alike and shared one plan.
    const trust = canonicalSources(spec.sources).map((s) => (s.trusted ? 't' : 'u')).join('');
    const key = `${trust} ${canonicalSpec(spec)}`;
    let pending = plans.get(key);
    if (!pending) {
      pending = makePlan(spec);
      plans.set(key, pending);
      pending.catch(() => plans.delete(key));
    }
    return raceAbort(pending, signal);
  }

  /** The chips of a window that can hold anything: those meeting the sources' common footprint. */
  function usefulChips(p: GenerationPlan, window: LatticeWindow): ChipIndex[] {
    const footprint = latticeWindow(p.lattice, p.nativeBounds);
    return chipsCovering(window).filter((chip) => {
      const w = chipWindow(chip);
      return w.col0 < footprint.col1 && w.col1 > footprint.col0 && w.row0 < footprint.row1 && w.row1 > footprint.row0;
    });
  }

  async function obtain(p: GenerationPlan, chip: ChipIndex, output: Modality, signal: AbortSignal, priority: 'interactive' | 'batch'): Promise<{ values: ChipValues; origin: ReadOrigin }> {
    const key = chipKey(model, p, chip, output);
    const remembered = chips.inMemory(key);
    if (remembered) return { values: remembered, origin: 'memory' };
    const { sources } = opened.get(p)!;
    // Only the read that starts the flight runs this; the others that join it share the outcome.
    let mine = false;
    const result = await flights.run(
      key,
      async (flightSignal) => {
        mine = true;
        const stored = await chips.load(key);
        if (stored) return { values: stored, origin: 'store' as const };
        const request = { lattice: p.lattice, chip, sources, output, params: p.spec.params };
        // The chip's budget starts when the chip does, not while it waits in the queue.
        const generate = () => chipBudgeted(() => generateChip(runtime, request, { onStages: options.onModelStages, gate }));
        return queue.submit(() => chips.produce(key, generate), flightSignal, priority);
      },
      signal,
    );
    return mine ? result : { values: result.values, origin: 'shared' };
  }

  async function chipBudgeted<T>(work: () => Promise<T>): Promise<T> {
    const budget = new RequestBudget(settings.chipFetchTimeoutMs ?? 60_000, settings.chipDecodedBytes);
    try {
      return await runWithBudget(budget, work);
    } finally {
      budget.dispose();
    }
  }

  function checkOutputs(outputs: Modality[]): void {
    if (outputs.length === 0) throw badRequest(`Name at least one output. This model can generate: ${pkg.outputs.join(', ')}.`);
    for (const output of outputs) {
      if (!pkg.outputs.includes(output)) {
        throw badRequest(`This model (${model.name}) cannot generate ${output}. It can generate: ${pkg.outputs.join(', ')}.`);
      }
    }
  }

  async function read(p: GenerationPlan, outputs: Modality[], target: Grid, readOptions: EngineReadOptions = {}) {
    checkOutputs(outputs);
    if (!opened.has(p)) throw new Error('internal: read() takes a plan made by this engine');
    const results = Object.fromEntries(outputs.map((output) => [output, createRaster(target, bandNames(output), output)])) as Record<Modality, Raster>;
    const window = windowForTarget(p.lattice, target);
    if (!window) return results;
    const aligned = alignedWindow(p.lattice, target) !== undefined;
    const strips = aligned ? splitRows(window, settings.stripRows ?? DEFAULT_STRIP_ROWS) : [window];
    const unique = new Set<string>();
    for (const strip of strips) for (const chip of usefulChips(p, strip)) unique.add(`${chip.i},${chip.j}`);
    const progress: ChipProgress = { done: 0, total: unique.size * outputs.length, generated: 0, cached: 0 };
    const seen = new Set<string>();

    // One controller per read: a failure (or the caller's abort) stops waiting for the rest of its chips.
    const controller = new AbortController();
    // Every chip this read waits for listens on it (bounded by the lookahead, not by a leak).
    setMaxListeners(0, controller.signal);
    const onAbort = () => controller.abort(readOptions.signal!.reason);
    readOptions.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (const strip of strips) {
        const units = usefulChips(p, strip).flatMap((chip) => outputs.map((output) => ({ chip, output })));
        const blenders = new Map(outputs.map((output) => [output, new WindowBlender(strip, outputPlanes(runtime, output))]));
        const pending: Promise<{ values: ChipValues; origin: ReadOrigin }>[] = [];
        const lookahead = Math.max(16, settings.concurrency * 2);
        const startUpTo = (n: number) => {
          for (let k = pending.length; k < Math.min(n, units.length); k += 1) {
            const promise = obtain(p, units[k]!.chip, units[k]!.output, controller.signal, readOptions.priority ?? 'interactive');
            promise.catch(() => undefined);
            pending.push(promise);
          }
        };
        // Chips are obtained concurrently but blended in a fixed order: float sums then do not depend on timing.
        for (let k = 0; k < units.length; k += 1) {
          startUpTo(k + lookahead);
          const { chip, output } = units[k]!;
          const { values, origin } = await pending[k]!;
          blenders.get(output)!.add(chip, values);
          count(origin);
          options.onChip?.({ output, origin });
          const id = `${chip.i},${chip.j},${output}`;
          if (!seen.has(id)) {
            seen.add(id);
            progress.done += 1;
            if (origin === 'generated') progress.generated += 1;
            else progress.cached += 1;
            readOptions.onChip?.({ ...progress });
          }
        }
        for (const output of outputs) {
          const classes = isClassMap(runtime, output);
          const blended = blenders.get(output)!.finish(classes);
          // Class maps are never interpolated: a blend of class 2 and 6 is not class 4.
          const resampling = classes ? 'nearest' : (readOptions.resampling ?? 'bilinear');
          place(p, strip, blended, results[output], aligned, resampling);
        }
      }
    } catch (error) {
      controller.abort(error);
      throw error;
    } finally {
      readOptions.signal?.removeEventListener('abort', onAbort);
    }
    return results;
  }

  function count(origin: ReadOrigin): void {
    if (origin === 'generated') counts.generated += 1;
    else if (origin === 'store') counts.fromStore += 1;
    else if (origin === 'memory') counts.fromMemory += 1;
    else if (origin === 'peer') counts.fromPeers += 1;
    else counts.shared += 1;
  }

  return {
    pkg,
    model,
    plan,
    latticeGrid: (p, bbox) => windowGrid(p.lattice, latticeWindow(p.lattice, bbox)),
    countChips(p, target) {
      const window = windowForTarget(p.lattice, target);
      return window ? usefulChips(p, window).length : 0;
    },
    read,
    stats: () => ({ queued: queue.queued, running: queue.running, ...counts }),
  };
}

/** Band names of an output as the service names them (renderers find bands by these). */
function bandNames(output: Modality): string[] {
  return [...MODALITIES[output].bands];
}

/** Copies a blended strip into the target (lattice-aligned) or resamples it onto the target's grid. */
function place(
  p: GenerationPlan,
  strip: LatticeWindow,
  blended: { bands: Float32Array[]; mask: Uint8Array },
  target: Raster,
  aligned: boolean,
  resampling: 'nearest' | 'bilinear',
): void {
  const width = strip.col1 - strip.col0;
  const height = strip.row1 - strip.row0;
  if (aligned) {
    const window = alignedWindow(p.lattice, target)!;
    const top = window.row1 - strip.row1;
    const left = strip.col0 - window.col0;
    for (let row = 0; row < height; row += 1) {
      const from = row * width;
      const to = (top + row) * target.width + left;
      blended.bands.forEach((band, c) => target.bands[c]!.set(band.subarray(from, from + width), to));
      target.mask.set(blended.mask.subarray(from, from + width), to);
    }
    return;
  }
  const grid = windowGrid(p.lattice, strip);
  const coords = sourceCoordinates(target, p.lattice.crs, p.lattice.resolution * TOLERANCE_FRACTION);
  const pixels = toPixelCoordinates(coords, grid.transform);
  target.mask.fill(255);
  blended.bands.forEach((band, c) => {
    sampleWindow(pixels, { x0: 0, y0: 0, width, height, values: band, valid: blended.mask }, resampling, target.bands[c]!, target.mask);
  });
}

/** Horizontal strips of at most `rows` lattice rows, north to south. */
function splitRows(window: LatticeWindow, rows: number): LatticeWindow[] {
  const strips: LatticeWindow[] = [];
  for (let top = window.row1; top > window.row0; top -= rows) strips.push({ ...window, row0: Math.max(window.row0, top - rows), row1: top });
  return strips;
}

function intersect(a: Bbox, b: readonly number[]): Bbox | undefined {
  const out: Bbox = [Math.max(a[0], b[0]!), Math.max(a[1], b[1]!), Math.min(a[2], b[2]!), Math.min(a[3], b[3]!)];
  return out[0] < out[2] && out[1] < out[3] ? out : undefined;
}

