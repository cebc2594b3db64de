import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CACHE_VERSION, cacheKey, GENERATION_VERSION, RENDER_VERSION } from '../src/cache/keys.js';

/** The generation version in cache keys: outputs of the pre-issue-6 DDIM loop (version 1) must never be served. */
describe('cache key version segment', () => {
  const release = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

  it('carries the generation version after the release and render versions', () => {
    expect(GENERATION_VERSION).toBe(2);
    expect(CACHE_VERSION).toBe(`v${release}-r${RENDER_VERSION}-g2`);
  });

  it('puts it into the path and the hash of generated objects', () => {
    const key = cacheKey('generated', { model: 'terramind-v1-test-random@1.1.0', z: 3, x: 1, y: 2, seed: 7 }, 'tif');
    const [kind, version, model] = key.split('/');
    expect(kind).toBe('generated');
    expect(version).toBe(`v${release}-r${RENDER_VERSION}-g2`);
    expect(model).toBe('m-terramind-v1-test-random@1.1.0');
    // docs/cache.md: sha256 of {kind, version, extension, parts sorted by name, values as strings}
    const hashWith = (v: string) =>
      createHash('sha256')
        .update(JSON.stringify({ kind: 'generated', version: v, extension: 'tif', parts: [['model', 'terramind-v1-test-random@1.1.0'], ['seed', '7'], ['x', '1'], ['y', '2'], ['z', '3']] }))
        .digest('hex');
    expect(key.split('/').pop()).toBe(`${hashWith(`v${release}-r${RENDER_VERSION}-g2`)}.tif`);
    // the key the old loop's object was stored under (no -g segment) is not reachable any more
    const old = hashWith(`v${release}-r${RENDER_VERSION}`);
    expect(key).not.toContain(old);
    expect(key).not.toContain(`/v${release}-r${RENDER_VERSION}/`);
  });
});
