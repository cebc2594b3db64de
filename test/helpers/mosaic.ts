import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromFile } from 'geotiff';
import type { Modality } from '../../src/modalities.js';
import { encodeGeoTiff } from '../../src/render/geotiff.js';
import { FIXTURES } from './fixture-server.js';

/**
 * A multi-chip input built from real data (the recipe the tests keep instead of a 20 MB file): the three
 * TerraMind example chips of a modality laid out 3 x 3 (chip (r + c) mod 3 in block (r, c), mirrored in odd
 * columns and rows so neighbouring blocks meet along copies of the same edge), cropped to 640 x 640 px and
 * georeferenced at 10 m in EPSG:32736 with the 38D_378R_2_3 chip's own origin, so its top-left block is that chip
 * unchanged and the lattice phase is the chip's (1.82 m, 8.23 m). Float32 GeoTIFF strips (src/render/geotiff.ts).
 *
 * Other sources in other grids come from GDAL's own warper: `S1RTC-4326.tif` (geographic, ~10 m) and
 * `DEM-30m.tif` (30 m, averaged), so the engine's reading of foreign grids is tested on bytes we did not write.
 */
export const MOSAIC_SIZE = 640;
const CHIPS = ['38D_378R_2_3', '282D_485L_3_3', '609U_541L_3_0'];
export const MOSAIC_ORIGIN: [number, number] = [617301.819878449663520, 9625098.227451840415597];

async function readChip(modality: string, chip: string): Promise<Float32Array[]> {
  const tiff = await fromFile(`${FIXTURES}terramind-examples/${modality}/${chip}.tif`);
  const image = await tiff.getImage();
  const rasters = (await image.readRasters()) as unknown as ArrayLike<number>[];
  return rasters.map((band) => Float32Array.from(band));
}

export async function writeMosaic(modality: Modality, path: string, bandNames: string[]): Promise<void> {
  const chips = await Promise.all(CHIPS.map((chip) => readChip(modality, chip)));
  const size = MOSAIC_SIZE;
  const bands = chips[0]!.map(() => new Float32Array(size * size));
  for (let row = 0; row < size; row += 1) {
    const br = Math.floor(row / 224);
    const y = br % 2 === 1 ? 223 - (row % 224) : row % 224;
    for (let col = 0; col < size; col += 1) {
      const bc = Math.floor(col / 224);
      const x = bc % 2 === 1 ? 223 - (col % 224) : col % 224;
      const chip = chips[(br + bc) % 3]!;
      bands.forEach((band, c) => (band[row * size + col] = chip[c]![y * 224 + x]!));
    }
  }
  const raster = {
    crs: 'EPSG:32736',
    transform: [10, 0, MOSAIC_ORIGIN[0], 0, -10, MOSAIC_ORIGIN[1]] as const,
    width: size,
    height: size,
    bands,
    bandNames,
    mask: new Uint8Array(size * size).fill(255),
  };
  writeFileSync(path, encodeGeoTiff(raster));
}

/** Writes S2L2A.tif, S1RTC.tif, DEM.tif (the 640 px mosaics), S1RTC-4326.tif and DEM-30m.tif into `dir`. */
export async function buildMosaicInputs(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await writeMosaic('S2L2A', join(dir, 'S2L2A.tif'), ['B01', 'B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08', 'B8A', 'B09', 'B11', 'B12']);
  await writeMosaic('S1RTC', join(dir, 'S1RTC.tif'), ['vv', 'vh']);
  await writeMosaic('DEM', join(dir, 'DEM.tif'), ['elevation']);
  const gdal = (args: string[]) => execFileSync('gdalwarp', ['-q', '-overwrite', ...args], { stdio: 'pipe' });
  gdal(['-t_srs', 'EPSG:4326', '-r', 'bilinear', '-tr', '0.00009', '0.00009', '-dstnodata', 'nan', join(dir, 'S1RTC.tif'), join(dir, 'S1RTC-4326.tif')]);
  gdal(['-tr', '30', '30', '-r', 'average', join(dir, 'DEM.tif'), join(dir, 'DEM-30m.tif')]);
}
