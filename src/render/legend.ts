import { LULC_CLASSES, MODALITIES, MODALITY_IDS, type Modality } from '../modalities.js';
import { colormapStops, type ColormapName } from './colormaps.js';
import { parseRenderParams, RENDERERS } from './index.js';

/**
 * What a map legend needs to explain a rendered modality: class colours (LULC), a colour ramp with its value
 * range and unit (DEM, NDVI), or the composite's recipe (Sentinel-1 false colour, Sentinel-2 true colour).
 * Built from the renderers' own defaults, so the legend and the tiles cannot disagree.
 */
export type Legend =
  | { kind: 'classes'; classes: { index: number; name: string; color: string }[] }
  | { kind: 'ramp'; colors: string[]; min: number | null; max: number | null; unit: string; note?: string }
  | { kind: 'composite'; description: string };

export function legendOf(modality: Modality, params: Record<string, string> = {}): Legend {
  if (modality === 'LULC') return { kind: 'classes', classes: LULC_CLASSES.filter((c) => c.index > 0).map((c) => ({ ...c })) };
  if (modality === 'DEM' || modality === 'NDVI') {
    const parsed = parseRenderParams(modality, params) as { colormap: ColormapName; rescale?: [number, number] };
    return {
      kind: 'ramp',
      colors: colormapStops(parsed.colormap),
      min: parsed.rescale?.[0] ?? null,
      max: parsed.rescale?.[1] ?? null,
      unit: MODALITIES[modality].unit,
      ...(parsed.rescale ? {} : { note: 'stretched per tile over its own elevation range (±5 m)' }),
    };
  }
  return { kind: 'composite', description: RENDERERS[modality].description };
}

/** Every modality with its title, unit, bands and default legend (the viewer's `/modalities`). */
export function modalitiesDocument() {
  return {
    modalities: MODALITY_IDS.map((id) => ({
      id,
      title: MODALITIES[id].title,
      unit: MODALITIES[id].unit,
      bands: [...MODALITIES[id].bands],
      legend: legendOf(id),
    })),
  };
}
