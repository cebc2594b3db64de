import { OgcError } from '../errors.js';

/**
 * The process-wide queue of chip generations: at most `concurrency` run at once (enough for the model batcher
 * to stack them into shared ONNX runs), at most `maxQueued` wait. Past that a caller gets a 503 with
 * Retry-After instead of growing memory. A queued item whose signal aborts is dropped before it starts.
 */
export interface WorkQueueOptions {
  concurrency: number;
  maxQueued: number;
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
  private active = 0;
  /** Moving average of one item's run time, for Retry-After. */
  private averageMs = 1000;

  constructor(private readonly options: WorkQueueOptions) {}

  get queued(): number {
    return this.waiting.length;
  }

  get running(): number {
    return this.active;
  }

  submit<T>(run: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.waiting.length >= this.options.maxQueued) {
      const seconds = Math.max(1, Math.ceil(((this.waiting.length / this.options.concurrency) * this.averageMs) / 1000));
      return Promise.reject(
        new OgcError(
          'unavailable',
          `The generation queue is full (${this.waiting.length} chips waiting, GENERATION_QUEUE_MAX=${this.options.maxQueued}); retry in about ${seconds} s.`,
          { headers: { 'retry-after': String(seconds) } },
        ),
      );
    }
    return new Promise<T>((resolve, reject) => {
      const item: Item = { run, resolve: resolve as (value: unknown) => void, reject, signal };
      if (signal) {
        item.onAbort = () => {
          const index = this.waiting.indexOf(item);
          if (index >= 0) {
            this.waiting.splice(index, 1);
            reject(signal.reason);
          }
        };
        signal.addEventListener('abort', item.onAbort, { once: true });
      }
      this.waiting.push(item);
      this.pump();
    });
  }

  private pump(): void {
    while (this.active < this.options.concurrency && this.waiting.length > 0) {
      const item = this.waiting.shift()!;
      if (item.onAbort) item.signal!.removeEventListener('abort', item.onAbort);
      this.active += 1;
      const started = performance.now();
      item
        .run()
        .then(item.resolve, item.reject)
        .finally(() => {
          this.averageMs = 0.8 * this.averageMs + 0.2 * (performance.now() - started);
          this.active -= 1;
          this.pump();
        });
    }
  }
}
