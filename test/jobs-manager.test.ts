import { afterEach, describe, expect, it } from 'vitest';
import { badRequest, OgcError } from '../src/errors.js';
import { JobManager, type JobTask, type RunningJob } from '../src/jobs/manager.js';
import { MemoryObjectStore } from '../src/jobs/memory-objects.js';
import type { ObjectStore } from '../src/jobs/object-store.js';
import type { JobRecord } from '../src/jobs/types.js';

/**
 * The job lifecycle over a real memory store (and the recording wrapper below, which only logs the order of
 * writes): queueing, heartbeats, dismissal here and from another instance, stale jobs of a dead instance, and
 * shutdown without leaving timers behind.
 */
const INIT = { processID: 'test', response: 'document' as const, outputs: [{ id: 'out', transmissionMode: 'reference' as const }], inputs: {} };
const managers: JobManager[] = [];

function manager(store: ObjectStore, options: Partial<ConstructorParameters<typeof JobManager>[1]> = {}): JobManager {
  const m = new JobManager(store, { maxRunning: 1, maxQueued: 10, heartbeatMs: 50, staleMs: 500, ...options });
  managers.push(m);
  return m;
}

afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.close()));
});

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

/** A task that writes one file, reports progress and waits for its gate (or its signal). */
function gatedTask(g: { opened: Promise<void> }, limited = true, seen: { signal?: AbortSignal } = {}): JobTask {
  return {
    limited,
    async run(job: RunningJob) {
      seen.signal = job.signal;
      job.progress(10, { message: 'started' });
      const file = await job.putFile('out.txt', new TextEncoder().encode('partial'), 'text/plain');
      await Promise.race([g.opened, new Promise((_, reject) => job.signal.addEventListener('abort', () => reject(job.signal.reason)))]);
      job.progress(90);
      return { outputs: { out: file } };
    },
  };
}

