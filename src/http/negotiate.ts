import type { Context } from 'hono';
import { badRequest } from '../errors.js';
import { IMAGE_FORMATS, IMAGE_MEDIA_TYPES, type ImageFormat } from '../render/types.js';
import { linkOrigin } from './link-hosts.js';

/**
 * Content negotiation and absolute base URLs. Documents are JSON unless HTML is asked for explicitly
 * (f=html, or an Accept header that prefers text/html to JSON); tiles take f= first, then Accept, and
 * fall back to PNG rather than ever answering 406 (Java clients send text/html first by default).
 */
interface AcceptEntry {
  type: string;
  subtype: string;
  q: number;
}

export function parseAccept(header: string | undefined): AcceptEntry[] {
  if (!header) return [];
  const entries: AcceptEntry[] = [];
  for (const part of header.split(',')) {
    const [range, ...params] = part.trim().split(';');
    const value = range.trim().toLowerCase();
    if (!value) continue;
    // Java sends a bare "*"; treat it as */*.
    const [type, subtype = '*'] = value === '*' ? ['*', '*'] : value.split('/');
    let q = 1;
    for (const param of params) {
      const [name, raw] = param.trim().split('=');
      if (name?.trim().toLowerCase() === 'q') {
        const parsed = Number(raw);
        q = Number.isFinite(parsed) ? Math.max(0, Math.min(1, parsed)) : 0;
      }
    }
    entries.push({ type, subtype, q });
  }
  return entries;
}

/** Quality the Accept entries give a media type (most specific match wins; no header = everything at 1). */
export function qualityOf(entries: AcceptEntry[], mediaType: string): number {
  if (entries.length === 0) return 1;
  const [type, subtype] = mediaType.toLowerCase().split('/');
  let best: { specificity: number; q: number } | undefined;
  for (const entry of entries) {
    let specificity: number;
    if (entry.type === type && entry.subtype === subtype) specificity = 2;
    else if (entry.type === type && entry.subtype === '*') specificity = 1;
    else if (entry.type === '*' && entry.subtype === '*') specificity = 0;
    else continue;
    if (!best || specificity > best.specificity || (specificity === best.specificity && entry.q > best.q)) {
      best = { specificity, q: entry.q };
    }
  }
  return best?.q ?? 0;
}

export type DocumentFormat = 'json' | 'html';

export function documentFormat(c: Context): DocumentFormat {
  const f = c.req.query('f');
  if (f !== undefined) {
    const value = f.toLowerCase();
    if (value === 'json' || value === 'application/json') return 'json';
    if (value === 'html' || value === 'text/html') return 'html';
    throw badRequest(`Unsupported f='${f}' for this resource: use f=json or f=html.`);
  }
  const entries = parseAccept(c.req.header('accept'));
  if (entries.length === 0) return 'json';
  const html = qualityOf(entries.filter((e) => !(e.type === '*' && e.subtype === '*')), 'text/html');
  const json = Math.max(qualityOf(entries, 'application/json'), qualityOf(entries, 'application/geo+json'));
  return html > 0 && html > json ? 'html' : 'json';
}

const TILE_F: Record<string, ImageFormat> = {
  png: 'png',
  'image/png': 'png',
  webp: 'webp',
  'image/webp': 'webp',
  jpeg: 'jpeg',
  jpg: 'jpeg',
  'image/jpeg': 'jpeg',
};

export function tileFormat(c: Context): ImageFormat {
  const f = c.req.query('f');
  if (f !== undefined) {
    const format = TILE_F[f.toLowerCase()];
    if (!format) throw badRequest(`Unsupported tile format f='${f}': use f=png, f=webp or f=jpeg.`);
    return format;
  }
  const entries = parseAccept(c.req.header('accept'));
  let chosen: ImageFormat = 'png';
  let bestQ = 0;
  for (const format of IMAGE_FORMATS) {
    const q = qualityOf(entries, IMAGE_MEDIA_TYPES[format]);
    if (q > bestQ) {
      bestQ = q;
      chosen = format;
    }
  }
  return chosen;
}

/** Coverage tiles come only as GeoTIFF: f= may say so (tiff, geotiff or the media type), anything else is a 400. */
export function coverageFormat(c: Context): 'tiff' {
  const f = c.req.query('f');
  if (f !== undefined && !/^(tiff?|geotiff|image\/tiff(;\s*application=geotiff)?)$/i.test(f)) {
    throw badRequest(`Coverage tiles are GeoTIFF only: use f=tiff (or leave f out), got f='${f}'.`);
  }
  return 'tiff';
}

/**
 * Absolute base URL of the service: PUBLIC_URL, or the request's own origin when its Host is loopback or on
 * LINK_HOSTS, else a safe fallback (src/http/link-hosts.ts).
 */
export function baseUrl(c: Context, publicUrl: string | undefined): string {
  return linkOrigin(c, publicUrl);
}

/** The request's query as a plain record; a repeated parameter is a client error (it would be ambiguous). */
export function queryRecord(c: Context): Record<string, string> {
  const all = c.req.queries();
  const record: Record<string, string> = {};
  for (const [key, values] of Object.entries(all)) {
    if (values.length > 1) throw badRequest(`Query parameter '${key}' is given ${values.length} times; give it once.`);
    record[key] = values[0] ?? '';
  }
  return record;
}
