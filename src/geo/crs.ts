import proj4 from 'proj4';
import { badRequest } from '../errors.js';

/**
 * The coordinate reference systems the service understands, as proj4 definitions keyed "EPSG:<code>".
 * A closed list on purpose: an unknown code is a 400 naming the supported ones, never a silent wrong warp.
 */
const DEFINITIONS: Record<string, string> = {
  'EPSG:4326': '+proj=longlat +datum=WGS84 +no_defs',
  'EPSG:3857':
    '+proj=merc +a=6378137 +b=6378137 +lat_ts=0 +lon_0=0 +x_0=0 +y_0=0 +k=1 +units=m +nadgrids=@null +wktext +no_defs',
  // Swiss LV95 (swisstopo DEMs); towgs84 from the EPSG transformation 1676 (CH1903+ to WGS 84).
  'EPSG:2056':
    '+proj=somerc +lat_0=46.9524055555556 +lon_0=7.43958333333333 +k_0=1 +x_0=2600000 +y_0=1200000 +ellps=bessel +towgs84=674.374,15.056,405.346,0,0,0,0 +units=m +no_defs',
  // ETRS89 / LAEA Europe.
  'EPSG:3035': '+proj=laea +lat_0=52 +lon_0=10 +x_0=4321000 +y_0=3210000 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs',
};
for (let zone = 1; zone <= 60; zone++) {
  DEFINITIONS[`EPSG:${32600 + zone}`] = `+proj=utm +zone=${zone} +datum=WGS84 +units=m +no_defs`;
  DEFINITIONS[`EPSG:${32700 + zone}`] = `+proj=utm +zone=${zone} +south +datum=WGS84 +units=m +no_defs`;
}
for (const [code, definition] of Object.entries(DEFINITIONS)) proj4.defs(code, definition);

/**
 * Normalises the spellings a CRS arrives in (EPSG:n, OGC CRS84, OGC/EPSG URIs, a bare number) to "EPSG:n".
 * CRS84 maps to EPSG:4326 because the service keeps every geographic coordinate in lon/lat order.
 */
export function normalizeCrs(value: string | number): string {
  const text = String(value).trim();
  if (/^(OGC:)?CRS:?84$/i.test(text) || /opengis\.net\/def\/crs\/OGC\/1\.3\/CRS84$/i.test(text)) return 'EPSG:4326';
  const match =
    /^EPSG:(?::)?(\d+)$/i.exec(text) ??
    /^urn:ogc:def:crs:EPSG:[^:]*:(\d+)$/i.exec(text) ??
    /opengis\.net\/def\/crs\/EPSG\/[^/]+\/(\d+)$/i.exec(text) ??
    /^(\d+)$/.exec(text);
  if (!match) throw badRequest(`Unsupported CRS "${text}": use EPSG:<code> (supported: ${describeSupported()})`);
  const crs = `EPSG:${Number(match[1])}`;
  if (!(crs in DEFINITIONS)) throw badRequest(`Unsupported CRS ${crs}: supported are ${describeSupported()}`);
  return crs;
}

function describeSupported(): string {
  return 'EPSG:4326, OGC CRS84, EPSG:3857, EPSG:2056, EPSG:3035 and the WGS 84 UTM zones EPSG:32601-32660/32701-32760';
}

export interface CoordinateTransform {
  /** Transforms a point; returns [NaN, NaN] where the point is outside the projection's domain. */
  forward(x: number, y: number): [number, number];
  identity: boolean;
}

const transforms = new Map<string, CoordinateTransform>();

/** A cached point transformer between two supported CRSs. */
export function coordinateTransform(from: string, to: string): CoordinateTransform {
  const source = normalizeCrs(from);
  const target = normalizeCrs(to);
  const key = `${source}>${target}`;
  let transform = transforms.get(key);
  if (!transform) {
    if (source === target) {
      transform = { identity: true, forward: (x, y) => [x, y] };
    } else {
      const converter = proj4(source, target);
      transform = {
        identity: false,
        forward: (x, y) => {
          try {
            const out = converter.forward([x, y]);
            const ox = out[0];
            const oy = out[1];
            return Number.isFinite(ox) && Number.isFinite(oy) ? [ox, oy] : [NaN, NaN];
          } catch {
            return [NaN, NaN];
          }
        },
      };
    }
    transforms.set(key, transform);
  }
  return transform;
}

/**
 * Transforms a bounding box by densifying its edges (21 points a side), since a straight edge in one CRS
 * is a curve in another. Returns undefined when no edge point can be transformed.
 */
export function transformBounds(
  bounds: readonly [number, number, number, number],
  from: string,
  to: string,
  densify = 21,
): [number, number, number, number] | undefined {
  const transform = coordinateTransform(from, to);
  const [minX, minY, maxX, maxY] = bounds;
  let outMinX = Infinity;
  let outMinY = Infinity;
  let outMaxX = -Infinity;
  let outMaxY = -Infinity;
  for (let i = 0; i < densify; i++) {
    for (let j = 0; j < densify; j++) {
      // Edges plus an interior lattice: interior extremes matter for polar or wide boxes.
      const x = minX + ((maxX - minX) * i) / (densify - 1);
      const y = minY + ((maxY - minY) * j) / (densify - 1);
      const [ox, oy] = transform.forward(x, y);
      if (!Number.isFinite(ox)) continue;
      outMinX = Math.min(outMinX, ox);
      outMinY = Math.min(outMinY, oy);
      outMaxX = Math.max(outMaxX, ox);
      outMaxY = Math.max(outMaxY, oy);
    }
  }
  return Number.isFinite(outMinX) ? [outMinX, outMinY, outMaxX, outMaxY] : undefined;
}
