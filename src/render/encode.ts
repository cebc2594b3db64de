import sharp from 'sharp';
import { IMAGE_MEDIA_TYPES, type ImageFormat, type RgbaImage } from './types.js';

export function contentTypeOf(format: ImageFormat): string {
  return IMAGE_MEDIA_TYPES[format];
}

/**
 * RGBA -> PNG (with alpha), WebP (with alpha) or JPEG. JPEG has no alpha: transparent pixels are composited onto
 * black, as TiTiler/GDAL JPEG tiles show no-data; clients that need holes should ask for PNG or WebP.
 * PNG uses zlib level 6 without adaptive filtering: on 256x256 tiles that is several times faster than sharp's
 * defaults for a few percent more bytes (see docs/cache.md for the measurement).
 */
export async function encodeImage(image: RgbaImage, format: ImageFormat): Promise<Uint8Array> {
  const { width, height, data } = image;
  if (data.length !== width * height * 4) {
    throw new Error(`encodeImage: expected ${width * height * 4} RGBA bytes for ${width}x${height}, got ${data.length}`);
  }
  const input = sharp(data, { raw: { width, height, channels: 4 } });
  switch (format) {
    case 'png':
      return input.png({ compressionLevel: 6, adaptiveFiltering: false }).toBuffer();
    case 'webp':
      return input.webp({ quality: 90, alphaQuality: 100, smartSubsample: true, effort: 2 }).toBuffer();
    case 'jpeg':
      return input.flatten({ background: { r: 0, g: 0, b: 0 } }).jpeg({ quality: 85 }).toBuffer();
    default:
      throw new Error(`encodeImage: unsupported format ${String(format)}`);
  }
}
