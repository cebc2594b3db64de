import { readFileSync } from 'node:fs';
import { fromArrayBuffer, fromFile } from 'geotiff';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODALITIES } from '../src/modalities.js';
import { createGuardedFetch, fetchJson, readBody } from '../src/net/guarded-fetch.js';
import { mapModalityBands } from '../src/stac/bands.js';
import { resolveHref } from '../src/stac/href.js';
import { parseStacItem, pickStacItem } from '../src/stac/item.js';
import { resolveModalitySource } from '../src/stac/resolve.js';
import { applyValueTransform } from '../src/stac/value-transforms.js';
import { badRequestOf } from './helpers/expect-error.js';
import { FIXTURES, startFixtureServer, type FixtureServer } from './helpers/fixture-server.js';

const load = (path: string): any => JSON.parse(readFileSync(`${FIXTURES}${path}`, 'utf8'));
const clone = <T>(value: T): T => structuredClone(value);
const ES_L2A = 'stac/earth-search/S2B_20EPT_20250731_0_L2A.json';
const ES_L1C = 'stac/earth-search/S2B_20EPT_20250731_0_L1C.json';
const ITEM_URL = 'https://stac.example.com/items/x.json';


/** model value of a stored value under a band's conversion. */
const model = (band: { scale: number; offset: number }, stored: number) => stored * band.scale + band.offset;

