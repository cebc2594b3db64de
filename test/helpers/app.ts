import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createApp } from '../../src/app.js';
import type { CollectionConfig } from '../../src/collections/config.js';
import { loadConfig } from '../../src/config.js';
import { MemoryCacheStore } from '../../src/cache/memory-store.js';
import type { CacheStore } from '../../src/cache/store.js';
import { createContext, type AppContext } from '../../src/http/context.js';
import { startFixtureServer, type FixtureServer } from './fixture-server.js';

/**
 * The whole service on a real loopback port, over a memory cache, with the fixture server as its only
 * allowlisted private host (host:port, so other loopback ports stay refused). Collections default to the
 * embedded config/collections.json over test/fixtures.
 */
export interface TestApp {
  url: string;
  ctx: AppContext;
  fixtures: FixtureServer;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  getJson<T = any>(path: string, headers?: Record<string, string>): Promise<{ response: Response; body: T }>;
  close(): Promise<void>;
}

export async function startTestApp(
  options: { collections?: CollectionConfig[]; env?: Record<string, string>; allowHosts?: string[]; cacheStore?: CacheStore } = {},
): Promise<TestApp> {
  const fixtures = await startFixtureServer();
  const fixtureHost = new URL(fixtures.url).host;
  const config = loadConfig({
    CACHE_URL: 'memory://',
    FETCH_ALLOW_HOSTS: [fixtureHost, ...(options.allowHosts ?? [])].join(','),
    FETCH_TIMEOUT_MS: '5000',
    LOG_LEVEL: 'silent',
    ...options.env,
  });
  const ctx = createContext(config, {
    cacheStore: options.cacheStore ?? new MemoryCacheStore(64 * 1024 * 1024),
    collections: options.collections,
  });
  const app = createApp(ctx);
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', () => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const get = (path: string, headers: Record<string, string> = {}) => fetch(path.startsWith('http') ? path : `${url}${path}`, { headers });
  return {
    url,
    ctx,
    fixtures,
    get,
    async getJson(path, headers) {
      const response = await get(path, { accept: 'application/json', ...headers });
      const text = await response.text();
      let body: any;
      try {
        body = JSON.parse(text);
      } catch {
        throw new Error(`${path} answered ${response.status} with non-JSON: ${text.slice(0, 200)}`);
      }
      return { response, body };
    },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await fixtures.close();
    },
  };
}
