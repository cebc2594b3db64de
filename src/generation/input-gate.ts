/**
 * Lets chips whose inputs are read start the model together. onnxruntime-node runs a session synchronously on the
 * main thread, so a chip that starts its model as soon as its own inputs arrive blocks the event loop for its
 * whole diffusion loop: the other chips' source reads (HTTP, decoding) barely progress, finish after it, and run
 * the model alone in a second wave instead of sharing its ONNX runs through the batcher.
 *
 * A chip with its inputs read waits until no chip is reading any more (then every waiting chip is released in the
 * same turn, so the batcher stacks them), or at most `maxWaitMs`, so that reads starved by another wave's model
 * runs delay nobody for long.
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
