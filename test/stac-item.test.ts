import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseStacItem, pickStacItem } from '../src/stac/item.js';
import { badRequestOf } from './helpers/expect-error.js';
import { FIXTURES } from './helpers/fixture-server.js';

const load = (path: string): any => JSON.parse(readFileSync(`${FIXTURES}${path}`, 'utf8'));
const clone = <T>(value: T): T => structuredClone(value);

describe('STAC item parsing', () => {
  it('reads the recorded Earth Search L2A item: asset-level proj wins, bands merged from eo:bands + raster:bands', () => {
    const item = parseStacItem(load('stac/earth-search/S2B_20EPT_20250731_0_L2A.json'));
    expect(item.id).toBe('S2B_20EPT_20250731_0_L2A');
    expect(item.stacVersion).toBe('1.0.0');
    expect(item.boaOffsetApplied).toBe(true);
    expect(item.processingBaseline).toBe('05.11');
    expect(item.datetime).toBe('2025-07-31T13:19:22.930000Z');
    expect(item.bbox).toEqual([-59.831578, -60.501986, -59.179189, -60.381497]);
    const coastal = item.assets.coastal!;
    expect(coastal.crs).toBe('EPSG:32720'); // from the item's proj:epsg
    expect(coastal.transform).toEqual([60, 0, 600000, 0, -60, 3300040]); // the asset's own 60 m grid
    expect(coastal.shape).toEqual([1830, 1830]);
    expect(item.assets.blue!.transform?.[0]).toBe(10);
    expect(coastal.bands).toEqual([
      { name: 'B01', commonName: 'coastal', scale: 0.0001, offset: -0.1, nodata: 0, dataType: 'uint16' },
    ]);
    expect(item.assets.visual!.bands.map((band) => band.name)).toEqual(['B04', 'B03', 'B02']);
  });

  it('reads proj:code, 9-value transforms and 1.1 bands[] the same as the 1.0 spellings', () => {
    const v11 = parseStacItem(load('stac-local/stac11-s2l2a-chip.json'));
    const v10 = parseStacItem(load('stac-local/stac10-s2l2a-chip.json'));
    expect(v11.stacVersion).toBe('1.1.0');
    expect(v10.stacVersion).toBe('1.0.0');
    const a11 = v11.assets.reflectance!;
    const a10 = v10.assets.reflectance!;
    expect(a11.crs).toBe('EPSG:32736');
    expect(a11.transform).toEqual([10, 0, 617301.8198784497, 0, -10, 9625098.22745184]);
    expect(a11.bands[3]).toEqual({ name: 'B04', commonName: 'red', scale: 0.0001, offset: -0.1, nodata: 0, dataType: 'int16' });
    expect({ ...a11, type: undefined }).toEqual({ ...a10, type: undefined });
  });

  it('turns raster nodata strings into numbers and keeps a null datetime out', () => {
    const json = clone(load('stac-local/stac11-s2l2a-chip.json'));
    json.assets.reflectance.bands[0].nodata = 'nan';
    json.assets.reflectance.bands[1].nodata = '-inf';
    json.properties.datetime = null;
    const item = parseStacItem(json);
    expect(item.assets.reflectance!.bands[0]!.nodata).toBeNaN();
    expect(item.assets.reflectance!.bands[1]!.nodata).toBe(-Infinity);
    expect(item.datetime).toBeUndefined();
  });

  it('normalises a 3D bbox to 2D', () => {
    const json = clone(load('stac-local/stac10-s2l2a-chip.json'));
    json.bbox = [1, 2, -10, 3, 4, 100];
    expect(parseStacItem(json).bbox).toEqual([1, 2, 3, 4]);
  });
});

