import { OgcError } from '../errors.js';

/**
 * The process-wide queue of chip generations: at most `concurrency` run at once (enough for the model batcher
 * to stack them into shared ONNX runs), at most `maxQueued` wait. Past that a caller gets a 503 with
 * Retry-After instead of growing memory. A queued item whose signal aborts is dropped before it starts.
 * Interactive work (map and coverage tiles, someone is looking) starts before batch work (jobs) that waits.
 */
export type WorkPriority = 'interactive' | 'batch';

export interface WorkQueueOptions {
  concurrency: number;
  maxQueued: number;
  /** Clock for run times (ms); performance.now unless a test gives one. */
  now?: () => number;
}

interface Item {
  run: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export class WorkQueue {
  private readonly waiting: Item[] = [];
  private readonly waitingBatch: Item[] = [];
  private active = 0;
  /** Moving average of one item's run time, for Retry-After. */
  private averageMs = 1000;

  constructor(private readonly options: WorkQueueOptions) {}

  get queued(): number {
    return this.waiting.length + this.waitingBatch.length;
  }

  get running(): number {
    return this.active;
  }

  submit<T>(run: () => Promise<T>, signal?: AbortSignal, priority: WorkPriority = 'interactive'): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const queued = this.queued;
    if (queued >= this.options.maxQueued) {
      const seconds = Math.max(1, Math.ceil(((queued / this.options.concurrency) * this.averageMs) / 1000));
      return Promise.reject(
        new OgcError(
          'unavailable',
          `The generation queue is full (${queued} chips waiting, GENERATION_QUEUE_MAX=${this.options.maxQueued}); retry in about ${seconds} s.`,
          { headers: { 'retry-after': String(seconds) } },
        ),
      );
    }
    const list = priority === 'batch' ? this.waitingBatch : this.waiting;
    return new Promise<T>((resolve, reject) => {
      const item: Item = { run, resolve: resolve as (value: unknown) => void, reject, signal };
      if (signal) {
        item.onAbort = () => {
          const index = list.indexOf(item);
          if (index >= 0) {
            list.splice(index, 1);
            reject(signal.reason);
          }
        };
        signal.addEventListener('abort', item.onAbort, { once: true });
      }
      list.push(item);
      this.pump();
    });
  }

  private pump(): void {
    while (this.active < this.options.concurrency && this.queued > 0) {
      const item = (this.waiting.length > 0 ? this.waiting : this.waitingBatch).shift()!;
      if (item.onAbort) item.signal!.removeEventListener('abort', item.onAbort);
      this.active += 1;
      const now = this.options.now ?? (() => performance.now());
      const started = now();
      item
        .run()
        .then(item.resolve, item.reject)
        .finally(() => {
          this.averageMs = 0.8 * this.averageMs + 0.2 * (now() - started);
          this.active -= 1;
          this.pump();
        });
    }
  }
}
