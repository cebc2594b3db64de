import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { createApp } from '../../src/app.js';
import { MemoryCacheStore } from '../../src/cache/memory-store.js';
import { loadConfig } from '../../src/config.js';
import { createContext, type AppContext } from '../../src/http/context.js';
import { createModelRuntime, type ModelRuntime } from '../../src/model/index.js';
import { startFixtureServer, type FixtureServer } from './fixture-server.js';

/**
 * The service with the bundled model package loaded (so /health reports it and generated collections can run),
 * on a loopback port, over a memory cache, with the fixture server allowlisted. Ready at once (`warmUp` optional).
 */
export interface ModelApp {
  url: string;
  ctx: AppContext;
  fixtures: FixtureServer;
  close(): Promise<void>;
}

export async function startModelApp(options: { warmUp?: boolean } = {}): Promise<ModelApp> {
  const fixtures = await startFixtureServer();
  const config = loadConfig({ CACHE_URL: 'memory://', FETCH_ALLOW_HOSTS: new URL(fixtures.url).host, LOG_LEVEL: 'silent' });
  const model: ModelRuntime = createModelRuntime(config);
  const ctx = createContext(config, { cacheStore: new MemoryCacheStore(128 << 20), model });
  if (options.warmUp) await model.warmUp();
  ctx.lifecycle.markReady();
  const server: ServerType = serve({ fetch: createApp(ctx).fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', () => resolve())));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    ctx,
    fixtures,
    async close() {
      await ctx.jobs.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await model.close();
      await fixtures.close();
    },
  };
}
