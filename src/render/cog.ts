import { deflate } from 'node:zlib';
import { promisify } from 'node:util';
import { availableParallelism } from 'node:os';
import type { Raster } from '../raster/raster.js';
import { pyramid, tileBytes, type CogSampleType, type Level, type OverviewResampling } from './cog-levels.js';
import { gdalMetadataXml, georeferenceTags, ifdByteSize, TIFF_TYPE, writeIfd, type TiffTag } from './tiff-ifd.js';

/**
 * Cloud-Optimized GeoTIFF writer (no JavaScript library writes COGs). The layout is the one GDAL's COG driver
 * writes and its validator (validate_cloud_optimized_geotiff.py) checks, so `gdalinfo` reports LAYOUT=COG:
 *
 *   header | GDAL structural metadata ("ghost area") | IFD of the full image | IFDs of the overviews, largest
 *   first | tiles of the smallest overview | ... | tiles of the full image
 *
 * Tiles are row-major within each level and each one is framed as the ghost area declares: its byte count as a
 * uint32 before it, its last 4 bytes repeated after it. Tiles are square (256 or 512), deflate-compressed with
 * the floating-point predictor (float32) or horizontal differencing (uint8), pixel-interleaved. The full image
 * IFD carries the georeferencing, GDAL_NODATA and GDAL_METADATA (dataset items, band descriptions and unit).
 */
export interface CogOptions {
  blockSize?: 256 | 512;
  /** float32 (default) or uint8 (class maps: values rounded and clamped to 0..255). */
  sampleType?: CogSampleType;
  /** Value written for masked pixels; default NaN for float32, 255 for uint8. */
  nodata?: number;
  resampling?: OverviewResampling;
  /** Dataset-level metadata items (gdalinfo "Metadata"). */
  metadata?: Record<string, string>;
  /** Unit of every band (gdalinfo "Unit Type"). */
  unit?: string;
  /** uint8 single-band only: colours (#rrggbb) of values 0.., written as a TIFF palette. */
  palette?: readonly string[];
  /** zlib level 1..9 (default 6, as GDAL). */
  deflateLevel?: number;
}

export const COG_MEDIA_TYPE = 'image/tiff; application=geotiff; profile=cloud-optimized';

const deflateAsync = promisify(deflate);
const HEADER_BYTES = 8;
const GHOST = ghostArea();
/** The main IFD follows the ghost area on a 2-byte boundary (what the validator expects). */
const FIRST_IFD = HEADER_BYTES + GHOST.length + ((HEADER_BYTES + GHOST.length) % 2);
const TILE_FRAME_BYTES = 8;

export async function encodeCog(raster: Raster, options: CogOptions = {}): Promise<Uint8Array> {
  const { width, height, bands } = raster;
  if (bands.length === 0 || width <= 0 || height <= 0) throw new Error('encodeCog: raster has no pixels or no bands');
  const blockSize = options.blockSize ?? 512;
  const sampleType = options.sampleType ?? 'float32';
  const nodata = options.nodata ?? (sampleType === 'uint8' ? 255 : Number.NaN);
  if (options.palette && (sampleType !== 'uint8' || bands.length !== 1)) throw new Error('encodeCog: a palette needs one uint8 band');

  const levels = pyramid({ width, height, bands, mask: raster.mask }, blockSize, options.resampling ?? 'average');
  const tiles = await compressLevels(levels, blockSize, sampleType, nodata, options.deflateLevel ?? 6);

  // IFD sizes do not depend on offset values, so the layout is fixed before any offset is known.
  const tagsOf = (index: number, offsets: number[], counts: number[]) =>
    levelTags(raster, levels[index], index, blockSize, sampleType, nodata, offsets, counts, options);
  const ifdOffsets: number[] = [];
  let cursor = FIRST_IFD;
  levels.forEach((level, index) => {
    ifdOffsets.push(cursor);
    const placeholders = new Array<number>(tiles[index].length).fill(0);
    cursor += ifdByteSize(tagsOf(index, placeholders, placeholders));
  });
  const offsets = tiles.map((level) => new Array<number>(level.length).fill(0));
  // Smallest overview first, the full image last: a reader of a coarse level reads one contiguous range.
  for (let index = levels.length - 1; index >= 0; index--) {
    tiles[index].forEach((tile, t) => {
      offsets[index][t] = cursor + 4;
      cursor += tile.length + TILE_FRAME_BYTES;
    });
  }
  if (cursor > 0xffff_ffff) throw new Error('encodeCog: raster too large for a classic TIFF (4 GiB)');

  const bytes = new Uint8Array(cursor);
  const view = new DataView(bytes.buffer);
  bytes.set([0x49, 0x49]); // "II": little-endian
  view.setUint16(2, 42, true);
  view.setUint32(4, FIRST_IFD, true);
  bytes.set(GHOST, HEADER_BYTES);
  levels.forEach((_, index) => {
    const counts = tiles[index].map((tile) => tile.length);
    writeIfd(view, ifdOffsets[index], tagsOf(index, offsets[index], counts), ifdOffsets[index + 1] ?? 0);
  });
  tiles.forEach((level, index) =>
    level.forEach((tile, t) => {
      const at = offsets[index][t];
      view.setUint32(at - 4, tile.length, true);
      bytes.set(tile, at);
      bytes.copyWithin(at + tile.length, at + tile.length - 4, at + tile.length);
    }),
  );
  return bytes;
}

