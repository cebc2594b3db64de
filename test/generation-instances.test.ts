import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFixtureServer, type FixtureServer } from './helpers/fixture-server.js';
import { startS3, S3RVER_CREDENTIALS, type S3Fixture } from './helpers/s3.js';
import { slippyTile } from './helpers/tiles.js';

/**
 * Two service processes (the real entry, src/server.ts) sharing one cache: a burst of the same tiles sent to both
 * at once generates each chip once across them. On a file store the chip lease is one create-only link(2); on
 * s3rver, which ignores If-None-Match, the engine's probe finds that out and falls back to write, settle and read
 * back (docs/cache.md), which a write further apart than the settle time could still race.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSX = `${ROOT}node_modules/.bin/tsx`;

interface Instance {
  url: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
}

async function startInstance(env: Record<string, string>): Promise<Instance> {
  const port = 20000 + Math.floor(Math.random() * 30000);
  const child = spawn(TSX, ['src/server.ts'], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', PORT: String(port), HOST: '127.0.0.1', ...env },
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (!output.includes('listening') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
  if (!output.includes('listening')) throw new Error(`instance did not start: ${output}`);
  return { url: `http://127.0.0.1:${port}`, child, exited, output: () => output };
}

async function chipCount(instance: Instance, origin: string): Promise<number> {
  const text = await (await fetch(`${instance.url}/metrics`)).text();
  const match = new RegExp(`tmogc_generation_chips_total\\{origin="${origin}",output="LULC"\\} (\\d+)`).exec(text);
  return match ? Number(match[1]) : 0;
}

/** The zoom-16 tiles over the example chip (6 lattice chips in all, see generation-chips.test.ts). */
function tiles(): [number, number][] {
  const [r0, c0] = slippyTile(34.056, -3.3913, 16);
  const [r1, c1] = slippyTile(34.0761, -3.4114, 16);
  const out: [number, number][] = [];
  for (let r = r0; r <= r1; r += 1) for (let c = c0; c <= c1; c += 1) out.push([r, c]);
  return out;
}

let fixtures: FixtureServer;
beforeAll(async () => {
  fixtures = await startFixtureServer();
});
afterAll(() => fixtures?.close());

describe.each([
  { store: 'a shared folder (create-only leases)', exact: true },
  { store: 'one s3rver bucket (write-and-read-back leases)', exact: false },
])('two instances over $store', { timeout: 300_000 }, ({ exact }) => {
  let s3: S3Fixture | undefined;
  let dir: string | undefined;
  let a: Instance;
  let b: Instance;

  beforeAll(async () => {
    let cache: Record<string, string>;
    if (exact) {
      dir = await mkdtemp(join(tmpdir(), 'tmogc-shared-cache-'));
      cache = { CACHE_URL: pathToFileURL(dir).href };
    } else {
      s3 = await startS3({ bucket: 'shared' });
      cache = {
        CACHE_URL: 's3://shared/cache',
        S3_ENDPOINT: s3.endpoint,
        S3_FORCE_PATH_STYLE: 'true',
        AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
        GENERATION_LEASE_SETTLE_MS: '1000',
      };
    }
    const env = { ...cache, FETCH_ALLOW_HOSTS: new URL(fixtures.url).host };
    [a, b] = await Promise.all([startInstance(env), startInstance(env)]);
  }, 120_000);

  afterAll(async () => {
    for (const instance of [a, b]) {
      if (!instance) continue;
      instance.child.kill('SIGTERM');
      await instance.exited;
    }
    await s3?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a burst sent to both at once generates each chip once across them, and both serve the same bytes', async () => {
    const source = encodeURIComponent(`${fixtures.url}/terramind-examples/S2L2A/38D_378R_2_3.tif`);
    const path = ([r, c]: [number, number]) => `/collections/LULC/coverage/tiles/WebMercatorQuad/16/${r}/${c}?S2L2A=${source}&timesteps=1&seed=4`;
    const list = tiles();
    const bodies = await Promise.all(
      [a, b].flatMap((instance) =>
        list.map(async (tile) => {
          const response = await fetch(`${instance.url}${path(tile)}`);
          expect(response.status).toBe(200);
          return Buffer.from(await response.arrayBuffer());
        }),
      ),
    );
    list.forEach((_, k) => expect(bodies[k]!.equals(bodies[list.length + k]!)).toBe(true));
    const generated = (await chipCount(a, 'generated')) + (await chipCount(b, 'generated'));
    const reused = (await chipCount(a, 'peer')) + (await chipCount(b, 'peer')) + (await chipCount(a, 'store')) + (await chipCount(b, 'store'));
    if (exact) expect(generated).toBe(6);
    // Without leases both would generate all 6 at once (12); the fallback may lose a race by a write's delay.
    else expect(generated).toBeLessThanOrEqual(7);
    expect(generated).toBeGreaterThanOrEqual(6);
    // Each instance got each of the 6 chips once from outside its memory: generated it, or took the other's from
    // the shared store (at once, or after waiting on its lease).
    expect(generated + reused).toBe(12);
  });
});