describe('Earth Search (recorded items)', () => {
  it('maps the L2A COG assets to TerraMind band order with their hrefs and grids', () => {
    const source = resolveModalitySource(load(ES_L2A), ITEM_URL, 'S2L2A');
    expect(source.id).toBe('S2B_20EPT_20250731_0_L2A');
    expect(source.bands.map((b) => b.band)).toEqual([...MODALITIES.S2L2A.bands]);
    expect(source.bands.map((b) => b.assetKey)).toEqual([
      'coastal', 'blue', 'green', 'red', 'rededge1', 'rededge2', 'rededge3', 'nir', 'nir08', 'nir09', 'swir16', 'swir22',
    ]);
    const prefix = 'https://sentinel-cogs.s3.us-west-2.amazonaws.com/sentinel-s2-l2a-cogs/20/E/PT/2025/7/S2B_20EPT_20250731_0_L2A/';
    expect(source.bands.map((b) => b.href.replace(prefix, ''))).toEqual([
      'B01.tif', 'B02.tif', 'B03.tif', 'B04.tif', 'B05.tif', 'B06.tif', 'B07.tif', 'B08.tif', 'B8A.tif', 'B09.tif', 'B11.tif', 'B12.tif',
    ]);
    expect(source.bands.every((b) => b.bandIndex === 1 && b.crs === 'EPSG:32720' && b.nodata === 0)).toBe(true);
    expect(source.bands[0]!.transform).toEqual([60, 0, 600000, 0, -60, 3300040]);
    expect(source.bands[1]!.shape).toEqual([10980, 10980]);
    expect(source.bands[8]!.transform?.[0]).toBe(20);
    expect(source.datetime).toBe('2025-07-31T13:19:22.930000Z');
    expect(source.bbox).toEqual([-59.831578, -60.501986, -59.179189, -60.381497]);
  });

  it('boa_offset_applied=true: pixels already lost the -1000, so model = DN + 1000 (raster offset not applied twice)', () => {
    const source = resolveModalitySource(load(ES_L2A), ITEM_URL, 'S2L2A');
    for (const band of source.bands) expect([band.scale, band.offset]).toEqual([1, 1000]);
    expect(model(source.bands[3]!, 500)).toBe(1500); // reflectance 0.05 -> 0.05*10000 + 1000
  });

  it('boa_offset_applied=false with scale 1e-4 / offset -0.1: model = DN (r = DN*1e-4 - 0.1, model = r*1e4 + 1000)', () => {
    const json = clone(load(ES_L2A));
    json.properties['earthsearch:boa_offset_applied'] = false;
    const source = resolveModalitySource(json, ITEM_URL, 'S2L2A');
    for (const band of source.bands) expect([band.scale, band.offset]).toEqual([1, 0]);
    const reflectance = 1500 * 0.0001 - 0.1;
    expect(model(source.bands[0]!, 1500)).toBeCloseTo(reflectance * 10000 + 1000, 9);
  });

  it('refuses a raster scale that is not a reflectance scale instead of folding it in', () => {
    const json = clone(load(ES_L2A));
    json.assets.red['raster:bands'][0].scale = 1;
    expect(badRequestOf(() => resolveModalitySource(json, ITEM_URL, 'S2L2A')).detail).toContain(
      'asset "red" declares raster scale 1, which is not a DN-to-reflectance scale',
    );
  });

  it('maps L1C with B10 (cirrus) after B09, but refuses its JPEG 2000 assets on a requester-pays bucket', () => {
    const item = parseStacItem(load(ES_L1C));
    expect(mapModalityBands(item, 'S2L1C').map((m) => `${m.band}:${m.asset.key}`)).toEqual([
      'B01:coastal', 'B02:blue', 'B03:green', 'B04:red', 'B05:rededge1', 'B06:rededge2', 'B07:rededge3',
      'B08:nir', 'B8A:nir08', 'B09:nir09', 'B10:cirrus', 'B11:swir16', 'B12:swir22',
    ]);
    expect(badRequestOf(() => resolveModalitySource(load(ES_L1C), ITEM_URL, 'S2L1C')).detail).toContain(
      'asset "coastal" is JPEG 2000',
    );
    const asTiff = clone(load(ES_L1C));
    for (const asset of Object.values<any>(asTiff.assets)) asset.type = 'image/tiff; application=geotiff';
    for (const asset of Object.values<any>(asTiff.assets)) asset.href = asset.href.replace('.jp2', '.tif');
    expect(badRequestOf(() => resolveModalitySource(asTiff, ITEM_URL, 'S2L1C')).detail).toContain(
      's3://sentinel-s2-l1c is a requester-pays bucket',
    );
  });

  it('refuses an L1C item for S2L2A and the reverse', () => {
    expect(badRequestOf(() => resolveModalitySource(load(ES_L1C), ITEM_URL, 'S2L2A')).detail).toContain(
      'is Sentinel-2 L1C but modality S2L2A needs L2A; use modality S2L1C',
    );
    expect(badRequestOf(() => resolveModalitySource(load(ES_L2A), ITEM_URL, 'S2L1C')).detail).toContain('use modality S2L2A');
  });

  it('takes S2RGB from the visual TCI asset, R,G,B by band name', () => {
    const source = resolveModalitySource(load(ES_L2A), ITEM_URL, 'S2RGB');
    expect(source.bands.map((b) => [b.band, b.assetKey, b.bandIndex, b.scale, b.offset, b.nodata])).toEqual([
      ['red', 'visual', 1, 1, 0, 0],
      ['green', 'visual', 2, 1, 0, 0],
      ['blue', 'visual', 3, 1, 0, 0],
    ]);
    expect(source.bands[0]!.href).toMatch(/\/TCI\.tif$/);
  });

  it('an S1 GRD item with HH only lacks VV/VH, and names what it has', () => {
    const error = badRequestOf(() =>
      resolveModalitySource(load('stac/earth-search/S1A_IW_GRDH_1SSH_20250731T135702_20250731T135722_060328_077F7E.json'), ITEM_URL, 'S1GRD'),
    );
    expect(error.detail).toContain('lacks bands vv, vh needed for S1GRD; assets found: hh');
  });

  it('refuses uint16 GRD amplitude as uncalibrated', () => {
    const json = clone(load('stac/earth-search/S1A_IW_GRDH_1SSH_20250731T135702_20250731T135722_060328_077F7E.json'));
    json.assets.vv = { ...json.assets.hh, href: 'https://example.com/vv.tiff' };
    json.assets.vh = { ...json.assets.hh, href: 'https://example.com/vh.tiff' };
    expect(badRequestOf(() => resolveModalitySource(json, ITEM_URL, 'S1GRD')).detail).toContain('not calibrated backscatter');
  });
});

