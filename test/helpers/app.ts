import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createApp } from '../../src/app.js';
import type { CollectionConfig } from '../../src/collections/config.js';
import { loadConfig } from '../../src/config.js';
import { MemoryCacheStore } from '../../src/cache/memory-store.js';
import type { CacheStore } from '../../src/cache/store.js';
import type { Logger } from '../../src/logger.js';
import { installClientErrorHandler } from '../../src/http/client-error.js';
import { createContext, type AppContext } from '../../src/http/context.js';
import { createModelRuntime, type ModelRuntime } from '../../src/model/index.js';
import { startFixtureServer, type FixtureServer } from './fixture-server.js';
import type { ObjectStore } from '../../src/jobs/object-store.js';

/**
 * The whole service on a real loopback port, over a memory cache, with the fixture server as its only
 * allowlisted private host (host:port, so other loopback ports stay refused). Collections default to the
 * embedded config/collections.json over test/fixtures.
 */
export interface TestApp {
  url: string;
  ctx: AppContext;
  fixtures: FixtureServer;
  get(path: string, headers?: Record<string, string>, signal?: AbortSignal): Promise<Response>;
  getJson<T = any>(path: string, headers?: Record<string, string>): Promise<{ response: Response; body: T }>;
  /** POSTs a JSON body (execute requests). */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

export async function startTestApp(
  options: {
    collections?: CollectionConfig[];
    env?: Record<string, string>;
    allowHosts?: string[];
    /** Load the committed model package (generated collections, processes); true = a runtime of its own, or a runtime to share (not closed by close()). */
    model?: boolean | ModelRuntime;
    /** Observes the runtime's ONNX runs (part, rows): what chip accounting counts. */
    onRun?: (part: string, rows: number) => void;
    /** The cache store (default: a 256 MiB memory store). */
    cacheStore?: CacheStore;
    /** Run every graph once before serving (what server.ts does). */
    warmUp?: boolean;
    /** A logger of the test's own (e.g. one that collects lines); default silent. */
    logger?: Logger;
    /** The job store (default: JOBS_URL beside the memory cache, i.e. memory). */
    jobStore?: ObjectStore;
  } = {},
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
  const shared = typeof options.model === 'object' ? options.model : undefined;
  const model: ModelRuntime | undefined = shared ?? (options.model ? createModelRuntime(config, undefined, { onRun: options.onRun }) : undefined);
  const ctx = createContext(config, {
    cacheStore: options.cacheStore ?? new MemoryCacheStore(256 * 1024 * 1024),
    collections: options.collections,
    logger: options.logger,
    model,
    jobStore: options.jobStore,
  });
  if (options.warmUp) await model?.warmUp();
  ctx.lifecycle.markReady();
  const app = createApp(ctx);
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  // Generation tests keep the event loop busy for seconds: with Node's 5 s keep-alive the server can close an idle
  // socket just as fetch reuses it (ECONNRESET). A long server-side keep-alive leaves the closing to the client.
  (server as import('node:http').Server).keepAliveTimeout = 120_000;
  installClientErrorHandler(server);
  await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', () => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const get = (path: string, headers: Record<string, string> = {}, signal?: AbortSignal) =>
    fetch(path.startsWith('http') ? path : `${url}${path}`, { headers, signal });
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
    post(path, body, headers = {}) {
      return fetch(path.startsWith('http') ? path : `${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    },
    async close() {
      await ctx.jobs.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await fixtures.close();
      if (!shared) await model?.close();
    },
  };
}
