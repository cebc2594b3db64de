import { serve } from '@hono/node-server';
import { createApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { installClientErrorHandler } from './http/client-error.js';
import { createContext } from './http/context.js';
import { createLogger } from './logger.js';
import { createMetrics } from './metrics.js';
import { createModelRuntime, type ModelRuntime } from './model/index.js';

/**
 * Process entry: configuration (a bad value exits with its message), the context built once, the HTTP
 * server, and a graceful stop on SIGTERM/SIGINT (in-flight requests finish, new connections are refused).
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
  // Sessions are created and run once before listening, so a passing startup probe means a warm model.
  if (config.MODEL_WARMUP) await model.warmUp();
  const app = createApp(ctx);
  const server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, (info) => {
    const shown = config.PUBLIC_URL ?? `http://${config.HOST === '0.0.0.0' ? 'localhost' : config.HOST}:${info.port}`;
    ctx.logger.info({ port: info.port, cache: ctx.cache.store.kind, collections: ctx.collections.configured().length }, 'listening');
    process.stdout.write(`terramind-ogc is listening: open ${shown}/?f=html\n`);
  });
  installClientErrorHandler(server);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    ctx.logger.info({ signal }, 'shutting down');
    server.close(() => void model.close().finally(() => process.exit(0)));
    // Keep-alive connections can hold close() open; do not hang a rolling deploy.
    setTimeout(() => process.exit(0), 10_000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

void main();
