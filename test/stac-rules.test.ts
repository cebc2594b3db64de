import { describe, expect, it } from 'vitest';
import { mapModalityBands } from '../src/stac/bands.js';
import { resolveHref } from '../src/stac/href.js';
import { parseStacItem, pickStacItem } from '../src/stac/item.js';
import { resolveModalitySource } from '../src/stac/resolve.js';
import { badRequestOf } from './helpers/expect-error.js';

/**
 * The rules that turn a STAC item into bands and value conventions (docs/inputs.md), one rule per case on small
 * hand-written items: which spelling wins, which asset is chosen, which provider convention applies, and the
 * exact 400 for what cannot be read. Recorded provider items are in stac-item.test.ts and stac-resolve.test.ts.
 */
const URL_ = 'https://stac.example.com/items/x.json';
const TIFF = 'image/tiff; application=geotiff';

function item(assets: Record<string, unknown>, properties: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return { type: 'Feature', stac_version: '1.1.0', id: 'it', properties: { datetime: '2024-05-01T00:00:00Z', ...properties }, assets, links: [], ...extra };
}
const asset = (fields: Record<string, unknown> = {}) => ({ href: 'https://data.example.com/a.tif', type: TIFF, roles: ['data'], ...fields });

describe('STAC band metadata: which spelling wins', () => {
  it('merges 1.1 bands[], eo:bands and raster:bands index by index, 1.1 first', () => {
    const parsed = parseStacItem(
      item({
        a: asset({
          bands: [{ name: 'n11', 'eo:common_name': 'c11', 'raster:scale': 3, scale: 4, 'raster:offset': 5, offset: 6, nodata: 7, 'raster:nodata': 8, data_type: 'int16', unit: 'm' }, {}],
          'eo:bands': [{ name: 'n10', common_name: 'c10' }, { name: 'eo-only', 'eo:common_name': 'eo-common' }],
          'raster:bands': [{ name: 'nr', scale: 9, offset: 10, nodata: 11, data_type: 'uint8', unit: 'km' }, { scale: 2, offset: 1, nodata: 0, data_type: 'float32', unit: 'dB' }, { scale: 0.5 }],
        }),
      }),
    );
    expect(parsed.assets.a!.bands).toEqual([
      { name: 'n11', commonName: 'c11', scale: 3, offset: 5, nodata: 7, dataType: 'int16', unit: 'm' },
      { name: 'eo-only', commonName: 'eo-common', scale: 2, offset: 1, nodata: 0, dataType: 'float32', unit: 'dB' },
      { scale: 0.5 },
    ]);
  });

  it('falls back field by field: scale, offset, raster:nodata, 1.0 names, and drops nulls', () => {
    const parsed = parseStacItem(
      item({
        a: asset({
          bands: [{ scale: 4, offset: 6, 'raster:nodata': 8, common_name: 'c', unit: null, data_type: null }],
          'eo:bands': [{ name: 'from-eo' }],
          'raster:bands': [{ name: 'from-raster', unit: 'm', data_type: 'int8' }],
        }),
        b: asset({ 'raster:bands': [{ name: 'r', nodata: 'inf' }] }),
      }),
    );
    expect(parsed.assets.a!.bands).toEqual([{ name: 'from-eo', commonName: 'c', scale: 4, offset: 6, nodata: 8, dataType: 'int8', unit: 'm' }]);
    expect(parsed.assets.b!.bands).toEqual([{ name: 'r', nodata: Infinity }]);
    expect(parsed.assets.a!.roles).toEqual(['data']);
    expect(parseStacItem(item({ a: { href: 'a.tif' } })).assets.a).toEqual({ key: 'a', href: 'a.tif', type: undefined, roles: [], bands: [] });
  });

  it('takes proj:* from the asset field by field, else from the item; EPSG codes in any case and spacing', () => {
    const transform = [10, 0, 500000, 0, -10, 6000000];
    const parsed = parseStacItem(
      item(
        {
          own: asset({ 'proj:code': ' epsg:32632 ', 'proj:transform': [20, 0, 1, 0, -20, 2, 0, 0, 1], 'proj:shape': [5, 6] }),
          inherits: asset(),
          epsg: asset({ 'proj:epsg': 4326 }),
        },
        { 'proj:epsg': 32736, 'proj:transform': transform, 'proj:shape': [224, 224] },
      ),
    );
    expect(parsed.assets.own).toMatchObject({ crs: 'EPSG:32632', transform: [20, 0, 1, 0, -20, 2], shape: [5, 6] });
    expect(parsed.assets.inherits).toMatchObject({ crs: 'EPSG:32736', transform, shape: [224, 224] });
    expect(parsed.assets.epsg).toMatchObject({ crs: 'EPSG:4326', transform, shape: [224, 224] });
    const bare = parseStacItem(item({ a: asset() })).assets.a!;
    expect(['crs' in bare, 'transform' in bare, 'shape' in bare, 'classValues' in bare]).toEqual([false, false, false, false]);
  });

  it('collects class values from file:values and classification:classes', () => {
    const parsed = parseStacItem(
      item({ a: asset({ 'file:values': [{ values: [1, 2] }, { values: [10] }], 'classification:classes': [{ value: 11, name: 'x' }] }) }),
    );
    expect(parsed.assets.a!.classValues).toEqual([1, 2, 10, 11]);
  });

  it('reads the item fields: bbox (2D kept, 3D cut), datetime or start_datetime, Earth Search and S2 properties', () => {
    const parsed = parseStacItem(
      item({ a: asset() }, { datetime: null, start_datetime: '2023-01-01T00:00:00Z', 'earthsearch:boa_offset_applied': false, 's2:processing_baseline': '04.00' }, {
        bbox: [1, 2, 3, 4],
        collection: 'c',
      }),
    );
    expect(parsed).toMatchObject({ id: 'it', stacVersion: '1.1.0', collection: 'c', bbox: [1, 2, 3, 4], datetime: '2023-01-01T00:00:00Z', boaOffsetApplied: false, processingBaseline: '04.00' });
    const plain = parseStacItem(item({ a: asset() }, { datetime: undefined }));
    expect([plain.bbox, plain.datetime, plain.boaOffsetApplied, plain.processingBaseline]).toEqual([undefined, undefined, undefined, undefined]);
  });
});

