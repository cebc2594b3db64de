import { endianness } from 'node:os';
import type { Raster } from '../raster/raster.js';
import { gdalMetadataXml, georeferenceTags } from './tiff-ifd.js';

/**
 * A small GeoTIFF writer for float32 rasters: classic little-endian TIFF, one IFD, uncompressed, pixel-interleaved
 * strips of about 256 KiB. Georeferencing: ModelPixelScale + ModelTiepoint for north-up grids, ModelTransformation
 * otherwise; GeoKeys name the EPSG code (ProjectedCSTypeGeoKey, or GeographicTypeGeoKey for 4xxx codes). Pixels
 * with mask 0 are written as the nodata value and GDAL_NODATA is set; band names go to GDAL_METADATA descriptions.
 * Own writer rather than geotiff.js writeArrayBuffer: that one builds per-sample JS arrays (slow for 12-band chips)
 * and writes no ExtraSamples/GDAL_NODATA.
 */
export interface GeoTiffOptions {
  /** Value for masked pixels (default NaN). */
  nodata?: number;
  /** Write GDAL_NODATA even when no pixel is masked (tiles of one layer then all declare it alike). */
  alwaysDeclareNodata?: boolean;
}

const SHORT = 3;
const LONG = 4;
const DOUBLE = 12;
const ASCII = 2;
const TYPE_SIZE: Record<number, number> = { [SHORT]: 2, [LONG]: 4, [DOUBLE]: 8, [ASCII]: 1 };
const STRIP_TARGET_BYTES = 256 * 1024;

interface Tag {
  code: number;
  type: number;
  values: number[] | string;
}

export function encodeGeoTiff(raster: Raster, options: GeoTiffOptions = {}): Uint8Array {
  const { width, height, bands } = raster;
  const samples = bands.length;
  if (samples === 0 || width <= 0 || height <= 0) throw new Error('encodeGeoTiff: raster has no pixels or no bands');
  const nodata = options.nodata ?? Number.NaN;
  const declareNodata = options.alwaysDeclareNodata === true || raster.mask.some((m) => m === 0);

  const rowBytes = width * samples * 4;
  const rowsPerStrip = Math.max(1, Math.min(height, Math.floor(STRIP_TARGET_BYTES / rowBytes)));
  const strips = Math.ceil(height / rowsPerStrip);
  const imageBytes = rowBytes * height;
  if (imageBytes > 0xffff_0000) throw new Error('encodeGeoTiff: raster too large for a classic TIFF (4 GiB)');

  const georeference = georeferenceTags(raster);
  const descriptions = gdalMetadataXml({}, raster.bandNames);

  // Strip offsets are filled in once the layout is known.
  const stripOffsets: number[] = new Array(strips).fill(0);
  const stripCounts = Array.from({ length: strips }, (_, s) => Math.min(rowsPerStrip, height - s * rowsPerStrip) * rowBytes);
  const tags: Tag[] = [
    { code: 256, type: LONG, values: [width] },
    { code: 257, type: LONG, values: [height] },
    { code: 258, type: SHORT, values: new Array(samples).fill(32) },
    { code: 259, type: SHORT, values: [1] },
    { code: 262, type: SHORT, values: [1] },
    { code: 273, type: LONG, values: stripOffsets },
    { code: 277, type: SHORT, values: [samples] },
    { code: 278, type: LONG, values: [rowsPerStrip] },
    { code: 279, type: LONG, values: stripCounts },
    { code: 284, type: SHORT, values: [1] },
    ...(samples > 1 ? [{ code: 338, type: SHORT, values: new Array(samples - 1).fill(0) }] : []),
    { code: 339, type: SHORT, values: new Array(samples).fill(3) },
    ...georeference,
    ...(raster.bandNames.length > 0 ? [{ code: 42112, type: ASCII, values: descriptions }] : []),
    ...(declareNodata ? [{ code: 42113, type: ASCII, values: `${Number.isNaN(nodata) ? 'nan' : String(nodata)}\0` }] : []),
  ];

  // Layout: header | IFD | out-of-line tag values | pixel data (8-byte aligned).
  const ifdOffset = 8;
  const ifdSize = 2 + tags.length * 12 + 4;
  let cursor = ifdOffset + ifdSize;
  const valueOffsets = tags.map((tag) => {
    const size = byteSize(tag);
    if (size <= 4) return -1;
    cursor = align(cursor, 8);
    const at = cursor;
    cursor += size;
    return at;
  });
  const dataOffset = align(cursor, 8);
  for (let s = 0; s < strips; s++) stripOffsets[s] = dataOffset + s * rowsPerStrip * rowBytes;

  const buffer = new ArrayBuffer(dataOffset + imageBytes);
  const view = new DataView(buffer);
  const bytes = new Uint8Array(buffer);
  bytes[0] = 0x49; // "II": little-endian
  bytes[1] = 0x49;
  view.setUint16(2, 42, true);
  view.setUint32(4, ifdOffset, true);
  view.setUint16(ifdOffset, tags.length, true);
  tags.forEach((tag, i) => {
    const entry = ifdOffset + 2 + i * 12;
    view.setUint16(entry, tag.code, true);
    view.setUint16(entry + 2, tag.type, true);
    view.setUint32(entry + 4, tag.values.length, true);
    const target = valueOffsets[i] >= 0 ? valueOffsets[i] : entry + 8;
    if (valueOffsets[i] >= 0) view.setUint32(entry + 8, valueOffsets[i], true);
    writeValues(view, target, tag);
  });
  view.setUint32(ifdOffset + 2 + tags.length * 12, 0, true);

  writePixels(view, dataOffset, raster, nodata);
  return bytes;
}

function byteSize(tag: Tag): number {
  return tag.values.length * TYPE_SIZE[tag.type];
}

function align(offset: number, to: number): number {
  return Math.ceil(offset / to) * to;
}

function writeValues(view: DataView, at: number, tag: Tag): void {
  if (typeof tag.values === 'string') {
    for (let i = 0; i < tag.values.length; i++) view.setUint8(at + i, tag.values.charCodeAt(i) & 0x7f);
    return;
  }
  tag.values.forEach((value, i) => {
    if (tag.type === SHORT) view.setUint16(at + i * 2, value, true);
    else if (tag.type === LONG) view.setUint32(at + i * 4, value, true);
    else view.setFloat64(at + i * 8, value, true);
  });
}

/** Pixel-interleaved float32; masked pixels get the nodata value. */
function writePixels(view: DataView, offset: number, raster: Raster, nodata: number): void {
  const { bands, mask } = raster;
  const samples = bands.length;
  const pixels = raster.width * raster.height;
  if (endianness() === 'LE') {
    const out = new Float32Array(view.buffer, offset, pixels * samples);
    for (let s = 0; s < samples; s++) {
      const source = bands[s];
      for (let p = 0; p < pixels; p++) out[p * samples + s] = mask[p] === 0 ? nodata : source[p];
    }
    return;
  }
  for (let p = 0; p < pixels; p++) {
    for (let s = 0; s < samples; s++) view.setFloat32(offset + (p * samples + s) * 4, mask[p] === 0 ? nodata : bands[s][p], true);
  }
}

