import { upstreamError } from '../errors.js';
import { transformBounds } from '../geo/crs.js';
import { MODALITIES } from '../modalities.js';
import type { CogDataset } from '../raster/cog.js';
import { createRaster, gridBounds, type Grid, type Raster } from '../raster/raster.js';
import { datasetCoordinates, datasetPixelSize, readOntoGrid } from '../raster/read.js';
import type { Resampling, SourceCoordinates } from '../raster/warp.js';
import type { BandSource, ModalitySource } from '../stac/types.js';
import { applyValueTransform } from '../stac/value-transforms.js';
import type { ModalityReader } from './types.js';

/**
 * A ModalityReader over opened GeoTIFFs: one per distinct href of the modality's bands. Bands that share a
 * file are decoded together; bands at different resolutions (S2 10/20/60 m) are each read onto the target
 * grid from their own file, so the combination is just stacking.
 */
export function createModalityReader(source: ModalitySource, datasets: Map<string, CogDataset>): ModalityReader {
  const expected = MODALITIES[source.modality].bands;
  const finest = [...datasets.values()].reduce((best, dataset) =>
    datasetPixelSize(dataset) < datasetPixelSize(best) ? dataset : best,
  );
  for (const band of source.bands) {
    const dataset = datasets.get(band.href);
    if (!dataset) throw new Error(`internal: dataset for ${band.href} was not opened`);
    if (band.bandIndex < 1 || band.bandIndex > dataset.bandCount) {
      throw upstreamError(
        `${band.href} has ${dataset.bandCount} band(s) but band ${band.bandIndex} (${band.band}) was requested`,
      );
    }
  }
  // Coordinates are computed once per CRS and shared by its files, so they take the tolerance of the finest one.
  const finestByCrs = new Map<string, CogDataset>();
  for (const dataset of datasets.values()) {
    const best = finestByCrs.get(dataset.crs);
    if (!best || datasetPixelSize(dataset) < datasetPixelSize(best)) finestByCrs.set(dataset.crs, dataset);
  }
  const bounds =
    source.bbox ?? transformBounds(gridBounds({ ...finest, crs: finest.crs }), finest.crs, 'EPSG:4326') ?? [-180, -90, 180, 90];
  // Class rasters are never interpolated: a blend of class 2 and 6 is not class 4.
  const categorical = source.modality === 'LULC' || source.bands.some((band) => band.valueTransform === 'esri-lulc-to-terramind');

  return {
    modality: source.modality,
    id: source.id,
    bounds,
    crs: finest.crs,
    resolution: datasetPixelSize(finest),
    origin: [finest.transform[2], finest.transform[5]],
    async read(target: Grid, options = {}): Promise<Raster> {
      const resampling: Resampling = categorical ? 'nearest' : (options.resampling ?? 'bilinear');
      const raster = createRaster(target, [...expected], source.modality);
      raster.mask.fill(255);
      const coordsByCrs = new Map<string, SourceCoordinates>();
      const groups = groupByHref(source.bands);
      await Promise.all(
        [...groups].map(async ([href, bands]) => {
          const dataset = datasets.get(href)!;
          let coords = coordsByCrs.get(dataset.crs);
          if (!coords) {
            coords = datasetCoordinates(finestByCrs.get(dataset.crs)!, target);
            coordsByCrs.set(dataset.crs, coords);
          }
          const read = await readOntoGrid(
            dataset,
            bands.map(({ band }) => ({ sample: band.bandIndex - 1, nodata: band.nodata })),
            target,
            { resampling, coords, signal: options.signal },
          );
          bands.forEach(({ band, position }, k) => {
            convertValues(read.values[k], read.valid, band);
            raster.bands[position] = read.values[k];
          });
          for (let i = 0; i < raster.mask.length; i++) if (read.valid[i] === 0) raster.mask[i] = 0;
        }),
      );
      // Invalid pixels carry 0 so that downstream statistics never see fill values.
      for (const band of raster.bands) for (let i = 0; i < band.length; i++) if (raster.mask[i] === 0) band[i] = 0;
      return raster;
    },
  };
}

function groupByHref(bands: BandSource[]): Map<string, { band: BandSource; position: number }[]> {
  const groups = new Map<string, { band: BandSource; position: number }[]>();
  bands.forEach((band, position) => {
    const group = groups.get(band.href) ?? [];
    group.push({ band, position });
    groups.set(band.href, group);
  });
  return groups;
}

/** stored * scale + offset, then the band's value transform (src/stac/value-transforms.ts); it may lower the mask. */
function convertValues(values: Float32Array, valid: Uint8Array, band: BandSource): void {
  const { scale, offset } = band;
  if (scale !== 1 || offset !== 0) {
    for (let i = 0; i < values.length; i++) if (valid[i] !== 0) values[i] = values[i] * scale + offset;
  }
  if (band.valueTransform) applyValueTransform(band.valueTransform, values, valid);
}
