import type { Context } from 'hono';
import { documentFormat } from './negotiate.js';
import { htmlPage } from './html.js';

/** Sends a JSON document, or its HTML view when asked; documents vary by Accept. */
export function sendDocument(c: Context, title: string, document: unknown, options: { contentType?: string; html?: string } = {}): Response {
  const format = documentFormat(c);
  c.header('vary', 'Accept');
  if (format === 'html') {
    return c.html(htmlPage(title, document, options.html ?? ''));
  }
  return c.body(JSON.stringify(document), 200, { 'content-type': options.contentType ?? 'application/json' });
}
