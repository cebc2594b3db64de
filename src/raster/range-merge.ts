/**
 * Which byte ranges of one file share an HTTP request. Internal tiles of a COG window lie in row-major runs:
 * the tiles of one window row are adjacent, and the next window row starts a level row further on. Bridging a
 * gap costs its bytes, not bridging costs a request; a gap is fetched when it is small in both senses:
 *   - at most MAX_GAP_BYTES (16 KiB, GDAL's /vsicurl chunk: below it a round trip costs more than the bytes), and
 *   - the gaps bridged for one batch stay within GAP_BUDGET_FRACTION (25 %) of the bytes the batch wants,
 * smallest gaps first (so a read never fetches more than 1.25x what it needs). A run never grows past MAX_RUN_BYTES. Measured on TCI.tif (64 px tiles) in
 * docs/raster.md.
 */
export const MAX_GAP_BYTES = 16 * 1024;
export const GAP_BUDGET_FRACTION = 0.25;
export const MAX_RUN_BYTES = 16 * 1024 * 1024;

export interface ByteRange {
  offset: number;
  length: number;
}

export interface ByteRun {
  /** First byte of the request. */
  start: number;
  /** One past the last byte. */
  end: number;
}

export function mergeRanges(ranges: readonly ByteRange[]): ByteRun[] {
  const sorted = [...ranges].filter((range) => range.length > 0).sort((a, b) => a.offset - b.offset);
  // Overlapping or touching ranges are one run at no cost.
  const runs: ByteRun[] = [];
  let wanted = 0;
  for (const { offset, length } of sorted) {
    const last = runs[runs.length - 1];
    const end = offset + length;
    if (last && offset <= last.end && end - last.start <= MAX_RUN_BYTES) {
      wanted += Math.max(0, end - last.end);
      last.end = Math.max(last.end, end);
    } else {
      wanted += length;
      runs.push({ start: offset, end });
    }
  }
  const gaps = runs
    .slice(1)
    .map((run, i) => ({ after: i, bytes: run.start - runs[i]!.end }))
    .filter((gap) => gap.bytes <= MAX_GAP_BYTES)
    .sort((a, b) => a.bytes - b.bytes);
  const bridged = new Set<number>();
  let spent = 0;
  const budget = GAP_BUDGET_FRACTION * wanted;
  for (const gap of gaps) {
    if (spent + gap.bytes > budget) break;
    spent += gap.bytes;
    bridged.add(gap.after);
  }
  const merged: ByteRun[] = [];
  runs.forEach((run, i) => {
    const previous = merged[merged.length - 1];
    if (previous && bridged.has(i - 1) && run.end - previous.start <= MAX_RUN_BYTES) previous.end = run.end;
    else merged.push({ ...run });
  });
  return merged;
}
