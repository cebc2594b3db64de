import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/app.js';

/**
 * OWSLib (Debian python3-owslib, for /usr/bin/python3) as a real client of the echo process: conformance,
 * list, describe, execute synchronously and asynchronously, poll, read and download the results. The
 * terramind-generate run of the same script is in processes-generate.test.ts.
 */
const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./clients/owslib_processes.py', import.meta.url));
const hasOwslib = existsSync('/usr/lib/python3/dist-packages/owslib/ogcapi/processes.py');

describe.skipIf(!hasOwslib)('OWSLib as a client (echo)', () => {
  let app: TestApp;
  let dir: string;
  beforeAll(async () => {
    app = await startTestApp();
    dir = await mkdtemp(join(tmpdir(), 'tmogc-owslib-'));
  });
  afterAll(async () => {
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists, describes, executes sync and async, polls to successful and reads the results', async () => {
    const { stdout } = await run(PYTHON, [SCRIPT, app.url, 'echo', JSON.stringify({ echoInput: 'from OWSLib', mixedInput: 2.5 }), dir], { timeout: 60_000 });
    const summary = JSON.parse(stdout);
    expect(summary.conformsTo).toContain('http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core');
    expect(summary.processes).toContain('echo');
    expect(summary.inputs).toEqual(['echoInput', 'pause', 'mixedInput', 'jsonInput']);
    expect(summary.outputs).toEqual(['echoInput', 'mixedOutput']);
    expect(summary.sync).toEqual({ status: 200, body: { echoInput: 'from OWSLib', mixedOutput: 2.5 } });
    expect(summary.async.status).toBe(201);
    expect(summary.async.location).toMatch(new RegExp(`^${app.url}/jobs/`));
    expect(summary.async.seen.at(-1)).toBe('successful');
    expect(summary.async.progress).toBe(100);
    expect(summary.results).toEqual({ echoInput: 'from OWSLib', mixedOutput: 2.5 });
  });
});
