import { badRequest } from '../errors.js';
import { MODALITIES, type Modality } from '../modalities.js';
import type { StacAsset, StacBand, StacItem } from './item.js';

/**
 * Which asset (and band inside it) holds each TerraMind band of a modality. Providers name things
 * differently: Earth Search keys assets by common name (coastal, rededge1, nir08...), Planetary Computer by
 * B-number (B01, B8A), TerraMind chips put all bands in one asset described by eo:bands / bands.
 * Asset keys are tried first (they are unambiguous), band names inside assets second.
 */

interface BandAliases {
  /** Asset keys or band names, compared case-insensitively. */
  names: string[];
  /** eo common_name when it identifies the band uniquely ("rededge" does not, so B05-B07 have none). */
  common?: string;
}

const S2: Record<string, BandAliases> = {
  B01: { names: ['B01', 'B1', 'coastal'], common: 'coastal' },
  B02: { names: ['B02', 'B2', 'blue'], common: 'blue' },
  B03: { names: ['B03', 'B3', 'green'], common: 'green' },
  B04: { names: ['B04', 'B4', 'red'], common: 'red' },
  B05: { names: ['B05', 'B5', 'rededge1'] },
  B06: { names: ['B06', 'B6', 'rededge2'] },
  B07: { names: ['B07', 'B7', 'rededge3'] },
  B08: { names: ['B08', 'B8', 'nir'], common: 'nir' },
  B8A: { names: ['B8A', 'B08A', 'nir08'], common: 'nir08' },
  B09: { names: ['B09', 'B9', 'nir09'], common: 'nir09' },
  B10: { names: ['B10', 'cirrus'], common: 'cirrus' },
  B11: { names: ['B11', 'swir16'], common: 'swir16' },
  B12: { names: ['B12', 'swir22'], common: 'swir22' },
};

const OTHER: Record<string, BandAliases> = {
  vv: { names: ['vv'] },
  vh: { names: ['vh'] },
  elevation: { names: ['dem', 'data', 'elevation'] },
  class: { names: ['map', 'data', 'lulc', 'classification'] },
  ndvi: { names: ['ndvi', 'data'] },
};

/** Roles and keys of assets that never hold model input bands. */
const NON_DATA_ROLES = new Set(['thumbnail', 'overview', 'metadata', 'tiles', 'visual']);

export interface BandMatch {
  /** TerraMind band name. */
  band: string;
  asset: StacAsset;
  /** 1-based band index inside the asset's file. */
  bandIndex: number;
  /** The STAC band description at that index, when the asset has one. */
  stacBand?: StacBand;
}

const lower = (value: string | undefined) => value?.toLowerCase();

function isDataAsset(asset: StacAsset): boolean {
  return !asset.roles.some((role) => NON_DATA_ROLES.has(role)) && !/^(visual|tci)$/i.test(asset.key);
}

function byKey(item: StacItem, aliases: BandAliases): BandMatch | undefined {
  const names = aliases.names.map((name) => name.toLowerCase());
  for (const asset of Object.values(item.assets)) {
    if (!isDataAsset(asset) || !names.includes(asset.key.toLowerCase())) continue;
    return { band: '', asset, bandIndex: 1, stacBand: asset.bands[0] };
  }
  return undefined;
}

function byBandName(item: StacItem, aliases: BandAliases): BandMatch | undefined {
  const names = aliases.names.map((name) => name.toLowerCase());
  for (const asset of Object.values(item.assets)) {
    if (!isDataAsset(asset)) continue;
    const index = asset.bands.findIndex(
      (band) =>
        names.includes(lower(band.name) ?? '') ||
        (aliases.common !== undefined && lower(band.commonName) === aliases.common),
    );
    if (index >= 0) return { band: '', asset, bandIndex: index + 1, stacBand: asset.bands[index] };
  }
  return undefined;
}

/** The one asset an item offers when it has a single data asset (a DEM tile, a land-cover map). */
function soleDataAsset(item: StacItem): StacAsset | undefined {
  const data = Object.values(item.assets).filter(
    (asset) => isDataAsset(asset) && (asset.type === undefined || /tiff/i.test(asset.type)),
  );
  return data.length === 1 ? data[0] : undefined;
}

