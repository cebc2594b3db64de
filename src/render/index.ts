import { z } from 'zod';
import { badRequest } from '../errors.js';
import type { Modality } from '../modalities.js';
import type { Raster } from '../raster/raster.js';
import { RENDERERS, type Renderer } from './renderers.js';
import type { RgbaImage } from './types.js';

export { RENDERERS, type Renderer } from './renderers.js';
export { encodeImage, contentTypeOf } from './encode.js';
export { encodeGeoTiff } from './geotiff.js';
export { COLORMAP_NAMES, type ColormapName } from './colormaps.js';
export type { ImageFormat, RgbaImage } from './types.js';

/** The parameter schema of a modality's renderer (for OpenAPI docs and query parsing). */
export function renderParamsSchema(modality: Modality): z.ZodType {
  return RENDERERS[modality].params;
}

/**
 * Validates `params` with the modality's schema and renders. Unknown parameter names are ignored (so a whole
 * query object can be passed); bad values become a 400 naming the parameter.
 */
export function parseRenderParams(modality: Modality, params: Record<string, unknown> = {}): unknown {
  const renderer: Renderer = RENDERERS[modality];
  const result = renderer.params.safeParse(params);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || 'params'}: ${issue.message}`);
    throw badRequest(`Invalid rendering parameters for ${modality}: ${problems.join('; ')}`);
  }
  return result.data;
}

export function renderRaster(raster: Raster, modality: Modality, params: Record<string, unknown> = {}): RgbaImage {
  const parsed = parseRenderParams(modality, params);
  return RENDERERS[modality].render(raster, parsed);
}
