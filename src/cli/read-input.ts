import { fromFile, fromUrl, type GeoTIFF } from 'geotiff';
import { badRequest } from '../errors.js';
import type { Modality } from '../modalities.js';
import type { Affine, Raster } from '../raster/raster.js';

/**
 * Reads a whole GeoTIFF (local path or http(s) URL) into a float32 Raster: every band, on the file's own grid.
 * URLs are read with range requests in 64 KiB blocks. Pixels equal to the file's nodata value (or NaN) get mask 0.
 */
export async function readGeoTiffRaster(location: string, modality?: Modality): Promise<Raster> {
  let tiff: GeoTIFF;
  try {
    // geotiff.js accepts BlockedSource options in fromUrl but its RemoteSourceOptions type omits them.
    tiff = /^https?:\/\//i.test(location) ? await fromUrl(location, { blockSize: 65536 } as Parameters<typeof fromUrl>[1]) : await fromFile(location);
  } catch (error) {
    throw badRequest(`Cannot open GeoTIFF ${location}: ${(error as Error).message}`, error);
  }
  const image = await tiff.getImage();
  const width = image.getWidth();
  const height = image.getHeight();
  const geoKeys = (image.getGeoKeys() ?? {}) as Record<string, number | undefined>;
  const code = geoKeys.ProjectedCSTypeGeoKey ?? geoKeys.GeographicTypeGeoKey;
  if (!code || code === 32767) throw badRequest(`${location} has no EPSG code in its GeoKeys; give a GeoTIFF with an EPSG CRS.`);
  let transform: Affine;
  try {
    const [ox, oy] = image.getOrigin();
    const [rx, ry] = image.getResolution();
    transform = [rx!, 0, ox!, 0, ry!, oy!];
  } catch (error) {
    throw badRequest(`${location} has no affine georeferencing (tiepoint + pixel scale or transformation).`, error);
  }
  const data = (await image.readRasters({ interleave: false })) as unknown as ArrayLike<number>[];
  const nodata = image.getGDALNoData();
  const size = width * height;
  const mask = new Uint8Array(size).fill(255);
  const bands = Array.from(data, (band) => {
    const out = Float32Array.from(band);
    for (let i = 0; i < size; i += 1) if (Number.isNaN(out[i]) || (nodata !== null && out[i] === nodata)) mask[i] = 0;
    return out;
  });
  return {
    crs: `EPSG:${code}`,
    transform,
    width,
    height,
    bands,
    bandNames: bands.map((_, i) => `b${i + 1}`),
    mask,
    modality,
  };
}