describe('Planetary Computer (recorded items)', () => {
  const pcS2 = load('stac/planetary-computer/sentinel-2-l2a-pc.json');

  it('maps B-number assets; baseline 05.10 means model = DN', () => {
    const source = resolveModalitySource(pickStacItem(pcS2, { index: 0 }), ITEM_URL, 'S2L2A');
    expect(source.bands.map((b) => b.assetKey)).toEqual([...MODALITIES.S2L2A.bands]);
    expect(source.bands[8]!.href).toMatch(/T47XML_20240419T095549_B8A_20m\.tif$/);
    expect(source.bands[0]!.transform).toEqual([60, 0, 399960, 0, -60, 9100020]);
    expect(source.bands.every((b) => b.scale === 1 && b.offset === 0 && b.nodata === 0 && b.crs === 'EPSG:32647')).toBe(true);
  });

  it('older baselines get +1000; without a baseline the 2022-01-25 switch date decides; with neither it is a 400', () => {
    const old = clone(pickStacItem(pcS2, { index: 0 })) as any;
    old.properties['s2:processing_baseline'] = '03.01';
    expect(resolveModalitySource(old, ITEM_URL, 'S2L2A').bands[0]).toMatchObject({ scale: 1, offset: 1000 });
    delete old.properties['s2:processing_baseline'];
    old.properties.datetime = '2021-06-01T10:00:00Z';
    expect(resolveModalitySource(old, ITEM_URL, 'S2L2A').bands[0]).toMatchObject({ scale: 1, offset: 1000 });
    old.properties.datetime = '2023-06-01T10:00:00Z';
    expect(resolveModalitySource(old, ITEM_URL, 'S2L2A').bands[0]).toMatchObject({ scale: 1, offset: 0 });
    old.properties.datetime = null;
    expect(badRequestOf(() => resolveModalitySource(old, ITEM_URL, 'S2L2A')).detail).toContain(
      'cannot tell the Sentinel-2 value convention',
    );
  });

  it('S1 RTC linear power gets linear-to-db and the declared nodata', () => {
    const source = resolveModalitySource(pickStacItem(load('stac/planetary-computer/sentinel-1-rtc-pc.json'), { index: 0 }), ITEM_URL, 'S1RTC');
    expect(source.bands.map((b) => [b.band, b.assetKey, b.valueTransform, b.nodata, b.scale, b.offset])).toEqual([
      ['vv', 'vv', 'linear-to-db', -32768, 1, 0],
      ['vh', 'vh', 'linear-to-db', -32768, 1, 0],
    ]);
    expect(source.bands[0]!.transform).toEqual([10, 0, 373180, 0, -10, 3424680]); // 9-value item transform cut to 6
  });

  it('Copernicus DEM from the data asset in EPSG:4326, io-lulc with the ESRI class remap', () => {
    const dem = resolveModalitySource(pickStacItem(load('stac/planetary-computer/cop-dem-glo-30-pc.json'), { index: 1 }), ITEM_URL, 'DEM');
    expect(dem.bands).toHaveLength(1);
    expect(dem.bands[0]).toMatchObject({ band: 'elevation', assetKey: 'data', crs: 'EPSG:4326', shape: [3600, 360], scale: 1, offset: 0 });
    expect(dem.bands[0]!.valueTransform).toBeUndefined();
    const lulc = resolveModalitySource(pickStacItem(load('stac/planetary-computer/io-lulc-annual-v02-pc.json'), { index: 0 }), ITEM_URL, 'LULC');
    expect(lulc.bands[0]).toMatchObject({ band: 'class', valueTransform: 'esri-lulc-to-terramind', nodata: 0, crs: 'EPSG:32660' });
    expect(lulc.datetime).toBe('2023-01-01T00:00:00Z'); // datetime null -> start_datetime
  });

  it('an array of items without a choice is a 400 naming the ids; a URL fragment chooses by id or index', () => {
    expect(badRequestOf(() => resolveModalitySource(pcS2, ITEM_URL, 'S2L2A')).detail).toContain(
      'choose one by id or index (e.g. append #<id> or #<index> to its URL)',
    );
    const byIndex = resolveModalitySource(pcS2, 'https://pc.example.com/items.json#2', 'S2L2A');
    expect(byIndex.id).toBe('S2B_MSIL2A_20240419T095549_R122_T46XES_20240419T123824');
    const id = 'S2B_MSIL2A_20240419T095549_R122_T47XMJ_20240419T122756';
    expect(resolveModalitySource(pcS2, `https://pc.example.com/items.json#${id}`, 'S2L2A').id).toBe(id);
    expect(badRequestOf(() => resolveModalitySource(pcS2, 'https://pc.example.com/items.json#9', 'S2L2A')).detail).toContain(
      'index 9 is out of range',
    );
  });
});

