/**
 * HTML views of the JSON documents (f=html or a browser's Accept): the title, page-specific content (a map
 * preview, URLs to copy), every link as an anchor and the JSON itself. Scripts and styles come only from this
 * service (web/ and vendored npm bundles), so pages work offline; without scripts the content still reads.
 */
interface LinkLike {
  href: string;
  rel: string;
  type?: string;
  title?: string;
  templated?: boolean;
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function collectLinks(value: unknown, into: LinkLike[] = []): LinkLike[] {
  if (Array.isArray(value)) value.forEach((item) => collectLinks(item, into));
  else if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if (typeof record.href === 'string' && typeof record.rel === 'string') into.push(record as unknown as LinkLike);
    else Object.values(record).forEach((item) => collectLinks(item, into));
  }
  return into;
}

/** Head elements every page shares: the favicon (so no page logs a 404 for /favicon.ico) and the page styles. */
export const PAGE_HEAD = '<link rel="icon" href="/web/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/web/pages.css">';

export function htmlPage(title: string, document: unknown, extra = ''): string {
  const links = collectLinks(document)
    .map((link) => {
      const label = escapeHtml(link.title ?? link.href);
      const meta = escapeHtml([link.rel, link.type].filter(Boolean).join(', '));
      // Templated hrefs are not followable as they are; show them as text.
      const anchor = link.templated ? `<code>${escapeHtml(link.href)}</code>` : `<a href="${escapeHtml(link.href)}">${label}</a>`;
      return `<li>${anchor} <small>(${meta})</small></li>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}pre{background:#f4f4f4;padding:1rem;overflow:auto}code{word-break:break-all}</style>
${PAGE_HEAD}
</head><body>
<h1>${escapeHtml(title)}</h1>
${extra}
<h2>Links</h2>
<ul>
${links}
</ul>
<h2>JSON</h2>
<pre>${escapeHtml(JSON.stringify(document, null, 2))}</pre>
</body></html>`;
}
