import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFORMANCE_CLASSES } from '../src/ogc/common.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { PYTHON } from './helpers/reference-case.js';

/** OWSLib 0.27 (Debian's python3-owslib) reading the landing page, OpenAPI, conformance, collections, tilesets and a tile. */
const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('./clients/owslib_check.py', import.meta.url));
const hasOwslib = (() => {
  try {
    execFileSync(PYTHON, ['-c', 'import owslib.ogcapi'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
})();

let app: TestApp;

describe.skipIf(!hasOwslib)('OWSLib', () => {
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => app?.close());

  it('reads the common documents, the tilesets and a PNG tile', async () => {
    const tile = '/collections/parana-s2rgb/map/tiles/WebMercatorQuad/0/0/0';
    // A trailing slash, as users paste it: OWSLib joins paths relative to it.
    const { stdout } = await run(PYTHON, [SCRIPT, `${app.url}/`, 'parana-s2rgb', tile], { timeout: 60_000 });
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(result.title).toBe('TerraMind OGC API');
    expect(result.openapi).toBe('3.0.3');
    expect(result.conformsTo).toEqual([...CONFORMANCE_CLASSES]);
    expect(result.collectionIds).toContain('sentinel2-tci');
    expect(result.collectionIds).toContain('parana-s2rgb');
    expect(result.collection.id).toBe('parana-s2rgb');
    const { body } = await app.getJson('/collections/parana-s2rgb');
    expect(result.collection.bbox).toEqual(body.extent.spatial.bbox[0]);
    expect(result.tilesets).toEqual(['WebMercatorQuad', 'WorldCRS84Quad']);
    // PNG last, for OpenLayers (the order OWSLib sees is the document's).
    expect(result.itemTypes.at(-1)).toBe('image/png');
    expect(result.tile.png).toBe(true);
    expect(result.tile.bytes).toBeGreaterThan(100);
  });
});
