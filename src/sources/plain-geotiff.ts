import { badRequest } from '../errors.js';
import { MODALITIES, type Modality } from '../modalities.js';
import type { CogDataset } from '../raster/cog.js';
import type { ModalitySource } from '../stac/types.js';

/**
 * A plain GeoTIFF as a modality: bands 1..n are the modality's bands in TerraMind order, values as stored
 * (scale 1, offset 0), no data from the file's GDAL_NODATA. A 3-band 8-bit true-colour image (TCI) is S2RGB.
 */
export function plainGeoTiffSource(href: string, dataset: CogDataset, modality: Modality): ModalitySource {
  const expected = MODALITIES[modality].bands;
  if (dataset.bandCount !== expected.length) {
    throw badRequest(
      `${fileName(href)} has ${dataset.bandCount} band(s) but modality ${modality} needs ${expected.length} ` +
        `(${expected.join(', ')}); give a file with exactly those bands in that order, or a STAC item`,
    );
  }
  if (modality === 'S2RGB' && dataset.bitsPerSample !== 8) {
    throw badRequest(`${fileName(href)} has ${dataset.bitsPerSample}-bit samples; S2RGB needs an 8-bit true-colour image`);
  }
  return {
    modality,
    id: fileName(href),
    bands: expected.map((band, index) => ({ band, href, bandIndex: index + 1, scale: 1, offset: 0, nodata: dataset.nodata })),
  };
}

function fileName(href: string): string {
  try {
    const path = new URL(href).pathname;
    return decodeURIComponent(path.slice(path.lastIndexOf('/') + 1)) || href;
  } catch {
    return href;
  }
}
