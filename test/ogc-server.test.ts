import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createContext } from '../src/http/context.js';
import { MemoryCacheStore } from '../src/cache/memory-store.js';

/** The process entry (configuration errors, start, graceful stop) and app-level URL handling. */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSX = `${ROOT}node_modules/.bin/tsx`;

function startServer(env: Record<string, string>) {
  const child = spawn(TSX, ['src/server.ts'], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'silent', CACHE_URL: 'memory://', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => ({ stdout, stderr }) };
}

describe('server process', () => {
  it('exits with status 2 and names the variable when the configuration is bad', async () => {
    const server = startServer({ PORT: 'eighty', CACHE_URL: 'ftp://nowhere' });
    expect(await server.exited).toBe(2);
    const { stderr } = server.output();
    expect(stderr).toMatch(/PORT/);
    expect(stderr).toMatch(/CACHE_URL/);
  });

  it('exits with status 2 when the collections file is broken', async () => {
    const server = startServer({ COLLECTIONS_FILE: `${ROOT}package.json` });
    expect(await server.exited).toBe(2);
    expect(server.output().stderr).toMatch(/Invalid collections file/);
  });

  it('exits with status 2 naming the folder when MODEL_DIR holds no model package', async () => {
    const server = startServer({ MODEL_DIR: `${ROOT}docs` });
    expect(await server.exited).toBe(2);
    expect(server.output().stderr).toMatch(/manifest\.json.*docs/);
  });

  it('prints the URL to open, serves, and stops cleanly on SIGTERM', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const server = startServer({ PORT: String(port), HOST: '127.0.0.1' });
    const deadline = Date.now() + 30_000;
    while (!server.output().stdout.includes('listening') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(server.output().stdout).toContain(`http://127.0.0.1:${port}/?f=html`);
    type Health = { status: string; model: { name: string; provider: string | null } | null };
    const health = async () => (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as Health;
    // The server listens and answers while the model warms up (its sessions run in a worker thread), before any
    // session has opened and so before a provider is known.
    const early = await health();
    expect(early.status).toBe('ok');
    expect(early.model?.name).toBe('terramind-v1-test-random');
    // /ready turns 200 once the warm-up ran; by then the sessions say which provider runs them.
    while ((await fetch(`http://127.0.0.1:${port}/ready`)).status !== 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect((await health()).model).toMatchObject({ name: 'terramind-v1-test-random', provider: 'cpu' });
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    // The warm-up ran the encoder once through the batcher, and the run was counted.
    expect(metrics).toMatch(/tmogc_model_onnx_runs_total\{part="encoder\.onnx"\} [1-9]/);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});

describe('app URL handling', () => {
  const config = loadConfig({ CACHE_URL: 'memory://', LOG_LEVEL: 'silent', PUBLIC_URL: 'https://tiles.example.org/ogc/' });
  const app = createApp(createContext(config, { cacheStore: new MemoryCacheStore(1024 * 1024), collections: [] }));

  it('builds every href from PUBLIC_URL (behind a proxy)', async () => {
    const response = await app.request('http://10.0.0.5:8080/');
    const body = (await response.json()) as { links: { href: string }[] };
    for (const link of body.links) expect(link.href.startsWith('https://tiles.example.org/ogc/')).toBe(true);
  });

  it('redirects doubled slashes and accepts a trailing slash', async () => {
    const doubled = await app.request('http://localhost//conformance?f=json');
    expect(doubled.status).toBe(308);
    expect(doubled.headers.get('location')).toBe('/conformance?f=json');
    const trailing = await app.request('http://localhost/conformance/');
    expect(trailing.status).toBe(200);
  });
});
