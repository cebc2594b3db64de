import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { FIXTURES } from './helpers/fixture-server.js';

/**
 * The real server (src/server.ts) as a child process: readiness is 503 while the model warms up and 200 after;
 * SIGTERM turns readiness to 503 at once, lets in-flight requests finish, and exits within DRAIN_TIMEOUT_MS
 * even when a request would never finish.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TCI = `${FIXTURES}cog/titiler/TCI.tif`;

interface Child {
  process: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<{ code: number | null; at: number }>;
}

const children: ChildProcess[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

async function startServer(env: Record<string, string>): Promise<Child> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', CACHE_URL: 'memory://', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<{ code: number | null; at: number }>((resolve) => child.once('exit', (code) => resolve({ code, at: Date.now() })));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${output}`)), 60_000);
    const check = () => {
      const match = /listening: open (http:\/\/127\.0\.0\.1:\d+)\//.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout!.on('data', check);
    void exited.then(() => reject(new Error(`server exited: ${output}`)));
  });
  return { process: child, url, output: () => output, exited };
}

/** A loopback source that serves TCI.tif with ranges, each response after `delayMs`. */
async function slowSource(delayMs: number): Promise<string> {
  const bytes = readFileSync(TCI);
  const size = statSync(TCI).size;
  const server = createServer((req, res) => {
    setTimeout(() => {
      const match = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
      if (!match) return void res.writeHead(200, { 'content-length': size, 'accept-ranges': 'bytes' }).end(bytes);
      const start = Number(match[1]);
      const end = Math.min(match[2] ? Number(match[2]) : size - 1, size - 1);
      res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': end - start + 1, 'accept-ranges': 'bytes' }).end(bytes.subarray(start, end + 1));
    }, delayMs);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function readyStatus(url: string): Promise<number> {
  return (await fetch(`${url}/ready`)).status;
}

describe('readiness and graceful drain (real server process)', () => {
  it('readiness is 503 during warm-up and 200 after; liveness is 200 throughout', async () => {
    const child = await startServer({ MODEL_WARMUP: 'true' });
    const seen: number[] = [];
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const [ready, health] = await Promise.all([readyStatus(child.url), fetch(`${child.url}/health`).then((r) => r.status)]);
      expect(health).toBe(200);
      seen.push(ready);
      if (ready === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(seen[0]).toBe(503);
    expect(seen.at(-1)).toBe(200);
    // Once ready it stays ready.
    expect(await readyStatus(child.url)).toBe(200);
    const body = (await (await fetch(`${child.url}/health`)).json()) as { model: { name: string; weights: string } };
    expect(body.model.weights).toBe('random');
    child.process.kill('SIGTERM');
    expect((await child.exited).code).toBe(0);
  });

  it('SIGTERM: readiness turns 503, an in-flight request still completes, then the process exits', async () => {
    const source = await slowSource(1_500);
    const child = await startServer({ MODEL_WARMUP: 'false', FETCH_ALLOW_HOSTS: new URL(source).host, SHUTDOWN_DELAY_MS: '500', DRAIN_TIMEOUT_MS: '8000' });
    while ((await readyStatus(child.url)) !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
    const inFlight = fetch(`${child.url}/collections/S2RGB?S2RGB=${encodeURIComponent(`${source}/TCI.tif`)}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const signalled = Date.now();
    child.process.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Within the shutdown delay the listener is still open and says "not ready".
    const ready = await fetch(`${child.url}/ready`);
    expect(ready.status).toBe(503);
    expect(ready.headers.get('x-lifecycle')).toBe('draining');
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(((await response.json()) as { id: string }).id).toBe('S2RGB');
    const { code, at } = await child.exited;
    expect(code).toBe(0);
    expect(at - signalled).toBeLessThan(8_000);
    expect(child.output()).toMatch(/"drained":true/);
  });

  it('SIGTERM exits within DRAIN_TIMEOUT_MS even when a request would never finish', async () => {
    const source = await slowSource(60_000);
    const child = await startServer({ MODEL_WARMUP: 'false', FETCH_ALLOW_HOSTS: new URL(source).host, FETCH_TIMEOUT_MS: '120000', DRAIN_TIMEOUT_MS: '1000' });
    const stuck = fetch(`${child.url}/collections/S2RGB?S2RGB=${encodeURIComponent(`${source}/TCI.tif`)}`).then(
      (r) => r.status,
      () => 'cut',
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    const signalled = Date.now();
    child.process.kill('SIGTERM');
    const { code, at } = await child.exited;
    expect(code).toBe(0);
    expect(at - signalled).toBeGreaterThanOrEqual(1_000);
    expect(at - signalled).toBeLessThan(4_000);
    expect(await stuck).toBe('cut');
    expect(child.output()).toMatch(/"drained":false/);
  });
});
