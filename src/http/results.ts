import { randomBytes } from 'node:crypto';
import type { JobRecord, JobResults, ResultEntry } from '../jobs/types.js';
import { PROCESSES_REL } from '../jobs/documents.js';
import type { ObjectStore } from '../jobs/object-store.js';
import { noSuchOutput } from '../processes/errors.js';

/**
 * Results as OGC API - Processes 1.0 answers them (clause 7, table of execute responses), the same for a
 * synchronous execution and for GET /jobs/{id}/results of an asynchronous one:
 *   document           200 JSON: each output inline ({"value", "mediaType", "encoding"} for files) or {"href", "type"}
 *   raw, all by ref    204 with one Link header per output
 *   raw, one output    200 with the value itself in its media type (a COG: its bytes)
 *   raw, several       200 multipart/related, one part per output (by-reference parts empty with Content-Location)
 * Files are also served one by one at /jobs/{id}/results/{output}, with single byte ranges (GDAL /vsicurl/,
 * QGIS), or linked as presigned URLs of the store when RESULTS_PRESIGN is on.
 */
export interface ResultSource {
  base: string;
  store: ObjectStore;
  resultKey(jobId: string, name: string): string;
  /** Presigned URL lifetime when the store can presign and RESULTS_PRESIGN is on. */
  presignSeconds?: number;
}

export async function resultsResponse(source: ResultSource, record: JobRecord, results: JobResults): Promise<Response> {
  const entries = record.outputs.map((output) => ({ ...output, entry: entryOf(record, results, output.id) }));
  if (record.response === 'document') {
    const document: Record<string, unknown> = {};
    for (const { id, transmissionMode, entry } of entries) {
      if (transmissionMode === 'reference') document[id] = { href: await hrefOf(source, record, id, entry), type: entry.mediaType, title: id };
      else if (entry.kind === 'value') document[id] = entry.value;
      else document[id] = { value: Buffer.from(await fileBytes(source, record, entry)).toString('base64'), mediaType: entry.mediaType, encoding: 'base64' };
    }
    return new Response(JSON.stringify(document), { status: 200, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } });
  }
  if (entries.every((e) => e.transmissionMode === 'reference')) {
    const headers = new Headers({ 'cache-control': 'no-store' });
    for (const { id, entry } of entries) headers.append('link', `<${await hrefOf(source, record, id, entry)}>; rel="${PROCESSES_REL.results}"; type="${entry.mediaType}"; title="${id}"`);
    return new Response(null, { status: 204, headers });
  }
  if (entries.length === 1) {
    const { entry } = entries[0];
    const body = await bytesOf(source, record, entry);
    return new Response(body as Uint8Array<ArrayBuffer>, { status: 200, headers: { 'content-type': contentTypeOf(entry), 'cache-control': 'no-store' } });
  }
  const boundary = `tmogc-${randomBytes(12).toString('hex')}`;
  const parts: Uint8Array[] = [];
  for (const { id, transmissionMode, entry } of entries) {
    const head = [`--${boundary}`, `Content-ID: <${id}>`];
    if (transmissionMode === 'reference') {
      head.push(`Content-Type: ${entry.mediaType}`, `Content-Location: ${await hrefOf(source, record, id, entry)}`);
      parts.push(text(`${head.join('\r\n')}\r\n\r\n\r\n`));
    } else {
      head.push(`Content-Type: ${contentTypeOf(entry)}`);
      parts.push(text(`${head.join('\r\n')}\r\n\r\n`), await bytesOf(source, record, entry), text('\r\n'));
    }
  }
  parts.push(text(`--${boundary}--\r\n`));
  const rootType = contentTypeOf(entries[0].entry).split(';')[0];
  return new Response(Buffer.concat(parts), {
    status: 200,
    headers: { 'content-type': `multipart/related; boundary=${boundary}; type="${rootType}"`, 'cache-control': 'no-store' },
  });
}

/** One output at /jobs/{id}/results/{output}: a value in its media type, a file with range support. */
export async function outputResponse(
  source: ResultSource,
  record: JobRecord,
  results: JobResults,
  output: string,
  request: { range?: string; head?: boolean },
): Promise<Response> {
  const entry = entryOf(record, results, output, Object.keys(results.outputs));
  if (entry.kind === 'value') return new Response(valueBytes(entry.value) as Uint8Array<ArrayBuffer>, { headers: { 'content-type': contentTypeOf(entry), 'cache-control': 'no-store' } });
  const key = source.resultKey(record.jobID, entry.name);
  const headers: Record<string, string> = { 'content-type': entry.mediaType, 'accept-ranges': 'bytes', etag: entry.etag, 'cache-control': 'private, max-age=300' };
  const wanted = parseRange(request.range, entry.size);
  if (wanted === 'unsatisfiable') return new Response(null, { status: 416, headers: { ...headers, 'content-range': `bytes */${entry.size}` } });
  // GDAL's /vsicurl/ starts with a HEAD: answer it from the results document, without reading the file.
  if (request.head && !wanted) return new Response(null, { headers: { ...headers, 'content-length': String(entry.size) } });
  if (!wanted) {
    const object = await source.store.get(key);
    if (!object) throw noSuchOutput(record.jobID, output, []);
    return new Response(object.body as Uint8Array<ArrayBuffer>, { headers: { ...headers, 'content-length': String(object.body.byteLength) } });
  }
  const part = await source.store.getRange(key, wanted.start, wanted.end);
  if (!part) throw noSuchOutput(record.jobID, output, []);
  return new Response(part.body as Uint8Array<ArrayBuffer>, {
    status: 206,
    headers: { ...headers, 'content-range': `bytes ${part.start}-${part.end}/${part.size}`, 'content-length': String(part.body.byteLength) },
  });
}

/** A single `bytes=` range (first-last, first-, -suffix); several ranges or a malformed header: the whole file. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const match = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

function entryOf(record: JobRecord, results: JobResults, id: string, known = record.outputs.map((o) => o.id)): ResultEntry {
  const entry = results.outputs[id];
  if (!entry) throw noSuchOutput(record.jobID, id, known);
  return entry;
}

async function hrefOf(source: ResultSource, record: JobRecord, id: string, entry: ResultEntry): Promise<string> {
  if (entry.kind === 'file' && source.presignSeconds && source.store.presignGet) {
    return source.store.presignGet(source.resultKey(record.jobID, entry.name), source.presignSeconds);
  }
  return `${source.base}/jobs/${encodeURIComponent(record.jobID)}/results/${encodeURIComponent(id)}`;
}

async function fileBytes(source: ResultSource, record: JobRecord, entry: Extract<ResultEntry, { kind: 'file' }>): Promise<Uint8Array> {
  const object = await source.store.get(source.resultKey(record.jobID, entry.name));
  if (!object) throw new Error(`result file ${entry.name} of job ${record.jobID} is missing`);
  return object.body;
}

async function bytesOf(source: ResultSource, record: JobRecord, entry: ResultEntry): Promise<Uint8Array> {
  return entry.kind === 'value' ? valueBytes(entry.value) : fileBytes(source, record, entry);
}

function valueBytes(value: unknown): Uint8Array {
  return text(typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value));
}

function contentTypeOf(entry: ResultEntry): string {
  return entry.mediaType.startsWith('text/') ? `${entry.mediaType}; charset=utf-8` : entry.mediaType;
}

function text(value: string): Uint8Array {
  return new TextEncoder().encode(value);
}
