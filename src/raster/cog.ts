import { GeoTIFF, type GeoTIFFImage, type TypedArray } from 'geotiff';
import { badRequest, isOgcError, upstreamError } from '../errors.js';
import { normalizeCrs } from '../geo/crs.js';
import type { Affine } from './raster.js';
import { CachedByteSource, asUpstreamError } from './byte-source.js';
import { registerFastDecoders } from './decoders.js';
import { cacheDecodedTiles, type DecodedTileCache } from './decoded-cache.js';
import { admitRead, DEFAULT_RASTER_LIMITS, planRead, type RasterLimits } from './read-limits.js';
import { summarizeTiffHeader } from './tiff-header.js';

registerFastDecoders();

/** One resolution level of a GeoTIFF (full resolution first, then overviews), with its internal mask if any. */
export interface CogLevel {
  image: GeoTIFFImage;
  mask?: GeoTIFFImage;
  width: number;
  height: number;
  /** Affine of this level (the full-resolution affine scaled by the level's decimation). */
  transform: Affine;
  /** Full-resolution pixels per pixel of this level (1 for the full resolution). */
  decimation: number;
}

/** An opened GeoTIFF: headers parsed, no pixels read yet. */
export interface CogDataset {
  url: string;
  width: number;
  height: number;
  bandCount: number;
  crs: string;
  transform: Affine;
  /** GDAL_NODATA of the file, if declared. */
  nodata?: number;
  bitsPerSample: number;
  sampleFormat: number;
  levels: CogLevel[];
  /** Memory the parsed header holds (IFD tag arrays), what the header cache counts. */
  headerBytes: number;
  /** Budgets and the decode pool its reads go through. */
  limits: RasterLimits;
}

/** A decoded window of one level: per requested band a typed array, plus validity from the internal mask. */
export interface CogWindow {
  level: CogLevel;
  /** [x0, y0, x1, y1] in level pixels, end exclusive. */
  window: [number, number, number, number];
  bands: TypedArray[];
  /** The internal mask's raw samples (0 = no data); undefined when the file has no mask. */
  mask?: TypedArray;
}

/** More IFDs than any real COG has (levels plus masks); beyond it the file is treated as malformed. */
const MAX_IMAGES = 64;
/** Largest decoded tile or strip accepted (and never more than one request may decode). */
const MAX_BLOCK_BYTES = 256 * 1024 * 1024;
const NEW_SUBFILE_REDUCED = 1;
const NEW_SUBFILE_MASK = 4;

/** Georeferencing known from elsewhere (STAC proj:*), used only where the file itself has none. */
export interface GeoreferenceHint {
  crs?: string;
  transform?: Affine;
}

export interface OpenCogOptions {
  signal?: AbortSignal;
  hint?: GeoreferenceHint;
  /** Shared cache of decoded internal tiles; without it every read decodes afresh. */
  decoded?: DecodedTileCache;
  /** Budgets of its reads and the decode pool (default: DEFAULT_RASTER_LIMITS, decoding on this thread). */
  limits?: RasterLimits;
}