describe('STAC item problems are 400s that say what is wrong', () => {
  it('lists missing and mistyped fields with their paths', () => {
    const json = clone(load('stac-local/stac10-s2l2a-chip.json'));
    delete json.id;
    json.assets.reflectance.href = 42;
    json.properties['proj:transform'] = [10, 0, 1, 0, -10];
    const error = badRequestOf(() => parseStacItem(json));
    expect(error.detail).toContain('Not a usable STAC Item');
    expect(error.detail).toMatch(/\bid: /);
    expect(error.detail).toContain('assets.reflectance.href');
    expect(error.detail).toContain('proj:transform must have 6 or 9 numbers');
  });

  it('rejects things that are not items', () => {
    expect(badRequestOf(() => parseStacItem(null)).detail).toContain('Not a usable STAC Item');
    expect(badRequestOf(() => parseStacItem({ type: 'Collection', id: 'x' })).detail).toContain('type must be "Feature"');
    expect(badRequestOf(() => parseStacItem('{"id": 1}')).detail).toContain('Not a usable STAC Item');
    expect(badRequestOf(() => parseStacItem(load('stac/planetary-computer/cop-dem-glo-30-pc.json'))).detail).toContain(
      'collection of 4 items',
    );
  });

  it('rejects a transform without any CRS, a non-EPSG proj:code and a degenerate transform', () => {
    const noCrs = clone(load('stac-local/stac10-s2l2a-chip.json'));
    delete noCrs.properties['proj:epsg'];
    expect(badRequestOf(() => parseStacItem(noCrs)).detail).toContain(
      'asset "reflectance": proj:transform is given but no CRS (proj:code or proj:epsg)',
    );
    const iau = clone(load('stac-local/stac11-s2l2a-chip.json'));
    iau.properties['proj:code'] = 'IAU_2015:30100';
    expect(badRequestOf(() => parseStacItem(iau)).detail).toContain('proj:code "IAU_2015:30100" is not an EPSG code');
    const flat = clone(load('stac-local/stac10-s2l2a-chip.json'));
    flat.properties['proj:transform'] = [0, 0, 1, 0, 0, 1];
    expect(badRequestOf(() => parseStacItem(flat)).detail).toContain('degenerate');
  });
});

describe('picking an item out of a collection', () => {
  const pc = load('stac/planetary-computer/sentinel-2-l2a-pc.json');

  it('picks by index or id from a Planetary Computer array and from a FeatureCollection', () => {
    expect((pickStacItem(pc, { index: 2 }) as { id: string }).id).toBe('S2B_MSIL2A_20240419T095549_R122_T46XES_20240419T123824');
    expect((pickStacItem(pc, { id: 'S2B_MSIL2A_20240419T095549_R122_T47XMJ_20240419T122756' }) as { id: string }).id).toBe(
      'S2B_MSIL2A_20240419T095549_R122_T47XMJ_20240419T122756',
    );
    const fc = load('stac-local/terramind-chips.json');
    expect((pickStacItem(fc, { id: 'terramind-38D_378R_2_3-DEM' }) as { id: string }).id).toBe('terramind-38D_378R_2_3-DEM');
    const single = load('stac-local/planetary-computer-s2l2a.json');
    expect((pickStacItem(single) as { id: string }).id).toMatch(/^S2A_MSIL2A_/);
    const item = load('stac-local/stac10-s2l2a-chip.json');
    expect(pickStacItem(item)).toBe(item);
  });

  it('says what is there when the choice is missing or wrong', () => {
    expect(badRequestOf(() => pickStacItem(pc)).detail).toMatch(/holds 4 items \(S2B_MSIL2A_.*\); choose one by id or index/);
    expect(badRequestOf(() => pickStacItem(pc, { index: 4 })).detail).toContain('index 4 is out of range: the collection holds 4 items');
    expect(badRequestOf(() => pickStacItem(pc, { id: 'nope' })).detail).toContain('No item "nope"');
    expect(badRequestOf(() => pickStacItem(load('stac-local/stac10-s2l2a-chip.json'), { id: 'nope' })).detail).toContain(
      'not "nope"',
    );
  });
});
