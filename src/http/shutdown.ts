import type { Server } from 'node:http';
import type { Logger } from '../logger.js';
import type { Lifecycle } from './lifecycle.js';

/**
 * Graceful stop on SIGTERM/SIGINT, bounded: readiness turns 503 at once; after `delayMs` (time for a load
 * balancer to stop routing here; 0 on Cloud Run, which stops routing before SIGTERM) the listener closes,
 * idle keep-alive connections are dropped and busy ones get `Connection: close` (app.ts) and finish; past
 * `timeoutMs` the remaining connections are cut. Cloud Run kills 10 s after SIGTERM: keep delay + timeout under it.
 */
export interface ShutdownOptions {
  server: Pick<Server, 'close' | 'closeIdleConnections' | 'closeAllConnections'>;
  lifecycle: Lifecycle;
  logger: Logger;
  delayMs: number;
  timeoutMs: number;
  /** Releases what outlives the server (model sessions); then the process exits. */
  release: () => Promise<void>;
  exit?: (code: number) => void;
}

export function installGracefulShutdown(options: ShutdownOptions): (signal: string) => void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    const started = Date.now();
    options.lifecycle.startDraining();
    options.logger.info({ signal, delayMs: options.delayMs, timeoutMs: options.timeoutMs }, 'draining');
    const finish = (drained: boolean) => {
      options.logger.info({ drained, ms: Date.now() - started }, drained ? 'drained, exiting' : 'drain timed out, exiting');
      void options.release().finally(() => exit(0));
    };
    setTimeout(() => {
      const deadline = setTimeout(() => {
        options.server.closeAllConnections();
        finish(false);
      }, options.timeoutMs);
      deadline.unref();
      options.server.close(() => {
        clearTimeout(deadline);
        finish(true);
      });
      options.server.closeIdleConnections();
    }, options.delayMs).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return stop;
}
