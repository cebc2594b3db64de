/**
 * Single-flight with waiters: concurrent callers of one key share one run of the work, and each caller may
 * stop waiting (its AbortSignal) without failing the others. When the last waiter has gone, the work's own
 * signal is aborted, so work that has not started yet is never started (a queued chip nobody wants any more)
 * and work that can stop early does. The work's result or error reaches every caller still waiting.
 */
interface Flight<T> {
  promise: Promise<T>;
  waiters: number;
  controller: AbortController;
}

export class SingleFlight<T> {
  private readonly flights = new Map<string, Flight<T>>();

  /** Joins the run of `key`, or starts `work` when none is in flight. */
  run(key: string, work: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    let flight = this.flights.get(key);
    if (!flight) {
      const controller = new AbortController();
      const created: Flight<T> = { waiters: 0, controller, promise: Promise.resolve().then(() => work(controller.signal)) };
      created.promise
        .finally(() => {
          if (this.flights.get(key) === created) this.flights.delete(key);
        })
        .catch(() => undefined);
      this.flights.set(key, created);
      flight = created;
    }
    return this.wait(key, flight, signal);
  }

  /** Keys with work in flight (for tests and diagnostics). */
  get size(): number {
    return this.flights.size;
  }

  private wait(key: string, flight: Flight<T>, signal?: AbortSignal): Promise<T> {
    flight.waiters += 1;
    return new Promise<T>((resolve, reject) => {
      let left = false;
      const leave = () => {
        if (left) return;
        left = true;
        flight.waiters -= 1;
        signal?.removeEventListener('abort', onAbort);
        if (flight.waiters === 0 && !settled) {
          // Nobody waits any more: forget the flight so a later caller starts afresh, and tell the work.
          if (this.flights.get(key) === flight) this.flights.delete(key);
          flight.controller.abort(new DOMException('no caller waits for this work any more', 'AbortError'));
        }
      };
      let settled = false;
      const onAbort = () => {
        leave();
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      flight.promise.then(
        (value) => {
          settled = true;
          leave();
          resolve(value);
        },
        (error) => {
          settled = true;
          leave();
          reject(error);
        },
      );
    });
  }
}
