import { z } from 'zod';
import { badRequest } from '../errors.js';
import type { Affine } from '../raster/raster.js';

/**
 * The part of a STAC Item (1.0 and 1.1) that the service reads, normalised into one shape:
 * 1.0 `eo:bands` + `raster:bands` and 1.1 `bands` (with `raster:scale`, `eo:common_name`...) both become
 * `StacAsset.bands`; `proj:epsg` and `proj:code` both become `crs` "EPSG:n"; asset-level proj:* wins over the
 * item's (S2 mixes 10/20/60 m assets in one item). Fields we do not use are kept only in `properties`.
 */

/** nodata in the raster extension may be a number or one of the strings "nan", "inf", "-inf". */
const nodataValue = z.union([
  z.number(),
  z.enum(['nan', 'inf', '-inf']).transform((value) => (value === 'nan' ? Number.NaN : value === 'inf' ? Infinity : -Infinity)),
]);

const bandSchema = z
  .object({
    name: z.string().optional(),
    common_name: z.string().optional(),
    'eo:common_name': z.string().optional(),
    nodata: nodataValue.nullish(),
    scale: z.number().nullish(),
    offset: z.number().nullish(),
    data_type: z.string().nullish(),
    unit: z.string().nullish(),
    'raster:scale': z.number().nullish(),
    'raster:offset': z.number().nullish(),
    'raster:nodata': nodataValue.nullish(),
  })
  .loose();

const transformSchema = z
  .array(z.number())
  .refine((values) => values.length === 6 || values.length === 9, { message: 'proj:transform must have 6 or 9 numbers' });

const shapeSchema = z.tuple([z.number().int().positive(), z.number().int().positive()]);

/** proj:* fields, valid both in properties and on an asset. */
const projFields = {
  'proj:epsg': z.number().int().positive().nullish(),
  'proj:code': z.string().nullish(),
  'proj:transform': transformSchema.nullish(),
  'proj:shape': shapeSchema.nullish(),
};

const assetSchema = z
  .object({
    href: z.string().min(1, 'href must not be empty'),
    type: z.string().optional(),
    roles: z.array(z.string()).optional(),
    'eo:bands': z.array(bandSchema).optional(),
    'raster:bands': z.array(bandSchema).optional(),
    bands: z.array(bandSchema).optional(),
    'file:values': z.array(z.object({ values: z.array(z.number()) }).loose()).optional(),
    'classification:classes': z.array(z.object({ value: z.number() }).loose()).optional(),
    ...projFields,
  })
  .loose();

const itemSchema = z
  .object({
    type: z.literal('Feature', { message: 'type must be "Feature" (a STAC Item)' }),
    stac_version: z.string().optional(),
    id: z.string().min(1, 'id must not be empty'),
    collection: z.string().optional(),
    bbox: z
      .array(z.number())
      .refine((values) => values.length === 4 || values.length === 6, { message: 'bbox must have 4 or 6 numbers' })
      .nullish(),
    properties: z
      .object({
        datetime: z.string().nullable().optional(),
        start_datetime: z.string().optional(),
        'earthsearch:boa_offset_applied': z.boolean().optional(),
        's2:processing_baseline': z.string().optional(),
        ...projFields,
      })
      .loose(),
    assets: z.record(z.string(), assetSchema),
  })
  .loose();

type RawAsset = z.infer<typeof assetSchema>;
type RawProj = Pick<RawAsset, 'proj:epsg' | 'proj:code' | 'proj:transform' | 'proj:shape'>;

/** One band of an asset with the 1.0/1.1 spellings merged. */
export interface StacBand {
  name?: string;
  commonName?: string;
  scale?: number;
  offset?: number;
  nodata?: number;
  dataType?: string;
  unit?: string;
}

