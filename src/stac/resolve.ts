import { badRequest } from '../errors.js';
import type { Modality } from '../modalities.js';
import { mapModalityBands, type BandMatch } from './bands.js';
import { parseStacItem, pickStacItem, type StacAsset, type StacItem } from './item.js';
import { resolveHref } from './href.js';
import type { BandSource, ModalitySource, ValueTransform } from './types.js';

/**
 * Turns a STAC Item into the bands TerraMind reads, with each provider's value convention folded into
 * scale/offset (model = stored * scale + offset, then the optional valueTransform). docs/inputs.md explains
 * every rule here and why.
 */

export interface ResolveOptions {
  /** Refuse items whose chosen assets lack proj:* georeferencing (CRS, transform and shape). */
  requireGeoreference?: boolean;
}

/** ESA's processing baseline 04.00 (25 January 2022) added +1000 to every S2 DN. */
const BASELINE_04_DATE = '2022-01-25';
/** TerraMind's S2 convention (TerraMesh): DN = reflectance * 10000 + 1000, i.e. the baseline >= 04.00 form. */
const S2_QUANTIFICATION = 10_000;
const S2_MODEL_OFFSET = 1_000;

const round = (value: number) => Math.round(value * 1e9) / 1e9;

interface Conversion {
  scale: number;
  offset: number;
  nodata?: number;
  valueTransform?: ValueTransform;
}

function baselineAtLeast04(item: StacItem): boolean | undefined {
  if (item.processingBaseline !== undefined) {
    const baseline = Number.parseFloat(item.processingBaseline);
    if (Number.isFinite(baseline)) return baseline >= 4;
  }
  if (item.datetime) return item.datetime.slice(0, 10) >= BASELINE_04_DATE;
  return undefined;
}

/**
 * Sentinel-2 reflectance bands -> DN in the baseline >= 04.00 convention.
 * With raster scale/offset (Earth Search): reflectance r = DN*scale + offset, model = r*10000 + 1000.
 * Earth Search items flagged earthsearch:boa_offset_applied=true already had the -1000 taken out of the
 * pixels (r = DN*scale) while their raster:bands still say offset -0.1, so that offset is not applied again.
 * Without raster metadata (Planetary Computer) the processing baseline decides: >= 04.00 the DN is already in
 * the model's convention; before it, +1000.
 */
function s2Conversion(item: StacItem, match: BandMatch): Conversion {
  const band = match.stacBand ?? {};
  const nodata = band.nodata ?? 0; // ESA reserves DN 0 for no data; many COGs do not declare it
  if (band.scale !== undefined) {
    // A reflectance scale is about 1e-4; anything near 1 means the metadata describes something else and
    // folding it in would be silently wrong by orders of magnitude.
    if (!(band.scale > 0 && band.scale < 0.01)) {
      throw badRequest(
        `Item "${item.id}": asset "${match.asset.key}" declares raster scale ${band.scale}, which is not a DN-to-reflectance scale (about 0.0001)`,
      );
    }
    const offset = item.boaOffsetApplied === true ? 0 : (band.offset ?? 0);
    return {
      scale: round(band.scale * S2_QUANTIFICATION),
      offset: round(offset * S2_QUANTIFICATION + S2_MODEL_OFFSET),
      nodata,
    };
  }
  if (item.boaOffsetApplied === true) return { scale: 1, offset: S2_MODEL_OFFSET, nodata };
  const modern = baselineAtLeast04(item);
  if (modern === undefined) {
    throw badRequest(
      `Item "${item.id}": cannot tell the Sentinel-2 value convention of asset "${match.asset.key}": it has no raster scale/offset, no s2:processing_baseline and no datetime`,
    );
  }
  return { scale: 1, offset: modern ? 0 : S2_MODEL_OFFSET, nodata };
}

/** The integer `data_type` values of the STAC raster extension. */
const INTEGER_DATA_TYPES = new Set(['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64']);

/**
 * Sentinel-1 backscatter -> dB. Bands declaring unit dB pass through; float bands otherwise are linear power
 * (Planetary Computer sentinel-1-rtc) and get 'linear-to-db'; integer bands are GRD amplitude DNs, which
 * are not calibrated backscatter.
 */
function s1Conversion(item: StacItem, match: BandMatch): Conversion {
  const band = match.stacBand ?? {};
  const base = { scale: band.scale ?? 1, offset: band.offset ?? 0, ...(band.nodata !== undefined ? { nodata: band.nodata } : {}) };
  if (band.unit?.toLowerCase() === 'db') return base;
  if (band.dataType && INTEGER_DATA_TYPES.has(band.dataType.toLowerCase())) {
    throw badRequest(
      `Item "${item.id}": asset "${match.asset.key}" holds ${band.dataType} Sentinel-1 GRD amplitude numbers, not calibrated backscatter; use a Sentinel-1 RTC item (e.g. Planetary Computer sentinel-1-rtc)`,
    );
  }
  return { ...base, valueTransform: 'linear-to-db' };
}

