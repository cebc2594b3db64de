import type { Context } from 'hono';
import { documentFormat } from './negotiate.js';
import { htmlPage } from './html.js';
import { linksFollowHost } from './link-hosts.js';

/** How long clients and caches may keep a document (collections and tilesets change with configuration only). */
const DOCUMENT_MAX_AGE_S = 60;

/**
 * Cache headers of a document with absolute links: it varies by Accept (JSON or HTML), and when its links come
 * from the request's Host (no PUBLIC_URL) it also varies by Host and is private, so no shared cache serves one
 * host's links to another.
 */
export function documentHeaders(c: Context, publicUrl?: string): Record<string, string> {
  return linksFollowHost(c, publicUrl)
    ? { vary: 'Accept, Host', 'cache-control': `private, max-age=${DOCUMENT_MAX_AGE_S}` }
    : { vary: 'Accept', 'cache-control': `public, max-age=${DOCUMENT_MAX_AGE_S}` };
}

/** Sends a JSON document, or its HTML view when asked; documents vary by Accept. */
export function sendDocument(c: Context, title: string, document: unknown, options: { contentType?: string; html?: string } = {}): Response {
  const format = documentFormat(c);
  for (const [name, value] of Object.entries(documentHeaders(c))) c.header(name, value);
  if (format === 'html') {
    return c.html(htmlPage(title, document, options.html ?? ''));
  }
  return c.body(JSON.stringify(document), 200, { 'content-type': options.contentType ?? 'application/json' });
}
