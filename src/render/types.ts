/** An 8-bit RGBA image, interleaved, row-major: what renderers produce and encoders consume. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export type ImageFormat = 'png' | 'webp' | 'jpeg';