describe('STAC items that cannot be read: exact 400s', () => {
  it('lists at most eight problems and counts the rest', () => {
    const assets = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`a${i}`, { href: '' }]));
    const detail = badRequestOf(() => parseStacItem(item(assets))).detail;
    expect(detail).toMatch(/^Not a usable STAC Item: assets\.a0\.href: href must not be empty; .*assets\.a7\.href: href must not be empty \(and 2 more\)$/);
    const eight = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`a${i}`, { href: '' }]));
    expect(badRequestOf(() => parseStacItem(item(eight))).detail).toMatch(/assets\.a7\.href: href must not be empty$/);
    expect(badRequestOf(() => parseStacItem(item({}, {}, { id: '' }))).detail).toBe('Not a usable STAC Item: id: id must not be empty');
    expect(badRequestOf(() => parseStacItem(item({}, {}, { bbox: [1, 2, 3] }))).detail).toBe('Not a usable STAC Item: bbox: bbox must have 4 or 6 numbers');
  });

  it('names a collection instead of an item, and a transform without CRS or with no area', () => {
    expect(badRequestOf(() => parseStacItem([1, 2, 3])).detail).toBe(
      'Expected one STAC Item but got a collection of 3 items; pick one by id or index (e.g. append #<id> or #<index> to its URL)',
    );
    expect(badRequestOf(() => parseStacItem({ type: 'FeatureCollection' })).detail).toMatch(/^Expected one STAC Item but got a collection of 0 items;/);
    expect(badRequestOf(() => parseStacItem(item({ a: asset({ 'proj:transform': [1, 0, 0, 0, 1, 0] }) }))).detail).toBe(
      'asset "a": proj:transform is given but no CRS (proj:code or proj:epsg) at asset or item level',
    );
    expect(badRequestOf(() => parseStacItem(item({ a: asset({ 'proj:epsg': 4326, 'proj:transform': [1, 2, 0, 2, 4, 0] }) }))).detail).toBe(
      'asset "a": proj:transform [1, 2, 0, 2, 4, 0] is degenerate (zero determinant)',
    );
    expect(badRequestOf(() => parseStacItem(item({ a: asset() }, { 'proj:code': 'OGC:CRS84' }))).detail).toBe(
      'properties: proj:code "OGC:CRS84" is not an EPSG code; only EPSG:n is supported',
    );
    // The whole code is EPSG:n, not a text that starts or ends like one.
    for (const code of ['EPSG:32634 (UTM 34N)', 'IAU_2015:EPSG:4326']) {
      expect(badRequestOf(() => parseStacItem(item({ a: asset() }, { 'proj:code': code }))).detail).toBe(
        `properties: proj:code "${code}" is not an EPSG code; only EPSG:n is supported`,
      );
    }
  });

  it('picks from collections by id or index and says exactly what went wrong', () => {
    const features = [item({}, {}, { id: 'one' }), item({}, {}, { id: 'two' })];
    const fc = { type: 'FeatureCollection', features };
    expect(pickStacItem(fc, { index: 1 })).toBe(features[1]);
    expect(pickStacItem({ type: 'FeatureCollection', features: [features[0]] })).toBe(features[0]);
    expect(pickStacItem(features, { id: 'two' })).toBe(features[1]);
    expect(badRequestOf(() => pickStacItem({ type: 'FeatureCollection', features: 'x' })).detail).toBe('FeatureCollection has no "features" array');
    for (const index of [-1, 2, 0.5]) {
      expect(badRequestOf(() => pickStacItem(features, { index })).detail).toBe(`Item index ${index} is out of range: the collection holds 2 items`);
    }
    expect(badRequestOf(() => pickStacItem(features, { id: 'three' })).detail).toBe('No item "three" in the collection; it holds: one, two');
    expect(badRequestOf(() => pickStacItem(features)).detail).toBe(
      'The collection holds 2 items (one, two); choose one by id or index (e.g. append #<id> or #<index> to its URL)',
    );
    expect(badRequestOf(() => pickStacItem([])).detail).toMatch(/^The collection holds 0 items \(\); choose one/);
    expect(badRequestOf(() => pickStacItem(features[0], { id: 'two' })).detail).toBe('The STAC Item\'s id is "one", not "two"');
    expect(pickStacItem(features[0], { id: 'one' })).toBe(features[0]);
    expect(pickStacItem(features[0], { index: 3 })).toBe(features[0]);
    // A document of JSON null is neither a collection nor an item; parseStacItem says so.
    expect(pickStacItem(null)).toBeNull();
  });
});

