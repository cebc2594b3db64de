import type { Modality } from '../modalities.js';
import { resolveModalitySource } from '../stac/resolve.js';
import type { ModalitySource } from '../stac/types.js';

/** Resolves a parsed STAC item (or a one-item collection) to the modality's band sources. */
export async function resolveStacItem(item: unknown, itemUrl: string, modality: Modality): Promise<ModalitySource> {
  return resolveModalitySource(item, itemUrl, modality);
}
