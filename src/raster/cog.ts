import { GeoTIFF, type GeoTIFFImage, type TypedArray } from 'geotiff';
import { badRequest, isOgcError, upstreamError } from '../errors.js';
import { normalizeCrs } from '../geo/crs.js';
import type { Affine } from './raster.js';
import { CachedByteSource, asUpstreamError } from './byte-source.js';
import { registerFastDecoders } from './decoders.js';
import { cacheDecodedTiles, type DecodedTileCache } from './decoded-cache.js';

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
}

/** A decoded window of one level: per requested band a typed array, plus validity from the internal mask. */
export interface CogWindow {
  level: CogLevel;
  /** [x0, y0, x1, y1] in level pixels, end exclusive. */
  window: [number, number, number, number];
  bands: TypedArray[];
  /** 0 where the internal mask says no data; undefined when the file has no mask. */
  mask?: Uint8Array;
}

/** More IFDs than any real COG has (levels plus masks); beyond it the file is treated as malformed. */
const MAX_IMAGES = 64;
/** Largest decoded tile or strip accepted: a bigger one would be a memory bomb for one request. */
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
}

/** Parses headers and geokeys; refuses files that cannot be placed on a map with a clear message. */
export async function openCog(source: CachedByteSource, options: OpenCogOptions = {}): Promise<CogDataset> {
  const { signal, hint = {}, decoded } = options;
  let tiff: GeoTIFF;
  let images: GeoTIFFImage[];
  try {
    // GeoTIFF.fromSource wants geotiff's BaseSource; ours implements the same fetch/fileSize/close contract.
    tiff = await GeoTIFF.fromSource(source as never, { cache: false }, signal);
    // Walk the IFD chain ourselves with a cap: geotiff.js's getImageCount() never ends on a file whose
    // next-IFD offsets form a cycle.
    images = [];
    for (let i = 0; i < MAX_IMAGES; i++) {
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
    checkBlockSize(image, source.url);
    if (decoded) cacheDecodedTiles(image, `${source.url}#${index}`, decoded);
  });
  const crs = readCrs(first, source.url, hint.crs);
  const transform = readTransform(first, source.url, hint.transform);
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
  };
}

function checkBlockSize(image: GeoTIFFImage, url: string): void {
  // getTileHeight() is RowsPerStrip for striped files; a missing RowsPerStrip means one strip of the whole image.
  const blockWidth = image.isTiled ? image.getTileWidth() : image.getWidth();
  const blockHeight = Math.min(image.getTileHeight() || image.getHeight(), image.getHeight());
  const bytes = blockWidth * blockHeight * image.getBytesPerPixel();
  if (!(bytes <= MAX_BLOCK_BYTES)) {
    throw upstreamError(
      `${url} stores pixels in blocks of ${blockWidth}x${blockHeight} (${Math.round(bytes / 2 ** 20)} MiB decoded each), ` +
        'too large to read per request; convert it to a tiled COG (e.g. gdal_translate -of COG)',
    );
  }
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

function readTransform(image: GeoTIFFImage, url: string, hint?: Affine): Affine {
  const directory = image.fileDirectory;
  const matrix = directory.getValue('ModelTransformation') as ArrayLike<number> | undefined;
  let transform: Affine;
  if (matrix && matrix.length >= 8) {
    transform = [matrix[0], matrix[1], matrix[3], matrix[4], matrix[5], matrix[7]];
  } else {
    const tiepoint = directory.getValue('ModelTiepoint') as ArrayLike<number> | undefined;
    const scale = directory.getValue('ModelPixelScale') as ArrayLike<number> | undefined;
    if (!tiepoint || !scale || tiepoint.length > 6) {
      if (hint) return hint;
      // Several tie points and no pixel scale: ground control points only (e.g. Sentinel-1 GRD).
      throw badRequest(
        `${url} is georeferenced by ground control points only (no geotransform); ` +
          'it must be orthorectified (e.g. gdalwarp) before it can be tiled',
      );
    }
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
  try {
    const bands = (await level.image.readRasters({ window, samples, interleave: false, signal })) as unknown as TypedArray[];
    let mask: Uint8Array | undefined;
    if (level.mask) {
      const raw = (await level.mask.readRasters({ window, samples: [0], interleave: false, signal })) as unknown as TypedArray[];
      mask = new Uint8Array(raw[0].length);
      for (let i = 0; i < mask.length; i++) mask[i] = raw[0][i] ? 255 : 0;
    }
    return { level, window, bands: Array.from(bands), mask };
  } catch (error) {
    throw asUpstreamError(dataset.url, error, 'could not decode pixels; the file is truncated or corrupt');
  }
}