describe('asset hrefs', () => {
  it('rewrites every public bucket to its region and refuses every requester-pays one', () => {
    for (const [bucket, region] of [
      ['sentinel-cogs', 'us-west-2'],
      ['e84-earth-search-sentinel-data', 'us-west-2'],
      ['copernicus-dem-30m', 'eu-central-1'],
      ['copernicus-dem-90m', 'eu-central-1'],
      ['sentinel-s1-rtc-indigo', 'us-west-2'],
    ]) {
      expect(resolveHref(`s3://${bucket}/a/b.tif`, URL_)).toBe(`https://${bucket}.s3.${region}.amazonaws.com/a/b.tif`);
    }
    for (const bucket of ['sentinel-s2-l1c', 'sentinel-s2-l2a', 'sentinel-s1-l1c']) {
      expect(badRequestOf(() => resolveHref(`s3://${bucket}/a.tif`, URL_, 'red')).detail).toBe(
        `Asset "red": s3://${bucket} is a requester-pays bucket that cannot be read anonymously; use an item whose assets are public COGs (e.g. Earth Search sentinel-2-l2a COG assets)`,
      );
    }
    expect(badRequestOf(() => resolveHref('s3://mine/a.tif', URL_)).detail).toBe(
      'Asset "asset": s3://mine is not a known public bucket (sentinel-cogs, e84-earth-search-sentinel-data, copernicus-dem-30m, copernicus-dem-90m, sentinel-s1-rtc-indigo); give an https URL instead',
    );
  });

  it('keeps absolute http(s) hrefs whatever the item URL, and names the scheme it refuses', () => {
    expect(resolveHref('https://x.example.com/a.tif?sig=1', 'not-a-url')).toBe('https://x.example.com/a.tif?sig=1');
    expect(resolveHref('http://x.example.com/a.tif', URL_)).toBe('http://x.example.com/a.tif');
    expect(badRequestOf(() => resolveHref('a.tif', 'not-a-url', 'blue')).detail).toBe('Asset "blue": href "a.tif" is relative but the item URL "not-a-url" is not absolute');
    expect(badRequestOf(() => resolveHref('ftp://x/a.tif', URL_, 'blue')).detail).toBe('Asset "blue": href scheme "ftp" is not supported (http, https, s3)');
    expect(badRequestOf(() => resolveHref('file:///a.tif', URL_, 'blue')).detail).toBe('Asset "blue": file:// hrefs are only allowed in items read from local files');
    expect(badRequestOf(() => resolveHref('file:///a.tif', 'not-a-url', 'blue')).detail).toBe('Asset "blue": file:// hrefs are only allowed in items read from local files');
  });
});

