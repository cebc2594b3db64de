import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { MemoryCacheStore } from '../src/cache/memory-store.js';
import { loadConfig } from '../src/config.js';
import { createContext } from '../src/http/context.js';
import { createModelRuntime, type ModelRuntime } from '../src/model/index.js';
import { startFixtureServer, type FixtureServer } from './helpers/fixture-server.js';
import { commandsOf, recipesOf, RecipeRunner } from './helpers/recipes.js';

/**
 * The README/docs recipes marked "needs generated collections", run against a server with the bundled model and
 * `ITEM` pointing at a fixture chip. Excluded in vitest.config.ts until generated collections land (issue 7).
 */
const recipes = ['README.md', 'docs/api.md'].flatMap(recipesOf).filter((recipe) => recipe.needsGenerated);

let fixtures: FixtureServer;
let server: ServerType;
let model: ModelRuntime;
let runner: RecipeRunner;

beforeAll(async () => {
  fixtures = await startFixtureServer();
  const config = loadConfig({ CACHE_URL: 'memory://', FETCH_ALLOW_HOSTS: new URL(fixtures.url).host, LOG_LEVEL: 'silent' });
  model = createModelRuntime(config);
  const ctx = createContext(config, { cacheStore: new MemoryCacheStore(64 << 20), model });
  ctx.lifecycle.markReady();
  server = serve({ fetch: createApp(ctx).fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', () => resolve())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  runner = new RecipeRunner(base, { ITEM: `${fixtures.url}/terramind-examples/S2L2A/282D_485L_3_3.tif` });
});
afterAll(async () => {
  runner?.remove();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await model?.close();
  await fixtures?.close();
});

describe('recipes that need generated collections', () => {
  it('found them', () => {
    expect(recipes.length).toBeGreaterThan(0);
  });
  for (const recipe of recipes) {
    for (const command of commandsOf(recipe, ['BASE', 'ITEM'])) {
      it(`${recipe.file} (${recipe.section}): ${command.slice(0, 90)}`, async () => {
        const stdout = await runner.run(command, 300_000);
        if (/\| jq/.test(command)) expect(stdout.trim()).not.toMatch(/^(null)?$/);
      });
    }
  }
});
