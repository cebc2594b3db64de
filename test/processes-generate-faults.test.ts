import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { FileObjectStore } from '../src/jobs/file-objects.js';
import { createModelRuntime, type ModelRuntime } from '../src/model/index.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { startFixtureServer, type FixtureServer } from './helpers/fixture-server.js';
import { expectValid } from './helpers/ogc-schemas.js';
import { processesSchemas } from './helpers/processes-schemas.js';

/**
 * terramind-generate when things go wrong: bad input for every input field (a 400 naming the field, nothing
 * left in the job store), a dismissal during a run (counted in chips: no more are generated), and an instance
 * killed with SIGKILL mid-run (after a restart on the same JOBS_URL the job is failed, never running forever,
 * and no partial result is served).
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const A = 'terramind-examples/S2L2A/38D_378R_2_3.tif';
const B = 'terramind-examples/S1RTC/282D_485L_3_3.tif';
const jsonOf = (response: Response): Promise<any> => response.json();

let model: ModelRuntime;
beforeAll(() => {
  model = createModelRuntime(loadConfig({ LOG_LEVEL: 'silent' }));
});
afterAll(async () => {
  await model?.close();
});

async function waitFor(location: string, done: (status: any) => boolean, ms = 60_000): Promise<any> {
  const end = Date.now() + ms;
  for (;;) {
    const status = await jsonOf(await fetch(location));
    if (done(status)) return status;
    if (Date.now() > end) throw new Error(`job ${location}: still ${JSON.stringify(status).slice(0, 300)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('bad input, field by field', () => {
  let app: TestApp;
  let href: string;
  beforeAll(async () => {
    app = await startTestApp({ model, env: { JOB_MAX_CHIPS: '2' } });
    href = `${app.fixtures.url}/${A}`;
  });
  afterAll(async () => {
    await app?.close();
  });

  const cases: [string, () => Record<string, unknown>, RegExp][] = [
    ['missing sources', () => ({ generate: ['LULC'] }), /inputs\.sources: Invalid input: expected array, received undefined/],
    ['no source', () => ({ sources: [], generate: ['LULC'] }), /inputs\.sources: Too small: expected array to have >=1 items/],
    ['unknown source modality', () => ({ sources: [{ modality: 'RGBX', href }], generate: ['LULC'] }), /inputs\.sources\.0\.modality: Invalid option: expected one of/],
    ['source href not a URL', () => ({ sources: [{ modality: 'S2L2A', href: 'item.json' }], generate: ['LULC'] }), /inputs\.sources\.0\.href: Invalid URL/],
    ['source given twice', () => ({ sources: [{ modality: 'S2L2A', href }, { modality: 'S2L2A', href }], generate: ['LULC'] }), /Source modality S2L2A is given twice/],
    ['sources that do not overlap', () => ({ sources: [{ modality: 'S2L2A', href }, { modality: 'S1RTC', href: href.replace(A, B) }], generate: ['LULC'] }), /The sources do not overlap, so there is nothing to generate from: S2L2A covers \[34.0559, -3.4115, 34.0761, -3.3912\]; S1RTC covers \[-48.1174, -25.3263, -48.0947, -25.3056\]/],
    ['unknown modality in generate', () => ({ sources: [{ modality: 'S2L2A', href }], generate: ['XYZ'] }), /inputs\.generate\.0: Invalid option: expected one of/],
    ['nothing to generate', () => ({ sources: [{ modality: 'S2L2A', href }] }), /inputs\.generate: name the modalities to generate/],
    ['bbox in an unknown CRS', () => ({ sources: [{ modality: 'S2L2A', href }], generate: ['LULC'], bbox: { bbox: [0, 0, 1, 1], crs: 'EPSG:9999' } }), /inputs\.bbox\.crs: Unsupported CRS EPSG:9999: supported are EPSG:4326, OGC CRS84/],
    ['inverted bbox', () => ({ sources: [{ modality: 'S2L2A', href }], generate: ['LULC'], bbox: { bbox: [34.07, -3.39, 34.06, -3.41] } }), /inputs\.bbox\.bbox: \[34\.07, -3\.39, 34\.06, -3\.41\] is inverted or empty/],
    ['bbox elsewhere', () => ({ sources: [{ modality: 'S2L2A', href }], generate: ['LULC'], bbox: { bbox: [10, 10, 11, 11] } }), /inputs\.bbox: \[10, 10, 11, 11\] \(EPSG:4326\) does not overlap the sources' common footprint/],
    ['oversize bbox', () => ({ sources: [{ modality: 'S2L2A', href }], generate: ['LULC'], bbox: { bbox: [30, -10, 40, 0] } }), /inputs\.bbox: the area needs 6 chips of 224 x 224 px \(226 x 226 px at 10 m\), more than the 2 a job may generate \(JOB_MAX_CHIPS\)/],
    ['bbox of 3 numbers', () => ({ sources: [{ modality: 'S2L2A', href }], generate: ['LULC'], bbox: { bbox: [1, 2, 3] } }), /inputs\.bbox\.bbox: Too small: expected array to have >=4 items/],
    ['bbox as a string', () => ({ sources: [{ modality: 'S2L2A', href }], generate: ['LULC'], bbox: '0,0,1,1' }), /inputs\.bbox: Invalid input: expected object, received string/],
    ['seed of a wrong type', () => ({ sources: [{ modality: 'S2L2A', href }], generate: ['LULC'], seed: 'seven' }), /inputs\.seed: Invalid input: expected number, received string/],
    ['negative seed', () => ({ sources: [{ modality: 'S2L2A', href }], generate: ['LULC'], seed: -1 }), /inputs\.seed: Too small: expected number to be >=0/],
    ['timesteps 0', () => ({ sources: [{ modality: 'S2L2A', href }], generate: ['LULC'], timesteps: 0 }), /inputs\.timesteps: Too small: expected number to be >=1/],
    ['negative temperature', () => ({ sources: [{ modality: 'S2L2A', href }], generate: ['LULC'], temperature: -1 }), /inputs\.temperature: Too small: expected number to be >=0/],
    ['top_p 0', () => ({ sources: [{ modality: 'S2L2A', href }], generate: ['LULC'], top_p: 0 }), /inputs\.top_p: Too small: expected number to be >0/],
    ['top_k not an integer', () => ({ sources: [{ modality: 'S2L2A', href }], generate: ['LULC'], top_k: 1.5 }), /inputs\.top_k: Invalid input: expected int, received number/],
    ['thinking in a pixel modality', () => ({ sources: [{ modality: 'S2L2A', href }], generate: ['LULC'], thinking: ['S2L2A'] }), /inputs\.thinking\.0: Invalid option: expected one of/],
    ['unknown input', () => ({ sources: [{ modality: 'S2L2A', href }], generate: ['LULC'], colour: 'red' }), /inputs: unknown input colour/],
  ];

  it.each(cases)('%s', async (_name, body, detail) => {
    const before = await app.ctx.jobs.repository.store.listChildren('jobs/', { limit: 10_000 });
    const response = await app.post('/processes/terramind-generate/execution', { inputs: body() }, { prefer: 'respond-async' });
    const problem = await jsonOf(response);
    expect(response.status, JSON.stringify(problem)).toBe(400);
    expectValid(processesSchemas().exception, problem, 'exception');
    expect(problem.detail).toMatch(detail);
    expect(await app.ctx.jobs.repository.store.listChildren('jobs/', { limit: 10_000 })).toEqual(before);
  });

  it('an output the request names but does not generate', async () => {
    const response = await app.post('/processes/terramind-generate/execution', { inputs: { sources: [{ modality: 'S2L2A', href }], generate: ['LULC'] }, outputs: { DEM: {} } });
    expect(response.status).toBe(400);
    expect((await jsonOf(response)).detail).toBe('outputs.DEM: DEM is not among inputs.generate (LULC).');
  });
});

describe('dismiss during a run', () => {
  let app: TestApp;
  beforeAll(async () => {
    // One chip at a time, so a dismissal lands between chips.
    app = await startTestApp({ model, env: { GENERATION_CONCURRENCY: '1', JOB_HEARTBEAT_MS: '200', JOB_STALE_MS: '2000' } });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('no more chips are generated for the job (counted by the engine), its status is dismissed and its files are gone', async () => {
    const engine = app.ctx.engine!;
    const before = engine.stats().generated;
    const response = await app.post(
      '/processes/terramind-generate/execution',
      { inputs: { sources: [{ modality: 'S2L2A', href: `${app.fixtures.url}/${A}` }], generate: ['DEM'], seed: 4242, timesteps: 3 }, response: 'document' },
      { prefer: 'respond-async' },
    );
    const location = response.headers.get('location')!;
    await waitFor(location, () => engine.stats().generated - before >= 1);
    const dismissed = await fetch(location, { method: 'DELETE' });
    expect((await jsonOf(dismissed)).status).toBe('dismissed');
    const atDismissal = engine.stats().generated - before;
    // Long enough for every remaining chip had the job gone on (a chip takes well under a second here).
    await new Promise((resolve) => setTimeout(resolve, 4000));
    const after = engine.stats().generated - before;
    expect(after, `generated ${atDismissal} before the dismissal, ${after} in the end`).toBeLessThanOrEqual(atDismissal + 1);
    expect(after).toBeLessThan(6);
    expect(engine.stats().queued).toBe(0);
    const status = await jsonOf(await fetch(location));
    expect(status.status).toBe('dismissed');
    expect((await fetch(`${location}/results`)).status).toBe(410);
    const id = location.split('/').pop()!;
    expect(await app.ctx.jobs.repository.store.listChildren(`jobs/${id}/`, { limit: 100 })).toEqual(['dismissed', 'status.json']);
    // What is staged elsewhere stays: the chips it generated are in the cache for the tiles (and a new job).
    expect((app.ctx.cache.store as import('../src/cache/memory-store.js').MemoryCacheStore).sizeBytes).toBeGreaterThan(0);
  });
});

describe('a full generation queue', () => {
  let app: TestApp;
  beforeAll(async () => {
    // One chip runs, one waits: every further chip a read asks for is a 503 + Retry-After from the engine.
    app = await startTestApp({ model, env: { GENERATION_CONCURRENCY: '1', GENERATION_QUEUE_MAX: '1' } });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('a job waits it out (Retry-After) instead of failing, and finishes with every chip', async () => {
    const body = { inputs: { sources: [{ modality: 'S2L2A', href: `${app.fixtures.url}/${A}` }], generate: ['LULC'], seed: 31, timesteps: 1 }, response: 'document' };
    const response = await app.post('/processes/terramind-generate/execution', body, { prefer: 'respond-async' });
    const location = response.headers.get('location')!;
    const messages = new Set<string>();
    const done = await waitFor(location, (status) => {
      messages.add(status.message);
      return ['successful', 'failed', 'dismissed'].includes(status.status);
    }, 120_000);
    expect(done.status, done.message).toBe('successful');
    expect(done.chips.done).toBe(6);
    expect([...messages].some((m) => /^The generation queue is full \(tiles are being generated\); retrying in \d+ s\.$/.test(m))).toBe(true);
  });
});

describe('an instance killed with SIGKILL mid-run', () => {
  let fixtures: FixtureServer;
  let jobsDir: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    fixtures = await startFixtureServer();
    jobsDir = await mkdtemp(join(tmpdir(), 'tmogc-kill-'));
  });
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await fixtures?.close();
    await rm(jobsDir, { recursive: true, force: true });
  });

  /** The service as a child process (node + tsx src/server.ts), on an ephemeral port; resolves with its URL. */
  function startService(): Promise<{ url: string; child: ChildProcess }> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: '0',
        HOST: '127.0.0.1',
        CACHE_URL: 'memory://',
        JOBS_URL: pathToFileURL(jobsDir).href,
        FETCH_ALLOW_HOSTS: new URL(fixtures.url).host,
        MODEL_WARMUP: 'false',
        GENERATION_CONCURRENCY: '1',
        JOB_HEARTBEAT_MS: '200',
        JOB_STALE_MS: '1500',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    return new Promise((resolve, reject) => {
      let output = '';
      const timer = setTimeout(() => reject(new Error(`service did not start: ${output}`)), 60_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const match = /listening: open (http:\/\/[^/\s]+)\//.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve({ url: match[1].replace('localhost', '127.0.0.1'), child });
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`service exited with ${code}: ${output}`));
      });
    });
  }

  it('after a restart on the same JOBS_URL the job is failed with a message, and no partial result is served', async () => {
    const first = await startService();
    const response = await fetch(`${first.url}/processes/terramind-generate/execution`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', prefer: 'respond-async' },
      body: JSON.stringify({ inputs: { sources: [{ modality: 'S2L2A', href: `${fixtures.url}/${A}` }], generate: ['DEM'], seed: 77, timesteps: 4 }, response: 'document' }),
    });
    expect(response.status).toBe(201);
    const path = new URL(response.headers.get('location')!).pathname;
    await waitFor(`${first.url}${path}`, (status) => status.status === 'running' && (status.chips?.done ?? 0) >= 1);
    const exited = new Promise((resolve) => first.child.once('exit', resolve));
    first.child.kill('SIGKILL');
    await exited;

    const second = await startService();
    try {
      const seen: string[] = [];
      const failed = await waitFor(`${second.url}${path}`, (status) => {
        seen.push(status.status);
        return status.status !== 'running' && status.status !== 'accepted';
      });
      expect(failed.status).toBe('failed');
      expect(seen.every((status) => status === 'running' || status === 'failed')).toBe(true);
      expect(failed.message).toMatch(/stopped sending heartbeats at .* \(its process ended or was killed\), so the job did not finish; its partial results were removed/);
      const results = await fetch(`${second.url}${path}/results`);
      expect(results.status).toBe(500);
      expect((await jsonOf(results)).type).toBe('http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/job-stopped');
      expect((await fetch(`${second.url}${path}/results/DEM`)).status).toBe(500);
      const id = path.split('/').pop()!;
      // No result file, only the status. (A write cut by the SIGKILL may leave its temp file: never read as an object.)
      expect((await readdir(join(jobsDir, 'jobs', id), { recursive: true })).filter((name) => !name.endsWith('.tmp'))).toEqual(['status.json']);
      expect(await new FileObjectStore(jobsDir).listChildren(`jobs/${id}/`, { limit: 100 })).toEqual(['status.json']);
      const list = await jsonOf(await fetch(`${second.url}/jobs?status=failed`));
      expect(list.jobs.map((job: any) => job.jobID)).toContain(id);
    } finally {
      second.child.kill('SIGTERM');
    }
  });
});
