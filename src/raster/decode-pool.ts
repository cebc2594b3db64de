import { fileURLToPath } from 'node:url';
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
 *
 * The worker runs decode-worker.ts bundled into one plain script by esbuild (once per process, ~0.5 s, at
 * the first spawn): loading TypeScript through tsx in each worker cost about 45 MB of memory per worker (its
 * own loader thread), a bundled worker about 10 MB.
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

  async decode(job: Omit<DecodeJob, 'id'>): Promise<ArrayBuffer> {
    if (this.closed) throw new Error('the decode pool is closed');
    const worker = this.pick(await workerScript());
    const id = this.nextId++;
    return new Promise<ArrayBuffer>((resolve, reject) => worker.post({ ...job, id }, { resolve, reject }));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.splice(0).map((entry) => entry.worker.terminate()));
  }

  private pick(script: string): DecodeWorker {
    const idle = this.workers.find((entry) => entry.jobs.size === 0);
    if (idle) return idle;
    if (this.workers.length < this.size) return this.spawn(script);
    return this.workers.reduce((a, b) => (a.jobs.size <= b.jobs.size ? a : b));
  }

  private spawn(script: string): DecodeWorker {
    const worker = new Worker(script, {
      eval: true,
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

let bundled: Promise<string> | undefined;

/** decode-worker.ts and everything it imports (our codecs, geotiff.js) as one CommonJS script. */
function workerScript(): Promise<string> {
  bundled ??= import('esbuild').then(async (esbuild) => {
    try {
      const result = await esbuild.build({
        entryPoints: [fileURLToPath(new URL('./decode-worker.ts', import.meta.url))],
        bundle: true,
        format: 'cjs',
        platform: 'node',
        target: 'node20',
        write: false,
        logLevel: 'silent',
      });
      return result.outputFiles[0]!.text;
    } finally {
      // The build service is a child process; nothing else here needs it.
      await esbuild.stop();
    }
  });
  bundled.catch(() => (bundled = undefined));
  return bundled;
}