/** ESRI / Impact Observatory land cover uses codes 1..11 with gaps; TerraMind uses indices 0..9. */
function usesEsriCodes(item: StacItem, asset: StacAsset): boolean {
  if (/^io-lulc/i.test(item.collection ?? '')) return true;
  return (asset.classValues ?? []).some((value) => value === 10 || value === 11);
}

function conversionFor(modality: Modality, item: StacItem, match: BandMatch): Conversion {
  const band = match.stacBand ?? {};
  const nodata = band.nodata !== undefined ? { nodata: band.nodata } : {};
  switch (modality) {
    case 'S2L2A':
    case 'S2L1C':
      return s2Conversion(item, match);
    case 'S1GRD':
    case 'S1RTC':
      return s1Conversion(item, match);
    case 'LULC':
      return usesEsriCodes(item, match.asset)
        ? { scale: 1, offset: 0, ...nodata, valueTransform: 'esri-lulc-to-terramind' }
        : { scale: 1, offset: 0, ...nodata };
    case 'S2RGB':
      return { scale: 1, offset: 0, ...nodata };
    default:
      // DEM metres, NDVI: the declared physical scaling is what the model wants.
      return { scale: band.scale ?? 1, offset: band.offset ?? 0, ...nodata };
  }
}

function pathOf(href: string): string {
  try {
    return new URL(href).pathname;
  } catch {
    return href.replace(/[?#].*$/, '');
  }
}

function checkReadable(item: StacItem, asset: StacAsset): void {
  const type = asset.type ?? '';
  // The path, not the whole href: signed URLs (Planetary Computer) end in a query string.
  if (/jp2|jpeg2000/i.test(type) || /\.jp2$/i.test(pathOf(asset.href))) {
    throw badRequest(
      `Item "${item.id}": asset "${asset.key}" is JPEG 2000 (${asset.href}); only GeoTIFF/COG assets can be read`,
    );
  }
  if (type && !/tiff/i.test(type)) {
    throw badRequest(`Item "${item.id}": asset "${asset.key}" has media type "${type}", not a GeoTIFF`);
  }
}

/**
 * A URL fragment chooses one Item of a FeatureCollection / array: `items.json#<id>` or `items.json#<index>`
 * (an id wins over an index when both could match). Fragments never reach the server.
 */
function selectorFromUrl(itemUrl: string, json: unknown): { id?: string; index?: number } {
  const hash = itemUrl.includes('#') ? decodeURIComponent(itemUrl.slice(itemUrl.indexOf('#') + 1)) : '';
  if (!hash) return {};
  const isCollection = Array.isArray(json) || (json as { type?: unknown } | null)?.type === 'FeatureCollection';
  if (!isCollection) return {};
  const features = (Array.isArray(json) ? json : (json as { features?: unknown }).features) as unknown[] | undefined;
  const idMatches = Array.isArray(features) && features.some((feature) => (feature as { id?: unknown } | null)?.id === hash);
  return /^\d+$/.test(hash) && !idMatches ? { index: Number(hash) } : { id: hash };
}

/**
 * Resolves `modality` from a STAC Item, or from a collection / array of Items where the URL fragment (#id or
 * #index) or a single member picks one. `itemUrl` is where the JSON came from: relative asset hrefs resolve
 * against it.
 */
export function resolveModalitySource(
  itemJson: unknown,
  itemUrl: string,
  modality: Modality,
  options: ResolveOptions = {},
): ModalitySource {
  const item = parseStacItem(pickStacItem(itemJson, selectorFromUrl(itemUrl, itemJson)));
  const matches = mapModalityBands(item, modality);
  const bands: BandSource[] = matches.map((match) => {
    checkReadable(item, match.asset);
    const { asset } = match;
    if (options.requireGeoreference && (!asset.crs || !asset.transform || !asset.shape)) {
      const absent = [!asset.crs && 'proj:code/proj:epsg', !asset.transform && 'proj:transform', !asset.shape && 'proj:shape']
        .filter(Boolean)
        .join(', ');
      throw badRequest(`Item "${item.id}": asset "${asset.key}" lacks ${absent} (at asset or item level)`);
    }
    const conversion = conversionFor(modality, item, match);
    return {
      band: match.band,
      href: resolveHref(asset.href, itemUrl, asset.key),
      bandIndex: match.bandIndex,
      scale: conversion.scale,
      offset: conversion.offset,
      ...(conversion.nodata !== undefined ? { nodata: conversion.nodata } : {}),
      ...(conversion.valueTransform ? { valueTransform: conversion.valueTransform } : {}),
      assetKey: asset.key,
      ...(asset.crs ? { crs: asset.crs } : {}),
      ...(asset.transform ? { transform: asset.transform } : {}),
      ...(asset.shape ? { shape: asset.shape } : {}),
    };
  });
  return {
    modality,
    id: item.id,
    bands,
    ...(item.datetime ? { datetime: item.datetime } : {}),
    ...(item.bbox ? { bbox: item.bbox } : {}),
  };
}
