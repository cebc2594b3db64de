import { upstreamError } from '../errors.js';
import type { Modality } from '../modalities.js';
import type { ModalitySource } from '../stac/types.js';

type Resolve = (item: unknown, itemUrl: string, modality: Modality) => ModalitySource | Promise<ModalitySource>;

/**
 * Resolves a STAC item (already parsed JSON) to the modality's band sources through src/stac/resolve.ts.
 * Loaded lazily so that plain-GeoTIFF reading does not depend on the STAC module being present.
 */
export async function resolveStacItem(item: unknown, itemUrl: string, modality: Modality): Promise<ModalitySource> {
  const modulePath = '../stac/resolve.js';
  let resolve: Resolve | undefined;
  try {
    resolve = ((await import(modulePath)) as { resolveModalitySource?: Resolve }).resolveModalitySource;
  } catch (error) {
    throw upstreamError(`STAC items cannot be read yet: the STAC resolver is not available (${(error as Error).message})`);
  }
  if (!resolve) throw upstreamError('STAC items cannot be read yet: resolveModalitySource is missing');
  return resolve(item, itemUrl, modality);
}