describe('choosing assets and bands', () => {
  const s2Assets = (fields: Record<string, unknown> = {}) =>
    Object.fromEntries(['B01', 'B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08', 'B8A', 'B09', 'B11', 'B12'].map((band) => [band, asset({ href: `https://d.example.com/${band}.tif`, ...fields })]));

  it('prefers an asset keyed by the band over a band named so inside another asset', () => {
    const json = item({ ...s2Assets(), multi: asset({ href: 'https://d.example.com/multi.tif', bands: [{ name: 'B04' }] }) }, { 's2:processing_baseline': '05.00' });
    const source = resolveModalitySource(json, URL_, 'S2L2A');
    expect(source.bands[3]).toMatchObject({ band: 'B04', assetKey: 'B04', bandIndex: 1, href: 'https://d.example.com/B04.tif' });
  });

  it('finds bands by name or eo common name inside a multi-band asset, in TerraMind order', () => {
    const names = ['B01', 'B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08', 'B8A', 'B09', 'B11', 'B12'];
    const bands = names.map((name, i) => (i === 1 ? { 'eo:common_name': 'blue' } : { name })).reverse();
    const source = resolveModalitySource(item({ all: asset({ bands }) }, { 's2:processing_baseline': '05.00' }), URL_, 'S2L2A');
    expect(source.bands.map((band) => band.bandIndex)).toEqual(names.map((_, i) => 12 - i));
    expect(source.bands.every((band) => band.assetKey === 'all')).toBe(true);
  });

  it('never takes thumbnails, overviews, metadata, tiles or visual assets as data', () => {
    for (const role of ['thumbnail', 'overview', 'metadata', 'tiles', 'visual']) {
      const json = item({ elevation: asset({ roles: [role] }) });
      expect(badRequestOf(() => resolveModalitySource(json, URL_, 'DEM')).detail, role).toBe(
        'Item "it" lacks band elevation (dem/data) needed for DEM; assets found: none',
      );
    }
    for (const key of ['visual', 'TCI']) {
      expect(badRequestOf(() => resolveModalitySource(item({ [key]: asset() }), URL_, 'DEM')).detail).toMatch(/assets found: none$/);
    }
  });

  it('a single-band modality takes the one data asset of any name, but only a GeoTIFF and only if it is alone', () => {
    expect(resolveModalitySource(item({ 'cop-dem': asset() }), URL_, 'DEM').bands[0]).toMatchObject({ assetKey: 'cop-dem', bandIndex: 1 });
    expect(resolveModalitySource(item({ 'cop-dem': asset({ type: undefined }) }), URL_, 'DEM').bands[0]!.assetKey).toBe('cop-dem');
    expect(badRequestOf(() => resolveModalitySource(item({ 'cop-dem': asset({ type: 'application/json' }) }), URL_, 'DEM')).detail).toMatch(/^Item "it" lacks band elevation/);
    expect(badRequestOf(() => resolveModalitySource(item({ a: asset(), b: asset() }), URL_, 'DEM')).detail).toBe(
      'Item "it" lacks band elevation (dem/data) needed for DEM; assets found: a, b',
    );
  });

  it('describes the assets it found with their band names (unless the one band is named like the asset)', () => {
    const json = item({ vv: asset({ bands: [{ name: 'vv' }] }), pair: asset({ bands: [{ name: 'x' }, { 'eo:common_name': 'y' }] }), bare: asset(), thumb: asset({ roles: ['thumbnail'] }) });
    expect(badRequestOf(() => resolveModalitySource(json, URL_, 'S1RTC')).detail).toBe('Item "it" lacks band vh needed for S1RTC; assets found: vv, pair (x,y), bare');
  });

  it('S2RGB: the visual/tci/rgb asset (not JPEG 2000), else the visual role, else red+green+blue bands; R, G, B by name', () => {
    const rgbBands = [{ name: 'blue' }, { name: 'B03' }, { 'eo:common_name': 'red' }];
    const cases: [Record<string, unknown>, string, number[]][] = [
      [{ TCI: asset({ bands: rgbBands }) }, 'TCI', [3, 2, 1]],
      [{ rgb: asset() }, 'rgb', [1, 2, 3]],
      [{ visual: asset({ type: 'image/jp2' }), other: asset({ roles: ['visual'] }) }, 'other', [1, 2, 3]],
      [{ composite: asset({ bands: [{ 'eo:common_name': 'green' }, { 'eo:common_name': 'blue' }, { 'eo:common_name': 'red' }] }) }, 'composite', [3, 1, 2]],
    ];
    for (const [assets, key, indices] of cases) {
      const bands = resolveModalitySource(item(assets), URL_, 'S2RGB').bands;
      expect(bands.map((band) => [band.band, band.assetKey, band.bandIndex]), key).toEqual([
        ['red', key, indices[0]],
        ['green', key, indices[1]],
        ['blue', key, indices[2]],
      ]);
    }
    expect(badRequestOf(() => resolveModalitySource(item({ data: asset({ bands: [{ 'eo:common_name': 'red' }] }) }), URL_, 'S2RGB')).detail).toBe(
      'Item "it" has no true-colour asset for S2RGB (a "visual"/"tci" asset or one with red, green, blue bands); assets found: data (red)',
    );
  });

  // The provider spellings of docs/inputs.md, written out here: Planetary Computer's B-numbers with and without the
  // zero, Earth Search's common-name keys, and the eo common names a multi-band asset may carry instead of names.
  const S2_SPELLINGS: Record<string, { keys: string[]; common?: string }> = {
    B01: { keys: ['B01', 'B1', 'coastal'], common: 'coastal' },
    B02: { keys: ['B02', 'B2', 'blue'], common: 'blue' },
    B03: { keys: ['B03', 'B3', 'green'], common: 'green' },
    B04: { keys: ['B04', 'B4', 'red'], common: 'red' },
    B05: { keys: ['B05', 'B5', 'rededge1'] },
    B06: { keys: ['B06', 'B6', 'rededge2'] },
    B07: { keys: ['B07', 'B7', 'rededge3'] },
    B08: { keys: ['B08', 'B8', 'nir'], common: 'nir' },
    B8A: { keys: ['B8A', 'B08A', 'nir08'], common: 'nir08' },
    B09: { keys: ['B09', 'B9', 'nir09'], common: 'nir09' },
    B10: { keys: ['B10', 'cirrus'], common: 'cirrus' },
    B11: { keys: ['B11', 'swir16'], common: 'swir16' },
    B12: { keys: ['B12', 'swir22'], common: 'swir22' },
  };

  it('knows every provider spelling of each Sentinel-2 band, as an asset key (any case) and as a band name', () => {
    const bands = Object.keys(S2_SPELLINGS);
    for (let k = 0; k < 3; k += 1) {
      const spelling = (band: string) => S2_SPELLINGS[band]!.keys[Math.min(k, S2_SPELLINGS[band]!.keys.length - 1)]!;
      // One asset per band, keyed by this spelling (upper-cased for the odd ones: keys compare case-insensitively).
      const keyed = Object.fromEntries(bands.map((band, i) => [i % 2 ? spelling(band).toUpperCase() : spelling(band), asset({ href: `https://d.example.com/${band}.tif` })]));
      const byKey = resolveModalitySource(item(keyed), URL_, 'S2L1C').bands;
      expect(byKey.map((b) => b.href), `keys, spelling ${k}`).toEqual(bands.map((band) => `https://d.example.com/${band}.tif`));
      // The same spellings as band names inside one asset, in reverse order.
      const named = item({ all: asset({ bands: [...bands].reverse().map((band) => ({ name: spelling(band) })) }) });
      const byName = resolveModalitySource(named, URL_, 'S2L1C').bands;
      expect(byName.map((b) => b.bandIndex), `names, spelling ${k}`).toEqual(bands.map((_, i) => bands.length - i));
    }
  });

  it('finds a Sentinel-2 band by its eo common name alone, where that name is the band\'s own', () => {
    const withCommon = Object.entries(S2_SPELLINGS).filter(([, s]) => s.common);
    for (const [band, { common }] of withCommon) {
      // The wanted band carries only its common name; the others are named plainly.
      const bands = Object.keys(S2_SPELLINGS).map((other) => (other === band ? { 'eo:common_name': common } : { name: other }));
      const source = resolveModalitySource(item({ all: asset({ bands }) }), URL_, 'S2L1C');
      const index = Object.keys(S2_SPELLINGS).indexOf(band);
      expect(source.bands[index], band).toMatchObject({ band, bandIndex: index + 1 });
    }
    // "rededge" names three bands: it identifies none of them.
    const bands = Object.keys(S2_SPELLINGS).map((other) => (other === 'B05' ? { 'eo:common_name': 'rededge' } : { name: other }));
    expect(badRequestOf(() => resolveModalitySource(item({ all: asset({ bands }) }), URL_, 'S2L1C')).detail).toMatch(/^Item "it" lacks band B05 \(B5\/rededge1\) needed for S2L1C/);
  });

  it('excludes only assets keyed exactly visual or tci, and never reads bands out of a non-data asset', () => {
    for (const key of ['visualization', 'stci']) {
      expect(resolveModalitySource(item({ [key]: asset() }), URL_, 'DEM').bands[0]!.assetKey, key).toBe(key);
    }
    // A thumbnail that describes a band named like the wanted one is still not data.
    const json = item({ thumb: asset({ roles: ['thumbnail'], bands: [{ name: 'vv' }, { name: 'vh' }] }), vv: asset({ href: 'https://d.example.com/vv.tif' }), vh: asset({ href: 'https://d.example.com/vh.tif' }) });
    expect(resolveModalitySource(json, URL_, 'S1RTC').bands.map((b) => b.assetKey)).toEqual(['vv', 'vh']);
    const only = item({ thumb: asset({ roles: ['thumbnail'], bands: [{ name: 'B04' }] }), other: asset({ href: 'https://d.example.com/other.tif' }) });
    expect(badRequestOf(() => resolveModalitySource(only, URL_, 'S2L2A')).detail).toContain('B03 (B3/green), B04 (B4/red), B05');
  });

  it('S2RGB: a visual/tci/rgb key must be exact, and an asset qualifies by bands only with red, green and blue', () => {
    for (const decoy of ['TCI_60m', 'falsergb', 'visual-jp2-preview']) {
      const json = item({ [decoy]: asset({ href: 'https://d.example.com/decoy.tif' }), visual: asset({ href: 'https://d.example.com/visual.tif' }) });
      expect(resolveModalitySource(json, URL_, 'S2RGB').bands[0]!.assetKey, decoy).toBe('visual');
    }
    const twoColours = item({ pair: asset({ bands: [{ 'eo:common_name': 'nir' }, { 'eo:common_name': 'swir16' }] }) });
    expect(badRequestOf(() => resolveModalitySource(twoColours, URL_, 'S2RGB')).detail).toMatch(/^Item "it" has no true-colour asset for S2RGB/);
    // R, G, B found by their common names alone, in any order.
    const common = item({ TCI: asset({ bands: [{ 'eo:common_name': 'blue' }, { 'eo:common_name': 'red' }, { 'eo:common_name': 'green' }] }) });
    expect(resolveModalitySource(common, URL_, 'S2RGB').bands.map((b) => b.bandIndex)).toEqual([2, 3, 1]);
    const named = item({ TCI: asset({ bands: [{ name: 'B02' }, { name: 'B04' }, { name: 'B03' }] }) });
    expect(resolveModalitySource(named, URL_, 'S2RGB').bands.map((b) => b.bandIndex)).toEqual([2, 3, 1]);
  });

  it('single-band modalities: the asset named for the band wins over another data asset', () => {
    const cases: [string, string[]][] = [
      ['DEM', ['dem', 'data', 'elevation']],
      ['LULC', ['map', 'data', 'lulc', 'classification']],
      ['NDVI', ['ndvi', 'data']],
    ];
    for (const [modality, keys] of cases) {
      for (const key of keys) {
        const json = item({ other: asset({ href: 'https://d.example.com/other.tif' }), [key.toUpperCase()]: asset({ href: `https://d.example.com/${key}.tif` }) });
        expect(resolveModalitySource(json, URL_, modality as 'DEM').bands[0]!.href, `${modality} ${key}`).toBe(`https://d.example.com/${key}.tif`);
      }
    }
  });

  it('tells L1C from L2A by collection or id, and refuses the wrong one', () => {
    expect(badRequestOf(() => resolveModalitySource(item(s2Assets(), {}, { collection: 'sentinel-2-l1c' }), URL_, 'S2L2A')).detail).toBe(
      'Item "it" is Sentinel-2 L1C but modality S2L2A needs L2A; use modality S2L1C',
    );
    expect(badRequestOf(() => resolveModalitySource(item(s2Assets(), {}, { id: 'S2A_MSIL2A_x' }), URL_, 'S2L1C')).detail).toBe(
      'Item "S2A_MSIL2A_x" is Sentinel-2 L2A but modality S2L1C needs L1C; use modality S2L2A',
    );
    expect(mapModalityBands(parseStacItem(item(s2Assets(), {}, { id: 'unknown-level' })), 'S2L2A')).toHaveLength(12);
  });
});