/** Compressed tiles of every level, row-major, deflated on the libuv pool (a few at a time). */
async function compressLevels(
  levels: Level[],
  blockSize: number,
  sampleType: CogSampleType,
  nodata: number,
  level: number,
): Promise<Uint8Array[][]> {
  const jobs = levels.flatMap((l, index) => {
    const across = Math.ceil(l.width / blockSize);
    const down = Math.ceil(l.height / blockSize);
    return Array.from({ length: across * down }, (_, t) => ({ index, tx: t % across, ty: Math.floor(t / across) }));
  });
  const out: Uint8Array[][] = levels.map(() => []);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++];
      const raw = tileBytes(levels[job.index], job.tx, job.ty, blockSize, sampleType, nodata);
      const across = Math.ceil(levels[job.index].width / blockSize);
      out[job.index][job.ty * across + job.tx] = new Uint8Array(await deflateAsync(raw, { level }));
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs.length, Math.max(2, availableParallelism())) }, worker));
  return out;
}

function levelTags(
  raster: Raster,
  level: Level,
  index: number,
  blockSize: number,
  sampleType: CogSampleType,
  nodata: number,
  offsets: number[],
  counts: number[],
  options: CogOptions,
): TiffTag[] {
  const spp = level.bands.length;
  const { SHORT, LONG, ASCII } = TIFF_TYPE;
  const bits = sampleType === 'uint8' ? 8 : 32;
  const tags: TiffTag[] = [
    { code: 256, type: LONG, values: [level.width] },
    { code: 257, type: LONG, values: [level.height] },
    { code: 258, type: SHORT, values: new Array(spp).fill(bits) },
    { code: 259, type: SHORT, values: [8] }, // Adobe deflate
    { code: 262, type: SHORT, values: [options.palette ? 3 : 1] }, // palette / min-is-black
    { code: 277, type: SHORT, values: [spp] },
    { code: 284, type: SHORT, values: [1] }, // pixel-interleaved
    { code: 317, type: SHORT, values: [sampleType === 'uint8' ? 2 : 3] },
    { code: 322, type: SHORT, values: [blockSize] },
    { code: 323, type: SHORT, values: [blockSize] },
    { code: 324, type: LONG, values: offsets },
    { code: 325, type: LONG, values: counts },
    ...(spp > 1 ? [{ code: 338, type: SHORT, values: new Array(spp - 1).fill(0) }] : []),
    { code: 339, type: SHORT, values: new Array(spp).fill(sampleType === 'uint8' ? 1 : 3) },
  ];
  if (options.palette) tags.push({ code: 320, type: SHORT, values: colorMap(options.palette) });
  if (index > 0) return [{ code: 254, type: LONG, values: [1] }, ...tags]; // reduced-resolution image
  return [
    ...tags,
    ...georeferenceTags(raster),
    { code: 42112, type: ASCII, values: gdalMetadataXml(options.metadata ?? {}, raster.bandNames, options.unit) },
    { code: 42113, type: ASCII, values: `${Number.isNaN(nodata) ? 'nan' : String(nodata)}\0` },
  ];
}

/** TIFF ColorMap: 256 reds, then greens, then blues, 16 bits each; unlisted values are black. */
function colorMap(palette: readonly string[]): number[] {
  const channels = [0, 1, 2].map((channel) =>
    Array.from({ length: 256 }, (_, value) => {
      const hex = palette[value];
      return hex ? parseInt(hex.slice(1 + channel * 2, 3 + channel * 2), 16) * 257 : 0;
    }),
  );
  return channels.flat();
}

/**
 * GDAL's structural metadata right after the header: it declares the layout so that readers (GDAL among them)
 * know they may fetch a tile with its size leader and that nothing was edited in place since. The trailing
 * space is GDAL's: room to turn "NO" into "YES" without moving the IFD.
 */
function ghostArea(): Uint8Array {
  const body =
    'LAYOUT=IFDS_BEFORE_DATA\nBLOCK_ORDER=ROW_MAJOR\nBLOCK_LEADER=SIZE_AS_UINT4\n' +
    'BLOCK_TRAILER=LAST_4_BYTES_REPEATED\nKNOWN_INCOMPATIBLE_EDITION=NO\n ';
  const head = `GDAL_STRUCTURAL_METADATA_SIZE=${String(body.length).padStart(6, '0')} bytes\n`;
  return new TextEncoder().encode(head + body);
}
