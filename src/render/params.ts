import { z } from 'zod';
import { COLORMAP_NAMES } from './colormaps.js';

/**
 * Parameter pieces shared by renderers. They accept what a query string carries (strings) and what code passes
 * (numbers, booleans, tuples), so the HTTP layer can parse `?rescale=0,3000&hillshade=true` with the same schemas.
 */
const NUMBER = String.raw`[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?`;
const RESCALE_PATTERN = new RegExp(`^\\s*(${NUMBER})\\s*,\\s*(${NUMBER})\\s*$`);

/** `rescale=min,max` (data values mapped linearly onto the colour range, clipped). */
export const rescaleParam = z
  .union([
    z
      .string()
      .regex(RESCALE_PATTERN, { message: 'rescale must be "min,max", e.g. "0,3000"' })
      .transform((value): [number, number] => {
        const match = RESCALE_PATTERN.exec(value)!;
        return [Number(match[1]), Number(match[2])];
      }),
    z.tuple([z.number(), z.number()]),
  ])
  .refine(([min, max]) => Number.isFinite(min) && Number.isFinite(max) && min < max, {
    message: 'rescale needs finite min < max',
  });

/** Booleans from query strings: z.coerce.boolean would read "false" as true. */
export const flagParam = z.union([z.boolean(), z.stringbool()]);

export const colormapParam = z.enum(COLORMAP_NAMES);

export const gammaParam = z.coerce.number().positive().max(5);