/** The true-colour asset (TCI): key visual/tci or role visual, else an asset whose bands are red, green, blue. */
function rgbMatches(item: StacItem): BandMatch[] | undefined {
  const assets = Object.values(item.assets);
  const visual =
    assets.find((asset) => /^(visual|tci|rgb)$/i.test(asset.key) && !/jp2/i.test(asset.type ?? '')) ??
    assets.find((asset) => asset.roles.includes('visual') && !/jp2/i.test(asset.type ?? '')) ??
    assets.find((asset) => ['red', 'green', 'blue'].every((c) => asset.bands.some((band) => lower(band.commonName) === c)));
  if (!visual) return undefined;
  const wanted: [string, string, string][] = [
    ['red', 'red', 'b04'],
    ['green', 'green', 'b03'],
    ['blue', 'blue', 'b02'],
  ];
  return wanted.map(([band, common, name], position) => {
    const index = visual.bands.findIndex((b) => lower(b.commonName) === common || lower(b.name) === name || lower(b.name) === common);
    // A TCI without band metadata is R,G,B in file order.
    const bandIndex = index >= 0 ? index + 1 : position + 1;
    return { band, asset: visual, bandIndex, stacBand: visual.bands[bandIndex - 1] };
  });
}

function describeAssets(item: StacItem): string {
  const listed = Object.values(item.assets)
    .filter(isDataAsset)
    .map((asset) => {
      const names = asset.bands.map((band) => band.name ?? band.commonName).filter(Boolean);
      return names.length > 0 && !(names.length === 1 && names[0] === asset.key) ? `${asset.key} (${names.join(',')})` : asset.key;
    });
  return listed.length > 0 ? listed.join(', ') : 'none';
}

/** A Sentinel-2 processing level the item clearly has, from its collection or id. */
function s2Level(item: StacItem): 'L1C' | 'L2A' | undefined {
  const text = `${item.collection ?? ''} ${item.id}`;
  if (/l1c/i.test(text)) return 'L1C';
  if (/l2a/i.test(text)) return 'L2A';
  return undefined;
}

/** Maps every band of `modality`, in TerraMind order; a 400 names the missing bands and what the item has. */
export function mapModalityBands(item: StacItem, modality: Modality): BandMatch[] {
  if (modality === 'S2L2A' || modality === 'S2L1C') {
    const level = s2Level(item);
    const wantedLevel = modality === 'S2L2A' ? 'L2A' : 'L1C';
    if (level && level !== wantedLevel) {
      throw badRequest(
        `Item "${item.id}" is Sentinel-2 ${level} but modality ${modality} needs ${wantedLevel}; use modality S2${level}`,
      );
    }
  }
  if (modality === 'S2RGB') {
    const rgb = rgbMatches(item);
    if (!rgb) {
      throw badRequest(
        `Item "${item.id}" has no true-colour asset for S2RGB (a "visual"/"tci" asset or one with red, green, blue bands); assets found: ${describeAssets(item)}`,
      );
    }
    return rgb;
  }
  const table = modality.startsWith('S2') ? S2 : OTHER;
  const single = MODALITIES[modality].bands.length === 1;
  const matches: BandMatch[] = [];
  const missing: string[] = [];
  for (const band of MODALITIES[modality].bands) {
    const aliases = table[band] ?? { names: [band] };
    let match = byKey(item, aliases) ?? byBandName(item, aliases);
    if (!match && single) {
      const asset = soleDataAsset(item);
      if (asset) match = { band, asset, bandIndex: 1, stacBand: asset.bands[0] };
    }
    if (match) matches.push({ ...match, band });
    else missing.push(band);
  }
  if (missing.length > 0) {
    const names = missing.map((band) => {
      const others = (table[band]?.names ?? []).filter((name) => name.toLowerCase() !== band.toLowerCase());
      return others.length > 0 ? `${band} (${others.join('/')})` : band;
    });
    throw badRequest(
      `Item "${item.id}" lacks ${missing.length === 1 ? 'band' : 'bands'} ${names.join(', ')} needed for ${modality}; assets found: ${describeAssets(item)}`,
    );
  }
  return matches;
}
