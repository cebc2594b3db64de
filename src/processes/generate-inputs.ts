import { z } from 'zod';
import { badRequest } from '../errors.js';
import type { LocalChipEngine } from '../generation/engine.js';
import { generationParamsSchema } from '../generation/params.js';
import type { GenerationPlan } from '../generation/types.js';
import { normalizeCrs, transformBounds } from '../geo/crs.js';
import type { Bbox } from '../grid/tiles.js';
import type { Modality } from '../modalities.js';
import type { ModelPackage } from '../model/index.js';
import { CRS84 } from '../ogc/links.js';
import type { Grid } from '../raster/raster.js';

/**
 * The inputs of terramind-generate as one zod object: sources and outputs from the model package, the OGC
 * bounding-box value, and the generation parameters of src/generation/params.ts (the same schema that checks
 * tile queries and COLLECTIONS_FILE entries). Its JSON Schema is the process description.
 */
export const SUPPORTED_CRS =
  'OGC CRS84 (default), EPSG:4326, EPSG:3857, EPSG:2056, EPSG:3035 and the WGS 84 / UTM zones EPSG:32601-32660 and EPSG:32701-32760, ' +
  'as http://www.opengis.net/def/crs/{OGC/1.3/CRS84 | EPSG/0/<code>}, urn:ogc:def:crs:EPSG::<code> or EPSG:<code>';

export function generateInputsSchema(pkg: ModelPackage) {
  const inputs = pkg.inputs as [Modality, ...Modality[]];
  const outputs = pkg.outputs as [Modality, ...Modality[]];
  const bbox = z
    .object({
      bbox: z
        .array(z.number())
        .min(4)
        .max(6)
        .refine((values) => values.length === 4 || values.length === 6, 'give 4 numbers (minx, miny, maxx, maxy) or 6 (with min and max z)'),
      crs: z.string().default(CRS84).describe(`CRS of the coordinates: ${SUPPORTED_CRS}. Axis order x (easting, longitude) first.`),
    })
    .strict()
    .meta({ format: 'ogc-bbox' })
    .describe(`The area to generate, as an OGC bounding box; default: the sources' common footprint. Supported CRS: ${SUPPORTED_CRS}.`);
  return z
    .object({
      sources: z
        .array(
          z
            .object({
              modality: z.enum(inputs).describe(`The source's modality: ${inputs.join(', ')}`),
              href: z.url({ protocol: /^https?$/ }).describe('A STAC item or a GeoTIFF (COG) URL'),
            })
            .strict(),
        )
        .min(1)
        .max(inputs.length)
        .describe('The inputs: each a modality and a STAC item or GeoTIFF URL. The first in canonical order (Sentinel-2 first) anchors the chip lattice.'),
      generate: z
        .array(z.enum(outputs))
        .min(1)
        .optional()
        .describe(`The modalities to generate (${outputs.join(', ')}); default: the outputs the request names.`),
      bbox: bbox.optional(),
      ...generationParamsSchema(pkg).shape,
    })
    .strict();
}

export type GenerateInputs = z.infer<ReturnType<typeof generateInputsSchema>>;

/** The outputs to generate: `generate`, or the outputs the request names; each named output must be generated. */
export function chooseOutputs(values: GenerateInputs, requested: string[], named: boolean, pkg: ModelPackage): Modality[] {
  if (!values.generate) {
    if (!named) throw badRequest(`inputs.generate: name the modalities to generate (${pkg.outputs.join(', ')}), or the outputs of the request.`);
    return requested as Modality[];
  }
  if (!named) return values.generate;
  for (const output of requested) {
    if (!values.generate.includes(output as Modality)) throw badRequest(`outputs.${output}: ${output} is not among inputs.generate (${values.generate.join(', ')}).`);
  }
  return requested as Modality[];
}

/**
 * The lattice grid of the area: the bbox (or the sources' footprint) projected into the lattice CRS and cut to
 * the footprint, with its chip count bounded by JOB_MAX_CHIPS.
 */
export function areaGrid(engine: LocalChipEngine, plan: GenerationPlan, bbox: GenerateInputs['bbox'], maxChips: number): { grid: Grid; chips: number; native: Bbox } {
  let native = plan.nativeBounds;
  if (bbox) {
    let crs: string;
    try {
      crs = normalizeCrs(bbox.crs);
    } catch (error) {
      throw badRequest(`inputs.bbox.crs: ${(error as Error).message}`);
    }
    const [minx, miny, maxx, maxy] = bbox.bbox.length === 6 ? [bbox.bbox[0], bbox.bbox[1], bbox.bbox[3], bbox.bbox[4]] : bbox.bbox;
    if (!(minx < maxx && miny < maxy)) {
      throw badRequest(`inputs.bbox.bbox: [${bbox.bbox.join(', ')}] is inverted or empty: give minx < maxx and miny < maxy (boxes across the antimeridian are not supported).`);
    }
    if (crs === 'EPSG:4326' && (minx < -180 || maxx > 180 || miny < -90 || maxy > 90)) {
      throw badRequest(`inputs.bbox.bbox: [${bbox.bbox.join(', ')}] is outside longitude -180..180 / latitude -90..90.`);
    }
    const projected = transformBounds([minx, miny, maxx, maxy], crs, plan.lattice.crs);
    if (!projected) throw badRequest(`inputs.bbox: [${bbox.bbox.join(', ')}] in ${crs} cannot be expressed in the sources' CRS ${plan.lattice.crs}.`);
    const cut: Bbox = [
      Math.max(projected[0], native[0]),
      Math.max(projected[1], native[1]),
      Math.min(projected[2], native[2]),
      Math.min(projected[3], native[3]),
    ];
    if (!(cut[0] < cut[2] && cut[1] < cut[3])) {
      throw badRequest(`inputs.bbox: [${bbox.bbox.join(', ')}] (${crs}) does not overlap the sources' common footprint [${plan.bounds.map((v) => v.toFixed(5)).join(', ')}] (CRS84).`);
    }
    native = cut;
  }
  const grid = engine.latticeGrid(plan, native);
  const chips = engine.countChips(plan, grid);
  if (chips > maxChips) {
    throw badRequest(
      `inputs.bbox: the area needs ${chips} chips of 224 x 224 px (${grid.width} x ${grid.height} px at ${plan.lattice.resolution} m), ` +
        `more than the ${maxChips} a job may generate (JOB_MAX_CHIPS); give a smaller bbox or split the area into several jobs.`,
    );
  }
  if (chips === 0) throw badRequest('inputs.bbox: no chip of the area has valid input data.');
  return { grid, chips, native };
}
