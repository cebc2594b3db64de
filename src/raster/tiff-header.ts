import { upstreamError } from '../errors.js';
import { mib } from '../net/request-budget.js';

/**
 * A look at a TIFF's IFD chain before geotiff.js parses it. geotiff.js allocates every tag array at its full
 * declared length when it parses an IFD (TileOffsets/TileByteCounts of 10^8 tiny tiles: gigabytes, before a
 * single pixel is asked for), so the declared sizes are added up here first, from the raw entries, and a
 * file whose header would need more than `maxBytes` is refused. The same figure sizes the file in the header
 * cache. Reads go through the block cache, so geotiff.js then parses from memory.
 */
export interface TiffHeaderSummary {
  /** IFDs walked (at most maxImages). */
  images: number;
  /** Bytes the parsed header will hold: out-of-line tag values plus per-IFD bookkeeping. */
  bytes: number;
}

type ReadBytes = (offset: number, length: number) => Promise<Uint8Array>;

/** TIFF field type -> bytes per value (TIFF 6.0 + BigTIFF LONG8/SLONG8/IFD8). */
const TYPE_SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8 };
/** More entries than any real IFD has (GDAL writes about 20). */
const MAX_ENTRIES = 4096;
/** Objects geotiff.js builds per IFD and per tag, beyond the values themselves. */
const IFD_OVERHEAD_BYTES = 4096;
const ENTRY_OVERHEAD_BYTES = 64;

export async function summarizeTiffHeader(url: string, read: ReadBytes, maxBytes: number, maxImages: number): Promise<TiffHeaderSummary> {
  const head = await read(0, 16);
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (head.length < 8) throw upstreamError(`${url} is not a GeoTIFF or is truncated (${head.length} bytes)`);
  const little = head[0] === 0x49 && head[1] === 0x49;
  if (!little && !(head[0] === 0x4d && head[1] === 0x4d)) throw upstreamError(`${url} is not a GeoTIFF (wrong magic bytes)`);
  const magic = view.getUint16(2, little);
  const big = magic === 43;
  if (!big && magic !== 42) throw upstreamError(`${url} is not a GeoTIFF (TIFF version ${magic})`);
  if (big && head.length < 16) throw upstreamError(`${url} is not a GeoTIFF or is truncated (a BigTIFF header cut short)`);
  let next = big ? Number(view.getBigUint64(8, little)) : view.getUint32(4, little);

  const seen = new Set<number>();
  let bytes = 0;
  let images = 0;
  while (next !== 0 && images < maxImages && !seen.has(next)) {
    seen.add(next);
    images++;
    const countBytes = await read(next, big ? 8 : 2);
    if (countBytes.length < (big ? 8 : 2)) throw upstreamError(`${url} is not a GeoTIFF or is truncated (IFD ${images - 1} lies past the end of the file)`);
    const countView = new DataView(countBytes.buffer, countBytes.byteOffset, countBytes.byteLength);
    const entries = big ? Number(countView.getBigUint64(0, little)) : countView.getUint16(0, little);
    if (entries > MAX_ENTRIES) {
      throw upstreamError(`${url} declares ${entries} tags in IFD ${images - 1}; a GeoTIFF has a few dozen (the file is corrupt)`);
    }
    const entrySize = big ? 20 : 12;
    const table = await read(next + (big ? 8 : 2), entries * entrySize + (big ? 8 : 4));
    if (table.length < entries * entrySize + (big ? 8 : 4)) throw upstreamError(`${url} is not a GeoTIFF or is truncated (inside IFD ${images - 1})`);
    const tv = new DataView(table.buffer, table.byteOffset, table.byteLength);
    bytes += IFD_OVERHEAD_BYTES + entries * ENTRY_OVERHEAD_BYTES;
    for (let i = 0; i < entries; i++) {
      const at = i * entrySize;
      const type = tv.getUint16(at + 2, little);
      const count = big ? Number(tv.getBigUint64(at + 4, little)) : tv.getUint32(at + 4, little);
      const size = (TYPE_SIZE[type] ?? 1) * count;
      // Values that fit in the entry are inline; geotiff.js allocates the rest at their declared length, plus a
      // one-bit-per-value "loaded" map for arrays it reads lazily.
      if (size > (big ? 8 : 4)) bytes += size + Math.ceil(count / 8);
    }
    if (bytes > maxBytes) {
      throw upstreamError(
        `${url} declares more than ${mib(maxBytes)} of header data (tile offsets and tags, IFD ${images - 1}), over ` +
          `RASTER_MAX_HEADER_BYTES=${maxBytes}: far more internal tiles than a usable file has; write it as a COG with ` +
          '256-1024 px tiles (gdal_translate -of COG)',
      );
    }
    next = big ? Number(tv.getBigUint64(entries * entrySize, little)) : tv.getUint32(entries * entrySize, little);
  }
  return { images, bytes };
}
