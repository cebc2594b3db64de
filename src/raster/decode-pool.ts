import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { upstreamError } from '../errors.js';
import type { DecodeJob, DecodeReply } from './decode-worker.js';
import { blockByteBound } from './decoders.js';

/**
 * Worker threads that decode GeoTIFF tiles, so inflating and un-predicting pixels never blocks the event loop
 * (health checks, other requests and SIGTERM stay responsive) and a multi-core instance decodes in parallel.
 *
 * node:worker_threads rather than geotiff.js's own Pool: geotiff's bundled worker carries its own codecs
 * (pako deflate, array-based LZW: 3x and 10x slower than ours) with no bound on a block's decoded size, and
 * expects a Web Worker. Here the workers load decode-worker.ts, i.e. the same bounded codecs as the main
 * thread, and a crashed worker fails only its own jobs and is replaced.
 *
 * The pool implements what geotiff.js's readRasters({ pool }) calls: bindParameters(...).decode(buffer).
 * Workers start on demand (one more whenever every running one is busy, up to `size`), are unref'd while idle
 * so they never keep a process alive, and stop after IDLE_MS without work.
 */
const IDLE_MS = 60_000;

interface PendingJob {
  resolve: (decoded: ArrayBuffer) => void;
  reject: (error: unknown) => void;
}

class DecodeWorker {
  readonly jobs = new Map<number, PendingJob>();
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly worker: Worker,
    private readonly onGone: (gone: DecodeWorker) => void,
  ) {
    worker.on('message', (reply: DecodeReply) => {
      const job = this.jobs.get(reply.id);
      if (!job) return;
      this.jobs.delete(reply.id);
      if ('error' in reply) job.reject(new Error(reply.error));
      else job.resolve(reply.decoded);
      this.settle();
    });
    const fail = (error: Error) => {
      for (const job of this.jobs.values()) job.reject(upstreamError(`A decode worker stopped while decoding (${error.message})`, error));
      this.jobs.clear();
      clearTimeout(this.idleTimer);
      this.onGone(this);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
    worker.unref();
  }

  post(job: DecodeJob, pending: PendingJob): void {
    clearTimeout(this.idleTimer);
    if (this.jobs.size === 0) this.worker.ref();
    this.jobs.set(job.id, pending);
    this.worker.postMessage(job, [job.buffer]);
  }

  private settle(): void {
    if (this.jobs.size > 0) return;
    this.worker.unref();
    this.idleTimer = setTimeout(() => void this.worker.terminate(), IDLE_MS);
    this.idleTimer.unref();
  }
}

export class DecodePool {
  private readonly workers: DecodeWorker[] = [];
  private nextId = 0;
  private closed = false;

  constructor(readonly size: number) {}

  /** geotiff.js's pool contract: a decoder bound to one image's compression and parameters. */
  bindParameters(compression: number, parameters: Record<string, unknown>): { decode: (buffer: ArrayBuffer) => Promise<ArrayBuffer> } {
    const maxBytes = blockByteBound(parameters as never);
    return { decode: (buffer) => this.decode({ compression, parameters, buffer, maxBytes }) };
  }

  /** Workers running now (for tests and metrics). */
  get running(): number {
    return this.workers.length;
  }

  decode(job: Omit<DecodeJob, 'id'>): Promise<ArrayBuffer> {
    if (this.closed) return Promise.reject(new Error('the decode pool is closed'));
    const worker = this.pick();
    const id = this.nextId++;
    return new Promise<ArrayBuffer>((resolve, reject) => worker.post({ ...job, id }, { resolve, reject }));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.splice(0).map((entry) => entry.worker.terminate()));
  }

  private pick(): DecodeWorker {
    const idle = this.workers.find((entry) => entry.jobs.size === 0);
    if (idle) return idle;
    if (this.workers.length < this.size) return this.spawn();
    return this.workers.reduce((a, b) => (a.jobs.size <= b.jobs.size ? a : b));
  }

  private spawn(): DecodeWorker {
    const worker = new Worker(BOOTSTRAP, {
      eval: true,
      workerData: { entry: new URL('./decode-worker.ts', import.meta.url).href, tsx: TSX_API },
      // Decoding holds little on the JS heap (pixels live in ArrayBuffers); a runaway codec dies alone.
      resourceLimits: { maxOldGenerationSizeMb: 256 },
    });
    const entry = new DecodeWorker(worker, (gone) => {
      const index = this.workers.indexOf(gone);
      if (index >= 0) this.workers.splice(index, 1);
    });
    this.workers.push(entry);
    return entry;
  }
}

/** tsx's ESM registration API (the "import" condition of tsx/esm/api), found from this package's tsx. */
const TSX_API = pathToFileURL(join(dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist/esm/api/index.mjs')).href;

/**
 * Loads the TypeScript worker through tsx's registration API: eval'd workers do not get the parent's
 * --import loader, under `npm start` as under vitest.
 */
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
import(workerData.tsx).then((tsx) => { tsx.register(); return import(workerData.entry); });
`;
