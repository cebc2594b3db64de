import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { CACHE_VERSION, cacheKey as serviceCacheKey, RENDER_VERSION, SERVICE_VERSION, type CacheKeyParts } from '../src/cache/keys.js';

/**
 * Cache keys as the stores see them: `<kind>/<version>[/m-<model>]/<ab>/<sha256>.<ext>`. Asserted as behaviour
 * (format, what changes a key and what does not), not as fixed hashes: the version segment is bumped on purpose
 * whenever output bytes change (issue 6 bumps it), and these tests must keep passing across such a bump.
 */
/**
 * cacheKey memoizes keys by their exact input for the whole process. Each test adds a part of its own (a fresh
 * nonce), so that no key it asks for was computed before: under mutation testing the tests run again and again in
 * one process, and a memoized key from an earlier run hid mutants of the key computation.
 */
let nonce = '';
beforeEach(() => {
  nonce = randomUUID();
});
const cacheKey = (kind: string, parts: CacheKeyParts, extension: string) => serviceCacheKey(kind, { ...parts, nonce }, extension);

const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

describe('cacheKey', () => {
  it('is versioned, sharded and content addressed', () => {
    const key = cacheKey('tiles', { collection: 's2', z: 3, x: 1, y: 2 }, 'png');
    expect(SERVICE_VERSION).toMatch(/^\d+\.\d+\.\d+/);
    expect(CACHE_VERSION.startsWith(`v${SERVICE_VERSION}-r${RENDER_VERSION}`)).toBe(true);
    const match = /^tiles\/v[^/]+-r\d+[^/]*\/([0-9a-f]{2})\/([0-9a-f]{64})\.png$/.exec(key);
    expect(match).not.toBeNull();
    expect(match![2].startsWith(match![1])).toBe(true);
  });

  it('gives the same key for the same parts in any order and a different one when any part changes', () => {
    const a = cacheKey('tiles', { collection: 's2', z: 3, x: 1, y: 2, rescale: '0,3000', skip: undefined }, 'png');
    const b = cacheKey('tiles', { y: 2, rescale: '0,3000', x: 1, z: 3, collection: 's2' }, 'png');
    expect(a).toBe(b);
    expect(cacheKey('tiles', { collection: 's2', z: '3', x: '1', y: '2', rescale: '0,3000' }, 'png')).toBe(a);
    const variants = [
      cacheKey('tiles', { collection: 's2', z: 3, x: 1, y: 3, rescale: '0,3000' }, 'png'),
      cacheKey('tiles', { collection: 's2', z: 3, x: 1, y: 2, rescale: '0,3001' }, 'png'),
      cacheKey('tiles', { collection: 's2', z: 3, x: 1, y: 2, rescale: '0,3000' }, 'webp'),
      cacheKey('chips', { collection: 's2', z: 3, x: 1, y: 2, rescale: '0,3000' }, 'png'),
      cacheKey('tiles', { collection: 's2', z: 3, x: 1, y: 2, rescale: '0,3000', hillshade: true }, 'png'),
      // A value may not leak into its neighbour's name.
      cacheKey('tiles', { collection: 's2', z: 3, x: 1, y: 2, rescale: '0,3000', a: 'b', c: '' }, 'png'),
      cacheKey('tiles', { collection: 's2', z: 3, x: 1, y: 2, rescale: '0,3000', a: 'bc', '': '' }, 'png'),
    ];
    expect(new Set([a, ...variants]).size).toBe(variants.length + 1);
  });

  it('puts the model package name and version into the prefix and the hash', () => {
    const one = cacheKey('generated', { model: 'terramind-test-random@0.1.0', z: 1 }, 'tif');
    const two = cacheKey('generated', { model: 'terramind-test-random@0.2.0', z: 1 }, 'tif');
    expect(one).toMatch(/^generated\/v[^/]+\/m-terramind-test-random@0\.1\.0\/[0-9a-f]{2}\/[0-9a-f]{64}\.tif$/);
    expect(two).toContain('/m-terramind-test-random@0.2.0/');
    expect(one.split('/').pop()).not.toBe(two.split('/').pop());
    expect(cacheKey('generated', { model: '../../etc', z: 1 }, 'tif')).not.toContain('..');
  });

  it('refuses unsafe kinds and extensions', () => {
    expect(() => cacheKey('../x', {}, 'png')).toThrow(/kind/);
    expect(() => cacheKey('tiles', {}, 'p/ng')).toThrow(/extension/);
  });
});

