/**
 * Lets chips whose inputs are read start the model together. A tile's chips finish reading their inputs (range
 * reads, decoding, warping) tens to hundreds of milliseconds apart, longer than the batcher waits for company
 * (BATCH_MAX_WAIT_MS, 10 ms): a chip that starts its model as soon as its own inputs arrive runs its embedding,
 * encoder and decoder alone, and the later chips run theirs in further ONNX runs instead of sharing them.
 * (The gate was added while ONNX runs blocked the event loop, which made the stragglers' reads wait for the first
 * chips' whole diffusion loop. Sessions now run in a worker thread and the reads progress meanwhile, but the
 * spread remains: bench:generation with the gate disabled ran extra ONNX runs in 15 of 60 cache-miss tiles, up to
 * 10 instead of 5 for LULC; with it, none did. Wall/model ratios were the same within noise either way.)
 *
 * A chip with its inputs read waits until no chip is reading any more (then every waiting chip is released in the
 * same turn, so the batcher stacks them), or at most `maxWaitMs`, so that a slow read delays nobody for long.
 */
export class InputGate {
  private reading = 0;
  private waiting = new Set<() => void>();

  constructor(private readonly maxWaitMs: number) {}

  /** Runs a chip's input reads, counted as in flight until they settle. */
  async read<T>(work: () => Promise<T>): Promise<T> {
    this.reading += 1;
    try {
      return await work();
    } finally {
      this.reading -= 1;
      if (this.reading === 0) this.releaseAll();
    }
  }

  /** Resolves when no chip is reading inputs, or after maxWaitMs. */
  ready(): Promise<void> {
    if (this.reading === 0 || this.maxWaitMs <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const release = () => {
        clearTimeout(timer);
        this.waiting.delete(release);
        resolve();
      };
      const timer = setTimeout(release, this.maxWaitMs);
      this.waiting.add(release);
    });
  }

  private releaseAll(): void {
    for (const release of [...this.waiting]) release();
  }
}
