import { badRequest } from '../errors.js';
import { LULC_CLASSES, type Modality } from '../modalities.js';
import type { ModalityManifest } from './manifest.js';

/**
 * Class-map inputs (LULC): the tokenizer encoder one-hots the values inside its graph, where an index outside
 * 0..classes-1 (or a fraction, truncated) would silently become another class or an all-zero vector; IBM's
 * F.one_hot raises instead. So such inputs are checked here, on the values the user gave, and refused with a 400.
 */

/** Whether a modality's values are class indices (LULC) rather than a physical quantity. */
export function isClassMap(modality: Modality): boolean {
  return modality === 'LULC';
}

/** Number of classes when `modality` is given as a class map (LULC), otherwise undefined. */
export function classCount(modality: Modality, entry: ModalityManifest): number | undefined {
  return isClassMap(modality) ? (entry.classes ?? LULC_CLASSES.length) : undefined;
}

/**
 * Throws OgcError('bad-request') at the first value that is not an integer class index in [0, classes), naming the
 * band, its row and column in a raster `width` pixels wide, and the valid range.
 */
export function checkClassIndices(modality: Modality, band: string, values: ArrayLike<number>, width: number, classes: number): void {
  for (let i = 0; i < values.length; i += 1) {
    const v = values[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= classes) {
      throw badRequest(
        `Input ${modality} band ${band} has value ${v} at row ${Math.floor(i / width)}, column ${i % width}; ` +
          `classes are integers 0..${classes - 1} (class indices, not standardized or scaled values).`,
      );
    }
  }
}