/** Parses headers and geokeys; refuses files that cannot be placed on a map with a clear message. */
export async function openCog(source: CachedByteSource, options: OpenCogOptions = {}): Promise<CogDataset> {
  const { signal, hint = {}, decoded, limits = DEFAULT_RASTER_LIMITS } = options;
  let tiff: GeoTIFF;
  let images: GeoTIFFImage[];
  let headerBytes: number;
  try {
    // The IFD chain is sized before geotiff.js parses it (it allocates tag arrays at their declared length),
    // and walked with a cap and cycle detection (geotiff.js's getImageCount() never ends on a cycle).
    const read = async (offset: number, length: number) => new Uint8Array((await source.fetch([{ offset, length }], signal))[0]!);
    const summary = await summarizeTiffHeader(source.url, read, limits.maxHeaderBytes, MAX_IMAGES);
    headerBytes = summary.bytes;
    // GeoTIFF.fromSource wants geotiff's BaseSource; ours implements the same fetch/fileSize/close contract.
    tiff = await GeoTIFF.fromSource(source as never, { cache: false }, signal);
    images = [];
    for (let i = 0; i < summary.images; i++) {
      try {
        images.push(await tiff.getImage(i));
      } catch (error) {
        if (i > 0 && error instanceof Error && /^No image at index/.test(error.message)) break;
        throw error;
      }
    }
  } catch (error) {
    if (isOgcError(error) || (error instanceof Error && error.name === 'AbortError')) throw error;
    throw upstreamError(`${source.url} is not a GeoTIFF or is truncated (${(error as Error).message})`, error);
  }
  const first = images[0];
  if (!first) throw upstreamError(`${source.url} is not a GeoTIFF: it has no image`);
  images.forEach((image, index) => {
    checkBlockSize(image, source.url, Math.min(MAX_BLOCK_BYTES, limits.maxDecodedBytesPerRequest));
    // Pixels are read as exact byte ranges, headers and tag arrays as cached blocks (byte-source.ts).
    (image as unknown as { source: unknown }).source = source.tileReader();
    if (decoded) cacheDecodedTiles(image, `${source.url}#${index}`, decoded);
  });
  const { crs, transform } = readGeoreference(first, source.url, hint);
  const width = first.getWidth();
  const height = first.getHeight();

  const reduced: GeoTIFFImage[] = [];
  const masks: GeoTIFFImage[] = [];
  for (const image of images.slice(1)) {
    const kind = Number(image.fileDirectory.getValue('NewSubfileType') ?? 0);
    if (kind & NEW_SUBFILE_MASK) masks.push(image);
    else if (kind & NEW_SUBFILE_REDUCED) reduced.push(image);
  }
  const maskFor = (image: GeoTIFFImage) =>
    masks.find((mask) => mask.getWidth() === image.getWidth() && mask.getHeight() === image.getHeight());
  const levels: CogLevel[] = [first, ...reduced]
    .map((image) => {
      const scaleX = width / image.getWidth();
      const scaleY = height / image.getHeight();
      const [a, b, c, d, e, f] = transform;
      return {
        image,
        mask: maskFor(image),
        width: image.getWidth(),
        height: image.getHeight(),
        transform: [a * scaleX, b * scaleY, c, d * scaleX, e * scaleY, f] as Affine,
        decimation: scaleX,
      };
    })
    .sort((p, q) => p.decimation - q.decimation);

  const bits = first.fileDirectory.getValue('BitsPerSample') as ArrayLike<number> | undefined;
  const formats = first.fileDirectory.getValue('SampleFormat') as ArrayLike<number> | undefined;
  const nodata = first.getGDALNoData();
  return {
    url: source.url,
    width,
    height,
    bandCount: first.getSamplesPerPixel(),
    crs,
    transform,
    nodata: nodata === null ? undefined : nodata,
    bitsPerSample: bits?.[0] ?? 8,
    sampleFormat: formats?.[0] ?? 1,
    levels,
    headerBytes,
    limits,
  };
}

function checkBlockSize(image: GeoTIFFImage, url: string, maxBytes: number): void {
  // getTileHeight() is RowsPerStrip for striped files; a missing RowsPerStrip means one strip of the whole image.
  const blockWidth = image.isTiled ? image.getTileWidth() : image.getWidth();
  const blockHeight = Math.min(image.getTileHeight() || image.getHeight(), image.getHeight());
  const bytes = blockWidth * blockHeight * image.getBytesPerPixel();
  if (!(bytes <= maxBytes)) {
    throw upstreamError(
      `${url} stores pixels in blocks of ${blockWidth}x${blockHeight} (${Math.round(bytes / 2 ** 20)} MiB decoded each), ` +
        `too large to read per request (at most ${maxBytes} bytes, RASTER_MAX_DECODED_BYTES_PER_REQUEST); convert it to a tiled ` +
        'COG (e.g. gdal_translate -of COG)',
    );
  }
}

/**
 * The file's CRS and geotransform, or the STAC item's (hint) where the file lacks them. A file without a
 * geotransform (ground control points only) placed by the item's proj:transform takes the item's CRS too: that
 * transform is in the item's proj:code CRS, and the file's geokeys then describe its control points, not a grid.
 */
