import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/app.js';
import { commandsOf, recipesOf, RecipeRunner, ROOT } from './helpers/recipes.js';

/**
 * The docs cannot rot: every command in README.md and docs/api.md runs here against a test server and must
 * succeed (curl fails on HTTP errors, pipelines fail on any failing part, jq filters must find something).
 * Recipes that need generated collections run in test/client-docs-generated.test.ts (excluded until issue 7).
 * The README's two set-up commands are checked against what CI runs.
 */
const DOCS = ['README.md', 'docs/api.md'];
const all = DOCS.flatMap(recipesOf);
const runnable = all.filter((recipe) => !recipe.needsGenerated && !(recipe.file === 'README.md' && recipe.section === 'Set-up'));

let app: TestApp;
let runner: RecipeRunner;

beforeAll(async () => {
  app = await startTestApp();
  runner = new RecipeRunner(app.url);
});
afterAll(async () => {
  runner?.remove();
  await app?.close();
});

describe('README set-up', () => {
  const setup = all.filter((recipe) => recipe.file === 'README.md' && recipe.section === 'Set-up');

  it('has exactly two commands: install and start, install and test', () => {
    expect(setup.map((recipe) => recipe.text)).toHaveLength(2);
    expect(setup[0].text).toBe('npm ci && npm start');
    expect(setup[1].text).toMatch(/&& npm ci && npm test$/);
  });

  it('the test command installs exactly the Debian packages CI installs, with or without sudo', async () => {
    const listed = /apt-get install -y --no-install-recommends ([a-z0-9 .+-]+?) &&/.exec(setup[1].text)?.[1].split(' ') ?? [];
    const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8');
    const ciPackages = /apt_packages=\(([^)]*)\)/.exec(ci)?.[1].trim().split(/\s+/) ?? [];
    expect(listed.sort()).toEqual(ciPackages.sort());
    // `$(command -v sudo)` is sudo for a user and nothing in a root shell without sudo; both run the same dpkg query.
    expect(setup[1].text.startsWith('$(command -v sudo) apt-get update && $(command -v sudo) env DEBIAN_FRONTEND=noninteractive apt-get install')).toBe(true);
    const out = await runner.run(`$(command -v sudo) dpkg-query -W -f '\${Package}\\n' ${listed.join(' ')}`);
    expect(out.trim().split('\n').sort()).toEqual(listed.sort());
  });

  it('CI runs the same npm commands', () => {
    const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8');
    expect(ci).toMatch(/^npm ci /m);
    expect(ci).toMatch(/^npm test$/m);
  });
});

describe('recipes', () => {
  it('found the recipes (a broken parser must not pass by running nothing)', () => {
    expect(runnable.filter((recipe) => recipe.language === 'sh').length).toBeGreaterThanOrEqual(3);
    expect(runnable.filter((recipe) => recipe.language === 'xml')).toHaveLength(1);
  });

  for (const recipe of runnable.filter((r) => r.language === 'sh')) {
    for (const command of commandsOf(recipe, ['BASE', 'ITEM'])) {
      it(`${recipe.file} (${recipe.section}): ${command.slice(0, 90)}`, async () => {
        const stdout = await runner.run(command);
        if (/\| (jq|grep)/.test(command)) {
          expect(stdout.trim()).not.toBe('');
          expect(stdout.trim()).not.toBe('null');
        }
      });
    }
  }

  for (const recipe of runnable.filter((r) => r.language === 'xml')) {
    it(`${recipe.file} (${recipe.section}): the GDAL_WMS XML opens in GDAL`, async () => {
      const path = runner.writeXml(recipe, 'recipe.xml');
      const stdout = await runner.run(`gdalinfo ${path}`);
      expect(stdout).toContain('Driver: WMS/OGC Web Map Service');
      expect(stdout).toMatch(/Size is 4194304, 4194304/);
    });
  }
});