describe('missing bands, missing georeference, hrefs', () => {
  it('names the missing bands with their aliases and the assets that were found', () => {
    const titiler = load('stac-local/titiler-item.json');
    const error = badRequestOf(() => resolveModalitySource(titiler, 'http://127.0.0.1:1/cog/titiler/item.json', 'S2L2A'));
    expect(error.detail).toMatch(/lacks bands B02 \(B2\/blue\), B03 \(B3\/green\).*B12 \(swir22\) needed for S2L2A; assets found: B01, B09$/);
    expect(error.detail).not.toContain('B01 (');
  });

  it('requireGeoreference refuses assets without proj fields, naming them', () => {
    const json = clone(load('stac-local/stac10-s2l2a-chip.json'));
    delete json.properties['proj:shape'];
    delete json.properties['proj:transform'];
    const error = badRequestOf(() => resolveModalitySource(json, ITEM_URL, 'S2L2A', { requireGeoreference: true }));
    expect(error.detail).toContain('asset "reflectance" lacks proj:transform, proj:shape');
    // without the option the file's own georeferencing will be used
    expect(resolveModalitySource(json, ITEM_URL, 'S2L2A').bands[0]!.transform).toBeUndefined();
  });

  it('resolves relative hrefs, rewrites public s3 buckets and refuses the rest', () => {
    expect(resolveHref('chips/B01.tif', 'http://h:1/stac-local/item.json')).toBe('http://h:1/stac-local/chips/B01.tif');
    expect(resolveHref('../cog/a.tif', 'http://h:1/stac-local/item.json')).toBe('http://h:1/cog/a.tif');
    expect(resolveHref('s3://sentinel-cogs/sentinel-s2-l2a-cogs/B01.tif', ITEM_URL)).toBe(
      'https://sentinel-cogs.s3.us-west-2.amazonaws.com/sentinel-s2-l2a-cogs/B01.tif',
    );
    expect(resolveHref('s3://copernicus-dem-30m/Copernicus_DSM_COG_10_N00_00_E006_00_DEM/x.tif', ITEM_URL)).toBe(
      'https://copernicus-dem-30m.s3.eu-central-1.amazonaws.com/Copernicus_DSM_COG_10_N00_00_E006_00_DEM/x.tif',
    );
    expect(badRequestOf(() => resolveHref('s3://my-private-bucket/a.tif', ITEM_URL, 'red')).detail).toContain(
      'Asset "red": s3://my-private-bucket is not a known public bucket',
    );
    expect(badRequestOf(() => resolveHref('file:///etc/passwd', ITEM_URL)).detail).toContain('only allowed in items read from local files');
    expect(resolveHref('b.tif', 'file:///srv/items/a.json')).toBe('file:///srv/items/b.tif');
    expect(badRequestOf(() => resolveHref('gs://bucket/a.tif', ITEM_URL)).detail).toContain('scheme "gs" is not supported');
    expect(badRequestOf(() => resolveHref('a.tif', 'not-a-url')).detail).toContain('is relative but the item URL');
  });
});