async function until(check: () => Promise<boolean> | boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function timers(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
}

describe('JobManager', () => {
  it('stores the job before it runs; results, then results.json, then "successful"', async () => {
    const store = new MemoryObjectStore();
    const order: string[] = [];
    const recording: ObjectStore = Object.assign(Object.create(store), {
      put: async (key: string, body: Uint8Array, type: string) => {
        const status = key.endsWith('status.json') ? `:${(JSON.parse(new TextDecoder().decode(body)) as JobRecord).status}` : '';
        order.push(`${key.split('/').slice(2).join('/')}${status}`);
        return store.put(key, body, type);
      },
    });
    const jobs = manager(recording);
    const g = gate();
    const { record, done } = await jobs.submit(INIT, gatedTask(g));
    expect(record.status).toBe('accepted');
    expect(order[0]).toBe('status.json:accepted');
    await until(async () => (await jobs.repository.read(record.jobID))?.progress === 10, 'progress 10');
    g.open();
    const final = await done;
    expect(final.status).toBe('successful');
    expect(final.progress).toBe(100);
    const statuses = order.filter((entry) => entry.startsWith('status.json'));
    expect(statuses[0]).toBe('status.json:accepted');
    expect(statuses.at(-1)).toBe('status.json:successful');
    const file = order.indexOf('results/out.txt');
    const results = order.indexOf('results.json');
    const successful = order.indexOf('status.json:successful');
    expect(file).toBeGreaterThan(0);
    expect(results).toBeGreaterThan(file);
    expect(successful).toBeGreaterThan(results);
    expect(await jobs.repository.readResults(record.jobID)).toEqual({
      outputs: { out: { kind: 'file', name: 'out.txt', mediaType: 'text/plain', size: 7, etag: expect.stringMatching(/^"[0-9a-f]{32}"$/) } },
    });
  });

  it('runs at most maxRunning limited jobs; the rest wait as accepted, in order; unlimited ones do not wait', async () => {
    const jobs = manager(new MemoryObjectStore(), { maxRunning: 1 });
    const gates = [gate(), gate(), gate()];
    const submitted = await Promise.all(gates.map((g) => jobs.submit(INIT, gatedTask(g))));
    const [a, b, c] = submitted.map((s) => s.record.jobID);
    await until(async () => (await jobs.repository.read(a))?.status === 'running', 'first running');
    expect(jobs.counts()).toEqual({ running: 1, queued: 2 });
    expect((await jobs.repository.read(b))?.status).toBe('accepted');
    expect((await jobs.repository.read(c))?.status).toBe('accepted');

    const free = gate();
    const echo = await jobs.submit(INIT, gatedTask(free, false));
    await until(async () => (await jobs.repository.read(echo.record.jobID))?.status === 'running', 'unlimited job running at once');
    free.open();
    expect((await echo.done).status).toBe('successful');

    gates[0].open();
    gates[1].open();
    gates[2].open();
    const finals = await Promise.all(submitted.map((s) => s.done));
    expect(finals.map((f) => f.status)).toEqual(['successful', 'successful', 'successful']);
    const started = finals.map((f) => Date.parse(f.started!));
    expect(started).toEqual([...started].sort((x, y) => x - y));
    expect(Date.parse(finals[1].started!)).toBeGreaterThanOrEqual(Date.parse(finals[0].finished!));
  });

  it('past JOBS_MAX_QUEUED a new limited job is a 503 that names the limit', async () => {
    const jobs = manager(new MemoryObjectStore(), { maxRunning: 1, maxQueued: 1 });
    const g = gate();
    await jobs.submit(INIT, gatedTask(g));
    await jobs.submit(INIT, gatedTask(g));
    const error = await jobs.submit(INIT, gatedTask(g)).catch((e) => e);
    expect(error).toBeInstanceOf(OgcError);
    expect(error.status).toBe(503);
    expect(error.detail).toContain('JOBS_MAX_QUEUED = 1');
    expect(error.headers).toEqual({ 'retry-after': '30' });
    g.open();
  });

  it('dismissing a running job aborts its signal, removes its files and keeps it dismissed', async () => {
    const jobs = manager(new MemoryObjectStore());
    const seen: { signal?: AbortSignal } = {};
    const { record, done } = await jobs.submit(INIT, gatedTask(gate(), true, seen));
    await until(async () => (await jobs.repository.store.head(`jobs/${record.jobID}/results/out.txt`)) !== undefined, 'partial file');
    const dismissed = await jobs.dismiss(record.jobID);
    expect(dismissed?.status).toBe('dismissed');
    expect(seen.signal?.aborted).toBe(true);
    expect((await done).status).toBe('dismissed');
    expect(await jobs.repository.store.head(`jobs/${record.jobID}/results/out.txt`)).toBeUndefined();
    // Heartbeats after the dismissal do not bring it back; dismissing again answers the same.
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect((await jobs.repository.read(record.jobID))?.status).toBe('dismissed');
    expect((await jobs.dismiss(record.jobID))?.status).toBe('dismissed');
    expect(await jobs.dismiss('0000000000a-000000000000')).toBeUndefined();
  });

  it('a dismissal made by another instance stops the job where it runs (through the heartbeat)', async () => {
    const store = new MemoryObjectStore();
    const a = manager(store);
    const b = manager(store);
    const seen: { signal?: AbortSignal } = {};
    const { record, done } = await a.submit(INIT, gatedTask(gate(), true, seen));
    await until(async () => (await b.repository.read(record.jobID))?.status === 'running', 'running, seen from b');
    await b.dismiss(record.jobID);
    await until(() => seen.signal?.aborted === true, 'abort on a');
    expect((await done).status).toBe('dismissed');
  });

  it('heartbeats keep `updated` moving; a job whose instance died is reported failed, with its results removed', async () => {
    const store = new MemoryObjectStore();
    const live = manager(store);
    const g = gate();
    const { record } = await live.submit(INIT, gatedTask(g));
    const first = (await live.repository.read(record.jobID))!.updated;
    await until(async () => (await live.repository.read(record.jobID))!.updated !== first, 'a heartbeat');
    g.open();

    // A job left running by an instance that is gone: its last heartbeat is older than staleMs.
    const other = manager(store, { staleMs: 300 });
    const dead: JobRecord = { ...INIT, jobID: other.repository.newJobId(), status: 'running', created: '2020-01-01T00:00:00Z', started: '2020-01-01T00:00:01Z', updated: new Date(Date.now() - 1000).toISOString(), instance: 'gone' };
    await other.repository.save(dead);
    await other.repository.putResultFile(dead.jobID, 'half.tif', new Uint8Array(10), 'image/tiff');
    const seen = (await other.repository.read(dead.jobID))!;
    expect(seen.status).toBe('failed');
    expect(seen.message).toMatch(/stopped sending heartbeats at .*the job did not finish; its partial results were removed/);
    expect(seen.exception?.status).toBe(500);
    expect((await other.repository.readRaw(dead.jobID))?.status).toBe('failed');
    expect(await store.head(`jobs/${dead.jobID}/results/half.tif`)).toBeUndefined();
  });

  it('a task failure is recorded as the OgcError it threw, anything else as a 500 without internals', async () => {
    const jobs = manager(new MemoryObjectStore());
    const bad = await jobs.submit(INIT, { limited: true, run: async () => Promise.reject(badRequest('inputs.bbox: inverted')) });
    expect((await bad.done).exception).toEqual({ type: 'http://www.opengis.net/def/exceptions/ogcapi-common-1/1.0/bad-request', title: 'Bad request', status: 400, detail: 'inputs.bbox: inverted' });
    const crash = await jobs.submit(INIT, { limited: true, run: async () => Promise.reject(new Error('/secret/path exploded')) });
    const final = await crash.done;
    expect(final.status).toBe('failed');
    expect(final.exception?.status).toBe(500);
    expect(JSON.stringify(final)).not.toContain('/secret/path');
  });

  it('close() stops running and queued jobs as failed and leaves no timer behind', async () => {
    const before = timers();
    const jobs = new JobManager(new MemoryObjectStore(), { maxRunning: 1, maxQueued: 10, heartbeatMs: 50, staleMs: 500 });
    const running = await jobs.submit(INIT, gatedTask(gate()));
    const queued = await jobs.submit(INIT, gatedTask(gate()));
    await until(async () => (await jobs.repository.read(running.record.jobID))?.status === 'running', 'running');
    expect(timers()).toBeGreaterThan(before);
    await jobs.close();
    expect((await running.done).message).toBe('The service instance stopped while it ran; submit the job again.');
    expect((await queued.done).message).toBe('The service instance stopped before it started; submit the job again.');
    expect((await jobs.repository.readRaw(running.record.jobID))?.status).toBe('failed');
    expect(timers()).toBe(before);
    await expect(jobs.submit(INIT, gatedTask(gate()))).rejects.toThrow(/shutting down/);
  });
});