function readGeoreference(image: GeoTIFFImage, url: string, hint: GeoreferenceHint): { crs: string; transform: Affine } {
  const own = fileTransform(image);
  if (own) return { crs: readCrs(image, url, hint.crs), transform: own };
  if (!hint.transform) {
    // Several tie points and no pixel scale: ground control points only (e.g. Sentinel-1 GRD).
    throw badRequest(
      `${url} is georeferenced by ground control points only (no geotransform); ` +
        'it must be orthorectified (e.g. gdalwarp) before it can be tiled',
    );
  }
  return { crs: hint.crs ? normalizeCrs(hint.crs) : readCrs(image, url), transform: hint.transform };
}

function readCrs(image: GeoTIFFImage, url: string, hint?: string): string {
  const keys = image.getGeoKeys() ?? {};
  const code = (keys.ProjectedCSTypeGeoKey ?? keys.GeographicTypeGeoKey) as number | undefined;
  // 32767 is "user-defined": the file carries a custom definition this service does not interpret.
  if (code === undefined || code === 32767) {
    if (hint) return normalizeCrs(hint);
    throw badRequest(
      `${url} declares no EPSG code (ProjectedCSTypeGeoKey/GeographicTypeGeoKey missing or user-defined); ` +
        'reproject it to an EPSG CRS, or describe it with a STAC item giving proj:code',
    );
  }
  return normalizeCrs(code); // a 400 listing the supported codes when this one is not
}

/** The file's own geotransform (corner convention), or undefined when it has none. */
function fileTransform(image: GeoTIFFImage): Affine | undefined {
  const directory = image.fileDirectory;
  const matrix = directory.getValue('ModelTransformation') as ArrayLike<number> | undefined;
  let transform: Affine;
  if (matrix && matrix.length >= 8) {
    transform = [matrix[0], matrix[1], matrix[3], matrix[4], matrix[5], matrix[7]];
  } else {
    const tiepoint = directory.getValue('ModelTiepoint') as ArrayLike<number> | undefined;
    const scale = directory.getValue('ModelPixelScale') as ArrayLike<number> | undefined;
    if (!tiepoint || !scale || tiepoint.length > 6) return undefined;
    const [i, j, , x, y] = tiepoint as unknown as number[];
    transform = [scale[0], 0, x - i * scale[0], 0, -scale[1], y + j * scale[1]];
  }
  // PixelIsPoint: the tie point is a pixel centre; shift by half a pixel to the corner convention (as GDAL does).
  const keys = image.getGeoKeys() ?? {};
  if (keys.GTRasterTypeGeoKey === 2) {
    const [a, b, c, d, e, f] = transform;
    transform = [a, b, c - 0.5 * a - 0.5 * b, d, e, f - 0.5 * d - 0.5 * e];
  }
  return transform;
}

/** Decodes a window [x0,y0,x1,y1] (level pixels, end exclusive) of the given 0-based samples. */
export async function readCogWindow(
  dataset: CogDataset,
  level: CogLevel,
  window: [number, number, number, number],
  samples: number[],
  signal?: AbortSignal,
): Promise<CogWindow> {
  const { limits } = dataset;
  const plan = planRead(level.image, window, samples);
  const maskPlan = level.mask ? planRead(level.mask, window, [0]) : { tiles: 0, bytes: 0 };
  // Every budget is checked, and room reserved, before the first tile is fetched or decoded.
  const release = await admitRead(dataset.url, { tiles: plan.tiles + maskPlan.tiles, bytes: plan.bytes + maskPlan.bytes }, limits, signal);
  try {
    const pool = limits.pool;
    // Data and mask in one turn, so their byte ranges are fetched together.
    const [bands, rawMask] = await Promise.all([
      level.image.readRasters({ window, samples, interleave: false, signal, pool: pool as never }) as unknown as Promise<TypedArray[]>,
      level.mask?.readRasters({ window, samples: [0], interleave: false, signal, pool: pool as never }) as unknown as Promise<TypedArray[]> | undefined,
    ]);
    return { level, window, bands: Array.from(bands), mask: rawMask?.[0] };
  } catch (error) {
    throw asUpstreamError(dataset.url, error, 'could not decode pixels; the file is truncated or corrupt');
  } finally {
    release();
  }
}