describe('STAC 1.0 and 1.1 agree; local items over the fixture server', () => {
  let server: FixtureServer;
  const fetch = createGuardedFetch({ allowHosts: ['127.0.0.1'], timeoutMs: 5000, maxBytes: 4 << 20, allowFileUrls: false });
  beforeAll(async () => {
    server = await startFixtureServer();
  });
  afterAll(async () => {
    await server.close();
  });
  const itemUrl = (file: string) => `${server.url}/stac-local/${file}`;
  const resolveLocal = async (file: string, modality: Parameters<typeof resolveModalitySource>[2], pick?: { id?: string }) => {
    const json = await fetchJson(fetch, itemUrl(file), 1 << 20);
    return resolveModalitySource(pickStacItem(json, pick), itemUrl(file), modality);
  };

  it('1.0 (eo:bands/raster:bands/proj:epsg) and 1.1 (bands/raster:scale/proj:code) resolve identically', async () => {
    const v10 = await resolveLocal('stac10-s2l2a-chip.json', 'S2L2A');
    const v11 = await resolveLocal('stac11-s2l2a-chip.json', 'S2L2A');
    expect(v11).toEqual(v10);
    expect(v10.bands.map((b) => b.bandIndex)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(v10.bands.every((b) => b.scale === 1 && b.offset === 0 && b.href === `${server.url}/terramind-examples/S2L2A/38D_378R_2_3.tif`)).toBe(true);
    expect(v10.bands[0]).toMatchObject({ crs: 'EPSG:32736', transform: [10, 0, 617301.8198784497, 0, -10, 9625098.22745184], shape: [224, 224] });
  });

  it('Earth Search and Planetary Computer style items over the split chip agree with each other', async () => {
    const es = await resolveLocal('earth-search-s2l2a.json', 'S2L2A');
    const pc = await resolveLocal('planetary-computer-s2l2a.json', 'S2L2A');
    expect(es.bands.map((b) => b.href)).toEqual(pc.bands.map((b) => b.href)); // PC's relative hrefs resolved
    expect(es.bands.map((b) => [b.scale, b.offset])).toEqual(pc.bands.map((b) => [b.scale, b.offset]));
    expect(es.bands.map((b) => b.href.slice(server.url.length))).toEqual(
      MODALITIES.S2L2A.bands.map((band) => `/stac-local/chips/38D_378R_2_3/${band}.tif`),
    );
  });

  it('every resolved href of every local item is a GeoTIFF the server really has', async () => {
    const cases: [string, Parameters<typeof resolveModalitySource>[2], string?][] = [
      ['earth-search-s2l2a.json', 'S2L2A'],
      ['earth-search-s2l2a.json', 'S2RGB'],
      ['planetary-computer-s2l2a.json', 'S2RGB'],
      ['planetary-computer-s1rtc.json', 'S1RTC'],
      ['planetary-computer-io-lulc.json', 'LULC'],
      ['terramind-chips.json', 'S2L1C', 'terramind-38D_378R_2_3-S2L1C'],
      ['terramind-chips.json', 'S1RTC', 'terramind-38D_378R_2_3-S1RTC'],
      ['terramind-chips.json', 'DEM', 'terramind-38D_378R_2_3-DEM'],
      ['terramind-chips.json', 'LULC', 'terramind-38D_378R_2_3-LULC'],
      ['terramind-chips.json', 'S2RGB', 'terramind-38D_378R_2_3-S2RGB'],
    ];
    for (const [file, modality, id] of cases) {
      const source = await resolveLocal(file, modality, id ? { id } : undefined);
      expect(source.bands.map((b) => b.band)).toEqual([...MODALITIES[modality].bands]);
      for (const href of new Set(source.bands.map((b) => b.href))) {
        const head = await readBody(await fetch(href, { headers: { range: 'bytes=0-3' } }), 4);
        const tiffMagic = [[0x49, 0x49, 0x2a, 0x00], [0x4d, 0x4d, 0x00, 0x2a]]; // II*\0 or MM\0* (geotiff.js writes big-endian)
        expect(tiffMagic, `${file} ${modality} ${href}`).toContainEqual(Array.from(head));
      }
    }
  });

  it('chip conventions: S1 in dB passes through, DEM metres, TerraMind LULC indices untouched, L1C model = DN', async () => {
    const s1 = await resolveLocal('terramind-chips.json', 'S1RTC', { id: 'terramind-38D_378R_2_3-S1RTC' });
    expect(s1.bands.map((b) => [b.band, b.bandIndex, b.valueTransform])).toEqual([['vv', 1, undefined], ['vh', 2, undefined]]);
    const lulc = await resolveLocal('terramind-chips.json', 'LULC', { id: 'terramind-38D_378R_2_3-LULC' });
    expect(lulc.bands[0]!.valueTransform).toBeUndefined();
    const l1c = await resolveLocal('terramind-chips.json', 'S2L1C', { id: 'terramind-38D_378R_2_3-S2L1C' });
    expect(l1c.bands[10]).toMatchObject({ band: 'B10', bandIndex: 11, scale: 1, offset: 0 });
  });

  it('the split bands equal the chip, and the value transforms give back the chip from provider encodings', async () => {
    const chipImage = await (await fromFile(`${FIXTURES}terramind-examples/S2L2A/38D_378R_2_3.tif`)).getImage();
    const chip = (await chipImage.readRasters()) as unknown as ArrayLike<number>[];
    const es = await resolveLocal('earth-search-s2l2a.json', 'S2L2A');
    for (const index of [0, 8, 11]) {
      const bytes = await readBody(await fetch(es.bands[index]!.href), 1 << 20);
      const image = await (await fromArrayBuffer(bytes.slice().buffer)).getImage();
      const values = (await image.readRasters())[0] as unknown as ArrayLike<number>;
      let maxDiff = 0;
      for (let i = 0; i < values.length; i += 1) maxDiff = Math.max(maxDiff, Math.abs(model(es.bands[index]!, values[i]!) - chip[index]![i]!));
      expect(maxDiff).toBe(0);
    }

    const s1 = await resolveLocal('planetary-computer-s1rtc.json', 'S1RTC');
    const s1Chip = (await (await (await fromFile(`${FIXTURES}terramind-examples/S1RTC/38D_378R_2_3.tif`)).getImage()).readRasters()) as unknown as ArrayLike<number>[];
    const vvBytes = await readBody(await fetch(s1.bands[0]!.href), 1 << 20);
    const vv = Float32Array.from((await (await (await fromArrayBuffer(vvBytes.slice().buffer)).getImage()).readRasters())[0] as unknown as ArrayLike<number>);
    applyValueTransform(s1.bands[0]!.valueTransform!, vv);
    let maxDb = 0;
    for (let i = 0; i < vv.length; i += 1) maxDb = Math.max(maxDb, Math.abs(vv[i]! - s1Chip[0]![i]!));
    expect(maxDb).toBeLessThan(1e-4);

    const lulc = await resolveLocal('planetary-computer-io-lulc.json', 'LULC');
    const lulcChip = (await (await (await fromFile(`${FIXTURES}terramind-examples/LULC/38D_378R_2_3.tif`)).getImage()).readRasters())[0] as unknown as ArrayLike<number>;
    const codes = Float32Array.from((await (await (await fromArrayBuffer((await readBody(await fetch(lulc.bands[0]!.href), 1 << 20)).slice().buffer)).getImage()).readRasters())[0] as unknown as ArrayLike<number>);
    expect(Math.max(...codes)).toBeGreaterThan(9); // really ESRI codes before the remap
    applyValueTransform(lulc.bands[0]!.valueTransform!, codes);
    expect(Array.from(codes)).toEqual(Array.from(lulcChip));
  });
});

describe('value transforms', () => {
  it('linear-to-db: 10*log10, non-positive power becomes no data', () => {
    const values = Float32Array.from([1, 0.1, 0.001, 0, -1]);
    const mask = new Uint8Array(5).fill(255);
    applyValueTransform('linear-to-db', values, mask);
    expect(Array.from(values.slice(0, 3))).toEqual([0, -10, -30]);
    expect(Array.from(mask)).toEqual([255, 255, 255, 0, 0]);
  });

  it('esri-lulc-to-terramind: 1,2,4,5,7,8,9,10,11 -> 1..9, anything else -> 0 (no data)', () => {
    const values = Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const mask = new Uint8Array(values.length).fill(255);
    applyValueTransform('esri-lulc-to-terramind', values, mask);
    expect(Array.from(values)).toEqual([0, 1, 2, 0, 3, 4, 0, 5, 6, 7, 8, 9, 0]);
    expect(Array.from(mask)).toEqual([0, 255, 255, 0, 255, 255, 0, 255, 255, 255, 255, 255, 0]);
  });
});
