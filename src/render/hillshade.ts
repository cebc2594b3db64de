import type { Raster } from '../raster/raster.js';

/**
 * Lambertian hillshade (Horn's 3x3 gradient), sun at azimuth 315 deg, altitude 45 deg; returns 0..1 per pixel.
 * Cell size comes from the raster's transform; for geographic CRSs (EPSG:4326) degrees are converted to metres
 * at the raster's centre latitude. Invalid neighbours take the centre value so holes do not draw cliffs.
 */
export function hillshade(raster: Raster, values: Float32Array, azimuthDeg = 315, altitudeDeg = 45): Float32Array {
  const { width, height, mask } = raster;
  const [a, b, , d, e, f] = raster.transform;
  let cellX = Math.hypot(a, d);
  let cellY = Math.hypot(b, e);
  if (raster.crs === 'EPSG:4326') {
    const centreLat = f + (e * height) / 2;
    cellX *= 111_320 * Math.cos((centreLat * Math.PI) / 180);
    cellY *= 110_574;
  }
  const zenith = ((90 - altitudeDeg) * Math.PI) / 180;
  const azimuth = (((360 - azimuthDeg + 90) % 360) * Math.PI) / 180;
  const cosZ = Math.cos(zenith);
  const sinZ = Math.sin(zenith);
  const shade = new Float32Array(width * height);
  // Neighbour value, or the centre value where the neighbour is masked or not finite (plain function: no per-pixel closure).
  const valueAt = (j: number, centre: number) => {
    const v = values[j];
    return mask[j] === 0 || !Number.isFinite(v) ? centre : v;
  };
  for (let row = 0; row < height; row++) {
    const up = Math.max(0, row - 1) * width;
    const here = row * width;
    const down = Math.min(height - 1, row + 1) * width;
    for (let col = 0; col < width; col++) {
      const i = here + col;
      const centre = values[i];
      if (mask[i] === 0 || !Number.isFinite(centre)) continue;
      const left = col > 0 ? col - 1 : 0;
      const right = col < width - 1 ? col + 1 : width - 1;
      const z1 = valueAt(up + left, centre), z2 = valueAt(up + col, centre), z3 = valueAt(up + right, centre);
      const z4 = valueAt(here + left, centre), z6 = valueAt(here + right, centre);
      const z7 = valueAt(down + left, centre), z8 = valueAt(down + col, centre), z9 = valueAt(down + right, centre);
      const dzdx = (z3 + 2 * z6 + z9 - (z1 + 2 * z4 + z7)) / (8 * cellX);
      const dzdy = (z7 + 2 * z8 + z9 - (z1 + 2 * z2 + z3)) / (8 * cellY);
      const slope = Math.atan(Math.hypot(dzdx, dzdy));
      const aspect = Math.atan2(dzdy, -dzdx);
      const value = cosZ * Math.cos(slope) + sinZ * Math.sin(slope) * Math.cos(azimuth - aspect);
      shade[i] = value < 0 ? 0 : value > 1 ? 1 : value;
    }
  }
  return shade;
}