describe('value conventions', () => {
  const s2 = (band: Record<string, unknown>, properties: Record<string, unknown> = {}) =>
    resolveModalitySource(
      item(Object.fromEntries(['B01', 'B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08', 'B8A', 'B09', 'B11', 'B12'].map((key) => [key, asset({ bands: [band] })])), properties),
      URL_,
      'S2L2A',
    ).bands[0]!;

  it('S2 with a raster scale: model = stored * scale * 1e4 + offset * 1e4 + 1000; BOA-applied items drop the offset', () => {
    expect(s2({ 'raster:scale': 0.0002, 'raster:offset': -0.05 })).toMatchObject({ scale: 2, offset: 500, nodata: 0 });
    expect(s2({ 'raster:scale': 0.0002, 'raster:offset': -0.05 }, { 'earthsearch:boa_offset_applied': true })).toMatchObject({ scale: 2, offset: 1000 });
    expect(s2({ 'raster:scale': 0.0001 })).toMatchObject({ scale: 1, offset: 1000 });
    expect(s2({ 'raster:scale': 0.0001, nodata: -1 })).toMatchObject({ nodata: -1 });
    for (const scale of [0, -0.0001, 0.01, 1]) {
      expect(badRequestOf(() => s2({ 'raster:scale': scale })).detail).toBe(
        `Item "it": asset "B01" declares raster scale ${scale}, which is not a DN-to-reflectance scale (about 0.0001)`,
      );
    }
  });

  it('S2 without a scale: BOA-applied +1000; else the baseline (>= 04.00 as is), else the date (from 2022-01-25 as is)', () => {
    expect(s2({}, { 'earthsearch:boa_offset_applied': true, 's2:processing_baseline': '05.00' })).toMatchObject({ scale: 1, offset: 1000 });
    expect(s2({}, { 's2:processing_baseline': '04.00' })).toMatchObject({ scale: 1, offset: 0 });
    expect(s2({}, { 's2:processing_baseline': '03.99' })).toMatchObject({ scale: 1, offset: 1000 });
    expect(s2({}, { 's2:processing_baseline': 'N/A', datetime: '2022-01-25T00:00:00Z' })).toMatchObject({ offset: 0 });
    expect(s2({}, { datetime: '2022-01-24T23:59:59Z' })).toMatchObject({ offset: 1000 });
    expect(badRequestOf(() => s2({}, { datetime: null })).detail).toBe(
      'Item "it": cannot tell the Sentinel-2 value convention of asset "B01": it has no raster scale/offset, no s2:processing_baseline and no datetime',
    );
  });

  const s1 = (band: Record<string, unknown>) => resolveModalitySource(item({ vv: asset({ bands: [band] }), vh: asset({ bands: [band] }) }), URL_, 'S1RTC').bands[0]!;

  it('S1: dB passes through with its scale, offset and nodata; float power gets linear-to-db; integers are refused', () => {
    expect(s1({ unit: 'DB', 'raster:scale': 2, 'raster:offset': -1, nodata: -99 })).toEqual({
      band: 'vv', href: 'https://data.example.com/a.tif', bandIndex: 1, scale: 2, offset: -1, nodata: -99, assetKey: 'vv',
    });
    expect(s1({ data_type: 'float32' })).toMatchObject({ scale: 1, offset: 0, valueTransform: 'linear-to-db' });
    expect(s1({})).toMatchObject({ valueTransform: 'linear-to-db' });
    expect('nodata' in s1({})).toBe(false);
    expect(s1({ unit: 'dB', data_type: 'uint16' })).toMatchObject({ scale: 1, offset: 0 });
    expect('valueTransform' in s1({ unit: 'dB', data_type: 'uint16' })).toBe(false);
    expect(s1({ data_type: 'float64' })).toMatchObject({ valueTransform: 'linear-to-db' });
    for (const type of ['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'UInt8']) {
      expect(badRequestOf(() => s1({ data_type: type })).detail).toBe(
        `Item "it": asset "vv" holds ${type} Sentinel-1 GRD amplitude numbers, not calibrated backscatter; use a Sentinel-1 RTC item (e.g. Planetary Computer sentinel-1-rtc)`,
      );
    }
  });

  it('LULC: ESRI codes (io-lulc collections or class values 10/11) are remapped, TerraMind indices are not', () => {
    const lulc = (fields: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      resolveModalitySource(item({ map: asset(fields) }, {}, extra), URL_, 'LULC').bands[0]!;
    expect(lulc({}, { collection: 'IO-LULC-annual' })).toMatchObject({ scale: 1, offset: 0, valueTransform: 'esri-lulc-to-terramind' });
    expect(lulc({ 'file:values': [{ values: [11] }] }).valueTransform).toBe('esri-lulc-to-terramind');
    expect('valueTransform' in lulc({ 'classification:classes': [{ value: 9 }] }, { collection: 'my-io-lulc-in-terramind-classes' })).toBe(false);
    expect(lulc({ 'classification:classes': [{ value: 10 }] }).valueTransform).toBe('esri-lulc-to-terramind');
    expect(lulc({ 'classification:classes': [{ value: 9 }], bands: [{ nodata: 0 }] })).toEqual({
      band: 'class', href: 'https://data.example.com/a.tif', bandIndex: 1, scale: 1, offset: 0, nodata: 0, assetKey: 'map',
    });
  });

  it('DEM and NDVI keep the declared physical scaling; S2RGB is used as stored', () => {
    expect(resolveModalitySource(item({ dem: asset({ bands: [{ 'raster:scale': 0.1, 'raster:offset': -10, nodata: -32768 }] }) }), URL_, 'DEM').bands[0]).toMatchObject({
      scale: 0.1, offset: -10, nodata: -32768,
    });
    expect(resolveModalitySource(item({ ndvi: asset({ bands: [{ scale: 0.004 }] }) }), URL_, 'NDVI').bands[0]).toMatchObject({ scale: 0.004, offset: 0 });
    const rgb = resolveModalitySource(item({ visual: asset({ bands: [{ 'raster:scale': 2, nodata: 0 }, {}, {}] }) }), URL_, 'S2RGB').bands;
    expect(rgb.map((band) => [band.scale, band.offset, band.nodata])).toEqual([[1, 0, 0], [1, 0, undefined], [1, 0, undefined]]);
  });
});

describe('what can be read, and the resolved source', () => {
  it('refuses JPEG 2000 (by type or extension) and non-TIFF media types; takes a missing type', () => {
    const dem = (fields: Record<string, unknown>) => () => resolveModalitySource(item({ dem: asset(fields) }), URL_, 'DEM');
    expect(badRequestOf(dem({ type: 'image/jp2' })).detail).toBe('Item "it": asset "dem" is JPEG 2000 (https://data.example.com/a.tif); only GeoTIFF/COG assets can be read');
    expect(badRequestOf(dem({ href: 'https://d.example.com/a.JP2', type: undefined })).detail).toMatch(/is JPEG 2000/);
    // A signed URL keeps its extension before the query string; a .jp2 in the middle of a name is not the format.
    expect(badRequestOf(dem({ href: 'https://d.example.com/a.jp2?st=2024-01-01&sig=x', type: undefined })).detail).toMatch(/is JPEG 2000/);
    expect(badRequestOf(dem({ href: 'tiles/a.jp2?token=abc', type: undefined })).detail).toBe(
      'Item "it": asset "dem" is JPEG 2000 (tiles/a.jp2?token=abc); only GeoTIFF/COG assets can be read',
    );
    expect(resolveModalitySource(item({ dem: asset({ href: 'https://d.example.com/a.jp2.tif', type: undefined }) }), URL_, 'DEM').bands).toHaveLength(1);
    expect(badRequestOf(dem({ type: 'image/png' })).detail).toBe('Item "it": asset "dem" has media type "image/png", not a GeoTIFF');
    expect(resolveModalitySource(item({ dem: asset({ type: undefined }) }), URL_, 'DEM').bands).toHaveLength(1);
  });

  it('names every missing proj field when georeference is required', () => {
    expect(badRequestOf(() => resolveModalitySource(item({ dem: asset() }), URL_, 'DEM', { requireGeoreference: true })).detail).toBe(
      'Item "it": asset "dem" lacks proj:code/proj:epsg, proj:transform, proj:shape (at asset or item level)',
    );
    expect(badRequestOf(() => resolveModalitySource(item({ dem: asset({ 'proj:epsg': 4326, 'proj:shape': [1, 1] }) }), URL_, 'DEM', { requireGeoreference: true })).detail).toBe(
      'Item "it": asset "dem" lacks proj:transform (at asset or item level)',
    );
    const full = asset({ 'proj:epsg': 4326, 'proj:shape': [1, 2], 'proj:transform': [1, 0, 0, 0, -1, 0] });
    expect(resolveModalitySource(item({ dem: full }), URL_, 'DEM', { requireGeoreference: true }).bands[0]).toMatchObject({
      crs: 'EPSG:4326', transform: [1, 0, 0, 0, -1, 0], shape: [1, 2],
    });
  });

  it('carries id, datetime and bbox only when the item has them', () => {
    const with_ = resolveModalitySource(item({ dem: asset() }, {}, { bbox: [1, 2, 3, 4] }), URL_, 'DEM');
    expect([with_.modality, with_.id, with_.datetime, with_.bbox]).toEqual(['DEM', 'it', '2024-05-01T00:00:00Z', [1, 2, 3, 4]]);
    const without = resolveModalitySource(item({ dem: asset() }, { datetime: null }), URL_, 'DEM');
    expect(['datetime' in without, 'bbox' in without]).toEqual([false, false]);
  });

  it('a URL fragment picks from a collection: an id wins over an index, and is percent-decoded; a lone item ignores it', () => {
    const features = [item({ dem: asset() }, {}, { id: '1' }), item({ dem: asset() }, {}, { id: 'b c' }), item({ dem: asset() }, {}, { id: 'x' })];
    const fc = { type: 'FeatureCollection', features };
    expect(resolveModalitySource(fc, `${URL_}#1`, 'DEM').id).toBe('1');
    expect(resolveModalitySource(features, `${URL_}#2`, 'DEM').id).toBe('x');
    expect(resolveModalitySource(fc, `${URL_}#b%20c`, 'DEM').id).toBe('b c');
    expect(resolveModalitySource(features[2], `${URL_}#1`, 'DEM').id).toBe('x');
    expect(resolveModalitySource(features[2], `${URL_}#B04`, 'DEM').id).toBe('x');
    expect(badRequestOf(() => resolveModalitySource(features, `${URL_}#`, 'DEM')).detail).toMatch(/^The collection holds 3 items/);
    // Only a fragment of digits alone is an index; anything else is an id.
    for (const hash of ['1x', 'x1', '12a']) {
      expect(badRequestOf(() => resolveModalitySource(fc, `${URL_}#${hash}`, 'DEM')).detail, hash).toBe(`No item "${hash}" in the collection; it holds: 1, b c, x`);
    }
    expect(badRequestOf(() => resolveModalitySource(fc, `${URL_}#12`, 'DEM')).detail).toBe('Item index 12 is out of range: the collection holds 3 items');
  });

  it('lists at most 20 ids of a large collection in its 400s', () => {
    const many = Array.from({ length: 25 }, (_, i) => item({ dem: asset() }, {}, { id: `i${i}` }));
    const first20 = many.slice(0, 20).map((feature) => feature.id).join(', ');
    expect(badRequestOf(() => pickStacItem(many, { id: 'nope' })).detail).toBe(`No item "nope" in the collection; it holds: ${first20}`);
    expect(badRequestOf(() => pickStacItem(many)).detail).toBe(`The collection holds 25 items (${first20}); choose one by id or index (e.g. append #<id> or #<index> to its URL)`);
  });
});
