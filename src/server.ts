import { serve } from '@hono/node-server';
import { createApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { installClientErrorHandler } from './http/client-error.js';
import { createContext } from './http/context.js';
import { createLogger } from './logger.js';
import { createMetrics } from './metrics.js';
import { createModelRuntime, type ModelRuntime } from './model/index.js';
import { installGracefulShutdown } from './http/shutdown.js';
import type { Server } from 'node:http';

/**
 * Process entry: configuration (a bad value exits with its message), the context built once, the HTTP
 * server (listening during warm-up, ready after it), and a bounded graceful drain on SIGTERM/SIGINT (src/http/shutdown.ts).
 */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
    process.exit(2);
  }
  const logger = createLogger(config.LOG_LEVEL);
  const metrics = createMetrics();
  let ctx: ReturnType<typeof createContext>;
  let model: ModelRuntime;
  try {
    // The package is validated before anything listens: a bad MODEL_DIR is a configuration error.
    model = createModelRuntime(config, logger, {
      onRun: (part, rows) => {
        metrics.modelRuns.inc({ part });
        metrics.modelBatchRows.observe({ part }, rows);
      },
    });
    ctx = createContext(config, { logger, metrics, model });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(2);
  }
  const app = createApp(ctx);
  // Listen first: liveness (/health) answers during warm-up, readiness (/ready) only once the model is warm.
  const server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, (info) => {
    const shown = config.PUBLIC_URL ?? `http://${config.HOST === '0.0.0.0' ? 'localhost' : config.HOST}:${info.port}`;
    ctx.logger.info({ port: info.port, cache: ctx.cache.store.kind, collections: ctx.collections.configured().length }, 'listening');
    process.stdout.write(`terramind-ogc is listening: open ${shown}/?f=html (viewer: ${shown}/viewer)\n`);
  });
  // Node closes idle keep-alive sockets after 5 s; a client (or a load balancer with a 60 s idle timeout) that
  // reuses one just then gets a reset. Idle sockets stay longer than any front end keeps them.
  (server as Server).keepAliveTimeout = 65_000;
  (server as Server).headersTimeout = 66_000;
  installClientErrorHandler(server);
  installGracefulShutdown({
    server: server as Server,
    lifecycle: ctx.lifecycle,
    logger: ctx.logger,
    delayMs: config.SHUTDOWN_DELAY_MS,
    timeoutMs: config.DRAIN_TIMEOUT_MS,
    // Jobs of this instance end as failed ("the instance stopped"), not left for the staleness bound to find.
    release: async () => {
      await ctx.jobs.close();
      await model.close();
    },
  });
  if (config.MODEL_WARMUP) await model.warmUp();
  ctx.lifecycle.markReady();
  ctx.logger.info({ warmedUp: config.MODEL_WARMUP }, 'ready');
}

void main();