describe('cacheKey details', () => {
  it('carries the release and the render version, the same in the path as exported', () => {
    expect(SERVICE_VERSION).toBe(PACKAGE_VERSION);
    expect(CACHE_VERSION.startsWith(`v${PACKAGE_VERSION}-r${RENDER_VERSION}`)).toBe(true);
    const key = cacheKey('tiles', { z: 1 }, 'png');
    expect(key.split('/')).toHaveLength(4);
    expect(key.split('/')[1]).toBe(CACHE_VERSION);
  });

  it('treats booleans and numbers as their strings, and leaves undefined parts out', () => {
    expect(cacheKey('tiles', { hillshade: true, z: 3 }, 'png')).toBe(cacheKey('tiles', { hillshade: 'true', z: '3' }, 'png'));
    expect(cacheKey('tiles', { z: 3, skip: undefined }, 'png')).toBe(cacheKey('tiles', { z: 3 }, 'png'));
    expect(cacheKey('tiles', { z: 3, skip: '' }, 'png')).not.toBe(cacheKey('tiles', { z: 3 }, 'png'));
    expect(cacheKey('tiles', {}, 'png')).toMatch(/^tiles\/[^/]+\/[0-9a-f]{2}\/[0-9a-f]{64}\.png$/);
  });

  it('sorts part names before hashing, so every order of many parts gives one key', () => {
    const names = ['z', 'a', 'm', 'render.rescale', 'b', 'source', 'col', 'row', 'A', '_'];
    const parts = Object.fromEntries(names.map((name, i) => [name, i]));
    const reversed = Object.fromEntries([...names].reverse().map((name) => [name, parts[name]!]));
    const rotated = Object.fromEntries([...names.slice(3), ...names.slice(0, 3)].map((name) => [name, parts[name]!]));
    const key = cacheKey('tiles', parts, 'png');
    expect(cacheKey('tiles', reversed, 'png')).toBe(key);
    expect(cacheKey('tiles', rotated, 'png')).toBe(key);
    // Swapping two values is another key.
    expect(cacheKey('tiles', { ...parts, a: parts.b, b: parts.a }, 'png')).not.toBe(key);
  });

  it('gives each model a readable, path-safe prefix', () => {
    const prefix = (model: string) => cacheKey('generated', { model }, 'tif').split('/')[2];
    expect(prefix('TerraMind-Test/Random@0.1')).toBe('m-terramind-test-random@0.1');
    expect(prefix('../../etc')).toBe('m-etc');
    expect(prefix('.hidden.')).toBe('m-hidden');
    expect(prefix('..v1.0..')).toBe('m-v1.0');
    expect(prefix('-a_b-')).toBe('m-a_b');
    expect(prefix('a  b')).toBe('m-a-b');
    expect(prefix('///')).toBe('m-unnamed');
    expect(prefix('')).toBe('m-unnamed');
    expect(prefix('x'.repeat(100))).toBe(`m-${'x'.repeat(80)}`);
    expect(cacheKey('generated', { model: 'a' }, 'tif').split('/')).toHaveLength(5);
  });

  it('takes kinds and extensions of 1..64 lower-case letters, digits and dashes, not starting with a dash', () => {
    for (const ok of ['a', 'tiles', 'tiles-2', '0', 'x'.repeat(64)]) {
      expect(cacheKey(ok, {}, ok).startsWith(`${ok}/`), ok).toBe(true);
    }
    for (const bad of ['', 'Tiles', '-tiles', 'tiles/', ' tiles', 'tiles ', 'ti.les', 'x'.repeat(65)]) {
      expect(() => cacheKey(bad, {}, 'png'), `kind ${bad}`).toThrow(`cacheKey: kind "${bad}" must match /^[a-z0-9][a-z0-9-]{0,63}$/`);
      expect(() => cacheKey('tiles', {}, bad), `extension ${bad}`).toThrow(`cacheKey: extension "${bad}" must match /^[a-z0-9][a-z0-9-]{0,63}$/`);
    }
  });
});
