import { Worker } from 'node:worker_threads';
import type { InferenceSession } from 'onnxruntime-node';
import type { Feeds } from './batcher.js';

/**
 * The main-thread side of session-worker.mjs: one worker thread holding every session of a package, started on
 * first use. onnxruntime-node runs a session synchronously on the thread that calls it (a base-size UNet step is
 * about a second on two cores), so on the main thread every run froze the whole service (health checks, cached
 * tiles, other chips' source reads). Here a run is a message to the worker; the event loop stays free.
 *
 * The worker holds the process open only while a request is outstanding (ref'd then, unref'd when idle), so a CLI
 * that forgets close() still exits, and a pending run is never cut short by the process ending.
 */

/** A tensor as it crosses the thread boundary: any ORT type (the caller checks the package contract). */
export interface WireTensor {
  type: string;
  data: ArrayBufferView;
  dims: number[];
}

type Request =
  | { op: 'create'; key: string; path: string; options: InferenceSession.SessionOptions }
  | { op: 'run'; key: string; feeds: Feeds }
  | { op: 'close' };

type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: { name: string; message: string } };

interface Outstanding {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

const WORKER_URL = new URL('./session-worker.mjs', import.meta.url);

export class SessionHost {
  private worker?: Worker;
  private nextId = 1;
  private readonly outstanding = new Map<number, Outstanding>();

  /** `onLost`: the worker ended without close() (crash, out of memory); every session it held is gone. */
  constructor(private readonly onLost?: (reason: Error) => void) {}

  /** Creates (or replaces) the session `key` from the ONNX file at `path`; resolves with the milliseconds it took. */
  async create(key: string, path: string, options: InferenceSession.SessionOptions): Promise<number> {
    const { ms } = (await this.request({ op: 'create', key, path, options })) as { ms: number };
    return ms;
  }

  /**
   * Runs session `key`. `transfer`: the caller gives up `feeds` (nobody reads them afterwards), so their buffers
   * move to the worker without a copy and are detached here. Otherwise each input is copied first (`slice`, its
   * exact bytes, not the whole buffer a view may sit on), because the caller may still read it. The outputs'
   * buffers always move back without a copy.
   */
  async run(key: string, feeds: Feeds, transfer: boolean): Promise<Record<string, WireTensor>> {
    const sent: Feeds = {};
    const buffers = new Set<ArrayBuffer>();
    for (const [name, t] of Object.entries(feeds)) {
      const data = transfer ? t.data : t.data.slice();
      sent[name] = { type: t.type, data, dims: [...t.dims] };
      buffers.add(data.buffer as ArrayBuffer);
    }
    return (await this.request({ op: 'run', key, feeds: sent }, [...buffers])) as Record<string, WireTensor>;
  }

  /** Releases every session and ends the worker; a later request starts a fresh one. */
  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    try {
      await this.request({ op: 'close' });
    } finally {
      this.worker = undefined;
      await worker.terminate();
      this.fail(new Error('the model sessions were closed'));
    }
  }

  private request(request: Request, transfer: ArrayBuffer[] = []): Promise<unknown> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.outstanding.set(id, { resolve, reject });
      if (this.outstanding.size === 1) worker.ref();
      try {
        worker.postMessage({ id, ...request }, transfer);
      } catch (error) {
        this.settle(id);
        reject(error as Error);
      }
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    // No loader flags from the parent (tsx's hooks): the worker is plain JavaScript.
    const worker = new Worker(WORKER_URL, { execArgv: [] });
    worker.unref();
    let crash: Error | undefined;
    worker.on('message', (reply: Reply) => {
      const entry = this.settle(reply.id);
      if (!entry) return;
      if (reply.ok) entry.resolve(reply.value);
      else entry.reject(Object.assign(new Error(reply.error.message), { name: reply.error.name }));
    });
    worker.on('error', (error) => (crash = error));
    worker.on('exit', (code) => {
      if (this.worker !== worker) return; // closed on purpose
      this.worker = undefined;
      const reason = new Error(`the onnxruntime worker thread ended (exit code ${code})${crash ? `: ${crash.message}` : ''}`);
      this.fail(reason);
      this.onLost?.(reason);
    });
    this.worker = worker;
    return worker;
  }

  private settle(id: number): Outstanding | undefined {
    const entry = this.outstanding.get(id);
    this.outstanding.delete(id);
    if (entry && this.outstanding.size === 0) this.worker?.unref();
    return entry;
  }

  private fail(reason: Error): void {
    const all = [...this.outstanding.values()];
    this.outstanding.clear();
    for (const entry of all) entry.reject(reason);
  }
}
