import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/app.js';
import { commandsOf, recipesOf, RecipeRunner } from './helpers/recipes.js';

/**
 * The README/docs recipes marked "needs generated collections", run against a server with the bundled model and
 * `ITEM` pointing at a fixture chip. Excluded in vitest.config.ts until generated collections land (issue 7).
 */
const recipes = ['README.md', 'docs/api.md'].flatMap(recipesOf).filter((recipe) => recipe.needsGenerated);

let served: TestApp;
let runner: RecipeRunner;

beforeAll(async () => {
  served = await startTestApp({ model: true });
  runner = new RecipeRunner(served.url, { ITEM: `${served.fixtures.url}/terramind-examples/S2L2A/282D_485L_3_3.tif` });
});
afterAll(async () => {
  runner?.remove();
  await served?.close();
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
