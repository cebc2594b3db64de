/**
 * TerraMind's modalities as the whole service names them (terramind-reference.md §1.1-1.3).
 * Band order here is the model's order; STAC readers map provider asset keys onto it.
 */
export const MODALITY_IDS = ['S2L2A', 'S2L1C', 'S2RGB', 'S1GRD', 'S1RTC', 'DEM', 'LULC', 'NDVI'] as const;
export type Modality = (typeof MODALITY_IDS)[number];

export interface ModalityInfo {
  id: Modality;
  title: string;
  /** Band names in TerraMind order. */
  bands: readonly string[];
  /** How the encoder takes it: pixel patches, or tokenizer codes. */
  encoding: 'pixel' | 'token';
  unit: string;
}

const S2_L2A_BANDS = ['B01', 'B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08', 'B8A', 'B09', 'B11', 'B12'] as const;
const S2_L1C_BANDS = ['B01', 'B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08', 'B8A', 'B09', 'B10', 'B11', 'B12'] as const;

export const MODALITIES: Record<Modality, ModalityInfo> = {
  S2L2A: { id: 'S2L2A', title: 'Sentinel-2 L2A surface reflectance', bands: S2_L2A_BANDS, encoding: 'pixel', unit: 'DN (reflectance x 10000)' },
  S2L1C: { id: 'S2L1C', title: 'Sentinel-2 L1C top-of-atmosphere reflectance', bands: S2_L1C_BANDS, encoding: 'pixel', unit: 'DN (reflectance x 10000)' },
  S2RGB: { id: 'S2RGB', title: 'Sentinel-2 true colour (8-bit)', bands: ['red', 'green', 'blue'], encoding: 'pixel', unit: '0-255' },
  S1GRD: { id: 'S1GRD', title: 'Sentinel-1 GRD backscatter', bands: ['vv', 'vh'], encoding: 'pixel', unit: 'dB' },
  S1RTC: { id: 'S1RTC', title: 'Sentinel-1 radiometrically terrain-corrected backscatter', bands: ['vv', 'vh'], encoding: 'pixel', unit: 'dB' },
  DEM: { id: 'DEM', title: 'Digital elevation model', bands: ['elevation'], encoding: 'pixel', unit: 'm' },
  LULC: { id: 'LULC', title: 'Land use / land cover (ESRI 10 m classes)', bands: ['class'], encoding: 'token', unit: 'class index 0-9' },
  NDVI: { id: 'NDVI', title: 'Normalized difference vegetation index', bands: ['ndvi'], encoding: 'token', unit: '-1..1' },
};

/** LULC class index -> name and the official TerraMind colour (plotting_utils COLORBLIND_HEX). */
export const LULC_CLASSES: readonly { index: number; name: string; color: string }[] = [
  { index: 0, name: 'No data', color: '#000000' },
  { index: 1, name: 'Water', color: '#3171AD' },
  { index: 2, name: 'Trees', color: '#469C76' },
  { index: 3, name: 'Flooded vegetation', color: '#83CA70' },
  { index: 4, name: 'Crops', color: '#EAE159' },
  { index: 5, name: 'Built area', color: '#C07CB8' },
  { index: 6, name: 'Bare ground', color: '#C19368' },
  { index: 7, name: 'Snow/Ice', color: '#6FB2E4' },
  { index: 8, name: 'Clouds', color: '#F1F1F1' },
  { index: 9, name: 'Rangeland', color: '#C66526' },
];

export function isModality(value: string): value is Modality {
  return (MODALITY_IDS as readonly string[]).includes(value);
}

/** Accepts user spellings (s2l2a, RGB, S1) and returns the canonical id, or undefined. */
export function parseModality(value: string): Modality | undefined {
  const upper = value.trim().toUpperCase();
  if (upper === 'RGB') return 'S2RGB';
  if (upper === 'S1') return 'S1GRD';
  return isModality(upper) ? upper : undefined;
}