export interface StacAsset {
  key: string;
  href: string;
  type?: string;
  roles: string[];
  /** Empty when the asset says nothing about its bands. */
  bands: StacBand[];
  /** "EPSG:n", from the asset or else the item. */
  crs?: string;
  transform?: Affine;
  shape?: [rows: number, cols: number];
  /** Class values the asset declares (file:values / classification:classes), for recognising class codings. */
  classValues?: number[];
}

export interface StacItem {
  id: string;
  stacVersion?: string;
  collection?: string;
  /** CRS84 [west, south, east, north]. */
  bbox?: [number, number, number, number];
  datetime?: string;
  /** Earth Search: true when the COG pixel values already have the -1000 BOA offset taken out. */
  boaOffsetApplied?: boolean;
  /** Sentinel-2 processing baseline, e.g. "05.10". */
  processingBaseline?: string;
  properties: Record<string, unknown>;
  assets: Record<string, StacAsset>;
}

function formatIssues(error: z.ZodError): string {
  const problems = error.issues.slice(0, 8).map((issue) => {
    const path = issue.path.map(String).join('.');
    return path ? `${path}: ${issue.message}` : issue.message;
  });
  const more = error.issues.length > 8 ? ` (and ${error.issues.length - 8} more)` : '';
  return problems.join('; ') + more;
}

function epsgOf(proj: RawProj, where: string): string | undefined {
  if (proj['proj:code']) {
    const match = /^EPSG:(\d+)$/i.exec(proj['proj:code'].trim());
    if (!match) throw badRequest(`${where}: proj:code "${proj['proj:code']}" is not an EPSG code; only EPSG:n is supported`);
    return `EPSG:${match[1]}`;
  }
  return proj['proj:epsg'] ? `EPSG:${proj['proj:epsg']}` : undefined;
}

function affineOf(values: number[] | null | undefined, where: string): Affine | undefined {
  if (!values) return undefined;
  const [a, b, c, d, e, f] = values as [number, number, number, number, number, number];
  if (a * e - b * d === 0) throw badRequest(`${where}: proj:transform [${values.join(', ')}] is degenerate (zero determinant)`);
  return [a, b, c, d, e, f];
}

function mergeBands(asset: RawAsset): StacBand[] {
  const eo = asset['eo:bands'] ?? [];
  const raster = asset['raster:bands'] ?? [];
  const common = asset.bands ?? [];
  const count = Math.max(eo.length, raster.length, common.length);
  const merged: StacBand[] = [];
  for (let i = 0; i < count; i += 1) {
    const e = eo[i] ?? {};
    const r = raster[i] ?? {};
    const c = common[i] ?? {};
    const band: StacBand = {
      name: c.name ?? e.name ?? r.name,
      commonName: c['eo:common_name'] ?? c.common_name ?? e.common_name ?? e['eo:common_name'],
      scale: c['raster:scale'] ?? c.scale ?? r.scale ?? undefined,
      offset: c['raster:offset'] ?? c.offset ?? r.offset ?? undefined,
      nodata: c.nodata ?? c['raster:nodata'] ?? r.nodata ?? undefined,
      dataType: c.data_type ?? r.data_type ?? undefined,
      unit: c.unit ?? r.unit ?? undefined,
    };
    merged.push(Object.fromEntries(Object.entries(band).filter(([, v]) => v !== undefined && v !== null)) as StacBand);
  }
  return merged;
}

function normaliseAsset(key: string, asset: RawAsset, itemProj: RawProj): StacAsset {
  const where = `asset "${key}"`;
  // Asset-level proj:* wins field by field; an asset CRS without a transform still takes the item's transform.
  const crs = epsgOf(asset, where) ?? epsgOf(itemProj, 'properties');
  const transform = affineOf(asset['proj:transform'] ?? itemProj['proj:transform'], where);
  const shape = (asset['proj:shape'] ?? itemProj['proj:shape'] ?? undefined) as [number, number] | undefined;
  if (transform && !crs) {
    throw badRequest(`${where}: proj:transform is given but no CRS (proj:code or proj:epsg) at asset or item level`);
  }
  const classValues = [
    ...(asset['file:values'] ?? []).flatMap((entry) => entry.values),
    ...(asset['classification:classes'] ?? []).map((entry) => entry.value),
  ];
  return {
    key,
    href: asset.href,
    type: asset.type,
    roles: asset.roles ?? [],
    bands: mergeBands(asset),
    ...(crs ? { crs } : {}),
    ...(transform ? { transform } : {}),
    ...(shape ? { shape } : {}),
    ...(classValues.length > 0 ? { classValues } : {}),
  };
}

