import type { Raster } from '../raster/raster.js';

/**
 * Building blocks of classic little-endian TIFF files: tag values, the byte size of an IFD with its
 * out-of-line values, and writing one at a given offset. Also the GeoTIFF georeferencing tags of a raster
 * (ModelPixelScale + ModelTiepoint for north-up grids, ModelTransformation otherwise, GeoKeys naming the
 * EPSG code) and GDAL's metadata XML. The COG writer (cog.ts) builds on all of it; the strip writer (geotiff.ts)
 * takes the georeferencing and metadata tags and keeps its own single-IFD layout (its bytes are cached tiles').
 */
export const TIFF_TYPE = { ASCII: 2, SHORT: 3, LONG: 4, DOUBLE: 12 } as const;
const TYPE_SIZE: Record<number, number> = { 2: 1, 3: 2, 4: 4, 12: 8 };

export interface TiffTag {
  code: number;
  type: number;
  values: number[] | string;
}

/** Bytes of one IFD: count, 12-byte entries, next-IFD offset, then its out-of-line values (2-byte aligned). */
export function ifdByteSize(tags: TiffTag[]): number {
  let size = 2 + tags.length * 12 + 4;
  for (const tag of tags) {
    const bytes = valueBytes(tag);
    if (bytes > 4) size = align2(size) + bytes;
  }
  return align2(size);
}

/**
 * Writes an IFD at `offset` with its out-of-line values right after it; tags are sorted by code as TIFF
 * requires. Returns the offset after the IFD's values.
 */
export function writeIfd(view: DataView, offset: number, tags: TiffTag[], nextIfd: number): number {
  const sorted = [...tags].sort((a, b) => a.code - b.code);
  view.setUint16(offset, sorted.length, true);
  let cursor = offset + 2 + sorted.length * 12 + 4;
  sorted.forEach((tag, i) => {
    const entry = offset + 2 + i * 12;
    view.setUint16(entry, tag.code, true);
    view.setUint16(entry + 2, tag.type, true);
    view.setUint32(entry + 4, tag.values.length, true);
    const bytes = valueBytes(tag);
    if (bytes <= 4) {
      writeValues(view, entry + 8, tag);
      return;
    }
    cursor = align2(cursor);
    view.setUint32(entry + 8, cursor, true);
    writeValues(view, cursor, tag);
    cursor += bytes;
  });
  view.setUint32(offset + 2 + sorted.length * 12, nextIfd, true);
  return align2(cursor);
}

function valueBytes(tag: TiffTag): number {
  return tag.values.length * TYPE_SIZE[tag.type];
}

function align2(offset: number): number {
  return offset + (offset % 2);
}

function writeValues(view: DataView, at: number, tag: TiffTag): void {
  if (typeof tag.values === 'string') {
    for (let i = 0; i < tag.values.length; i++) view.setUint8(at + i, tag.values.charCodeAt(i) & 0x7f);
    return;
  }
  tag.values.forEach((value, i) => {
    if (tag.type === TIFF_TYPE.SHORT) view.setUint16(at + i * 2, value, true);
    else if (tag.type === TIFF_TYPE.LONG) view.setUint32(at + i * 4, value, true);
    else view.setFloat64(at + i * 8, value, true);
  });
}

/** GeoTIFF tags placing `raster` (CRS "EPSG:<code>", pixel-is-area). */
export function georeferenceTags(raster: Pick<Raster, 'crs' | 'transform'>): TiffTag[] {
  const epsg = /^EPSG:(\d+)$/i.exec(raster.crs);
  if (!epsg) throw new Error(`GeoTIFF: CRS must be "EPSG:<code>", got "${raster.crs}"`);
  const code = Number(epsg[1]);
  const geographic = code >= 4000 && code < 5000;
  const geoKeys = [
    [1024, 0, 1, geographic ? 2 : 1], // GTModelTypeGeoKey: projected / geographic
    [1025, 0, 1, 1], // GTRasterTypeGeoKey: PixelIsArea
    [geographic ? 2048 : 3072, 0, 1, code], // GeographicTypeGeoKey / ProjectedCSTypeGeoKey
  ];
  const [a, b, c, d, e, f] = raster.transform;
  const northUp = b === 0 && d === 0 && a > 0 && e < 0;
  const placement: TiffTag[] = northUp
    ? [
        { code: 33550, type: TIFF_TYPE.DOUBLE, values: [a, -e, 0] },
        { code: 33922, type: TIFF_TYPE.DOUBLE, values: [0, 0, 0, c, f, 0] },
      ]
    : [{ code: 34264, type: TIFF_TYPE.DOUBLE, values: [a, b, 0, c, d, e, 0, f, 0, 0, 0, 0, 0, 0, 0, 1] }];
  return [...placement, { code: 34735, type: TIFF_TYPE.SHORT, values: [1, 1, 0, geoKeys.length, ...geoKeys.flat()] }];
}

/**
 * GDAL_METADATA (tag 42112): dataset items, and per band a description and a unit, as GDAL reads them
 * (gdalinfo shows them as Metadata, Description and Unit Type). Non-ASCII characters become XML references.
 */
export function gdalMetadataXml(items: Record<string, string>, bandNames: string[], unit?: string): string {
  const dataset = Object.entries(items).map(([name, value]) => `<Item name="${escapeXml(name)}">${escapeXml(value)}</Item>`);
  const bands = bandNames.flatMap((name, i) => [
    `<Item name="DESCRIPTION" sample="${i}" role="description">${escapeXml(name)}</Item>`,
    ...(unit ? [`<Item name="UNITTYPE" sample="${i}" role="unittype">${escapeXml(unit)}</Item>`] : []),
  ]);
  return `<GDALMetadata>${[...dataset, ...bands].join('')}</GDALMetadata>\0`;
}

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']|[^\x20-\x7e]/gu, (ch) => `&#${ch.codePointAt(0)};`);
}
