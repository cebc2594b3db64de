/**
 * Colour ramps as 256-entry RGB lookup tables built from a few stops. Stop colours are the published ColorBrewer
 * (BrBG, RdYlGn) and viridis control points; 'terrain' is our own sea-green-to-snow ramp for elevation.
 */
export const COLORMAP_NAMES = ['rdylgn', 'brbg', 'brbg_r', 'terrain', 'viridis', 'gray'] as const;
export type ColormapName = (typeof COLORMAP_NAMES)[number];

const STOPS: Record<Exclude<ColormapName, 'brbg_r'>, string[]> = {
  rdylgn: ['#a50026', '#d73027', '#f46d43', '#fdae61', '#fee08b', '#ffffbf', '#d9ef8b', '#a6d96a', '#66bd63', '#1a9850', '#006837'],
  brbg: ['#543005', '#8c510a', '#bf812d', '#dfc27d', '#f6e8c3', '#f5f5f5', '#c7eae5', '#80cdc1', '#35978f', '#01665e', '#003c30'],
  terrain: ['#1a6b4e', '#3f9b4a', '#9bc45a', '#e8dc8c', '#c7a263', '#8f6a47', '#9b8f86', '#ffffff'],
  viridis: ['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58', '#b5de2b', '#fde725'],
  gray: ['#000000', '#ffffff'],
};

export function hexToRgb(hex: string): [number, number, number] {
  const value = Number.parseInt(hex.replace('#', ''), 16);
  return [(value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff];
}

function buildLut(stops: string[]): Uint8Array {
  const colors = stops.map(hexToRgb);
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const position = (i / 255) * (colors.length - 1);
    const low = Math.min(Math.floor(position), colors.length - 2);
    const t = position - low;
    for (let c = 0; c < 3; c++) lut[i * 3 + c] = Math.round(colors[low][c] * (1 - t) + colors[low + 1][c] * t);
  }
  return lut;
}

/** The stop colours of a ramp, low end first (for legends). */
export function colormapStops(name: ColormapName): string[] {
  return name === 'brbg_r' ? [...STOPS.brbg].reverse() : [...STOPS[name]];
}

const cache = new Map<ColormapName, Uint8Array>();

/** 256 RGB triplets; index 0 is the low end of the ramp. */
export function colormapLut(name: ColormapName): Uint8Array {
  let lut = cache.get(name);
  if (!lut) {
    lut = name === 'brbg_r' ? buildLut([...STOPS.brbg].reverse()) : buildLut(STOPS[name]);
    cache.set(name, lut);
  }
  return lut;
}