/** Validates one STAC Item (1.0 or 1.1); anything malformed is a 400 that lists the problems. */
export function parseStacItem(json: unknown): StacItem {
  if (Array.isArray(json) || (json as { type?: unknown } | null)?.type === 'FeatureCollection') {
    const count = Array.isArray(json) ? json.length : ((json as { features?: unknown[] }).features?.length ?? 0);
    throw badRequest(`Expected one STAC Item but got a collection of ${count} items; pick one by id or index (e.g. append #<id> or #<index> to its URL)`);
  }
  const result = itemSchema.safeParse(json);
  if (!result.success) throw badRequest(`Not a usable STAC Item: ${formatIssues(result.error)}`);
  const raw = result.data;
  const props = raw.properties;
  const assets: Record<string, StacAsset> = {};
  for (const [key, asset] of Object.entries(raw.assets)) assets[key] = normaliseAsset(key, asset, props);
  const bbox = raw.bbox
    ? ((raw.bbox.length === 6 ? [raw.bbox[0], raw.bbox[1], raw.bbox[3], raw.bbox[4]] : raw.bbox) as [number, number, number, number])
    : undefined;
  const datetime = props.datetime ?? props.start_datetime ?? undefined;
  return {
    id: raw.id,
    stacVersion: raw.stac_version,
    collection: raw.collection,
    bbox,
    datetime,
    boaOffsetApplied: props['earthsearch:boa_offset_applied'],
    processingBaseline: props['s2:processing_baseline'],
    properties: props,
    assets,
  };
}

/**
 * Picks one Item out of a FeatureCollection, a bare JSON array of Items (Planetary Computer exports) or a
 * single Item. Without a selector a collection must hold exactly one Item.
 */
export function pickStacItem(json: unknown, selector: { id?: string; index?: number } = {}): unknown {
  const features = Array.isArray(json)
    ? json
    : (json as { type?: unknown } | null)?.type === 'FeatureCollection'
      ? (json as { features?: unknown }).features
      : undefined;
  if (features === undefined) {
    if (selector.id !== undefined && (json as { id?: unknown } | null)?.id !== selector.id) {
      throw badRequest(`The STAC Item's id is "${String((json as { id?: unknown } | null)?.id)}", not "${selector.id}"`);
    }
    return json;
  }
  if (!Array.isArray(features)) throw badRequest('FeatureCollection has no "features" array');
  const ids = features.map((feature) => String((feature as { id?: unknown } | null)?.id));
  if (selector.id !== undefined) {
    const found = features.find((feature) => (feature as { id?: unknown } | null)?.id === selector.id);
    if (!found) throw badRequest(`No item "${selector.id}" in the collection; it holds: ${ids.slice(0, 20).join(', ')}`);
    return found;
  }
  if (selector.index !== undefined) {
    if (!Number.isInteger(selector.index) || selector.index < 0 || selector.index >= features.length) {
      throw badRequest(`Item index ${selector.index} is out of range: the collection holds ${features.length} items`);
    }
    return features[selector.index];
  }
  if (features.length !== 1) {
    throw badRequest(`The collection holds ${features.length} items (${ids.slice(0, 20).join(', ')}); choose one by id or index (e.g. append #<id> or #<index> to its URL)`);
  }
  return features[0];
}
