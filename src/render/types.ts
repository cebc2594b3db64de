/** An 8-bit RGBA image, interleaved, row-major: what renderers produce and encoders consume. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export type ImageFormat = 'png' | 'webp' | 'jpeg';

/** The tile encodings in order of preference on equal quality: PNG keeps transparency, WebP is smaller, JPEG last. */
export const IMAGE_FORMATS: readonly ImageFormat[] = ['png', 'webp', 'jpeg'];

/** Media type of each encoding: Content-Type, Accept matching, typed links and the OpenAPI document. */
export const IMAGE_MEDIA_TYPES: Readonly<Record<ImageFormat, string>> = { png: 'image/png', webp: 'image/webp', jpeg: 'image/jpeg' };
