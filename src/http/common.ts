import { Hono } from 'hono';
import { conformance, landingPage } from '../ogc/common.js';
import type { AppContext } from './context.js';
import { baseUrl } from './negotiate.js';
import { buildOpenApi } from './openapi.js';
import { sendDocument } from './respond.js';
import { escapeHtml } from './html.js';
import { MEDIA } from '../ogc/links.js';

/** Landing page, conformance, API definition, health and metrics. */
export function commonRoutes(ctx: AppContext): Hono {
  const app = new Hono();
  const base = (c: Parameters<typeof baseUrl>[0]) => baseUrl(c, ctx.config.PUBLIC_URL);

  app.get('/', (c) => {
    const document = landingPage(base(c));
    const viewer = ctx.collections
      .configured()
      .map((collection) => `<li><a href="${base(c)}/collections/${encodeURIComponent(collection.id)}/map/tiles/WebMercatorQuad?f=html">${escapeHtml(collection.title)}</a></li>`)
      .join('');
    return sendDocument(c, document.title, document, { html: `<p>${document.description}</p><h2>Collections</h2><ul>${viewer}</ul>` });
  });

  app.get('/conformance', (c) => sendDocument(c, 'Conformance', conformance()));

  app.get('/api', (c) => {
    const document = buildOpenApi(base(c), ctx);
    return sendDocument(c, 'API definition (OpenAPI 3.0)', document, { contentType: MEDIA.openapi });
  });

  app.get('/health', (c) => {
    const model = ctx.model && {
      name: ctx.model.manifest.name,
      version: ctx.model.manifest.version,
      provider: ctx.model.stats().provider ?? null,
    };
    return c.json({
      status: 'ok',
      uptimeSeconds: Math.round((Date.now() - ctx.startedAt.getTime()) / 1000),
      cache: ctx.cache.store.kind,
      model: model ?? null,
    });
  });

  app.get('/metrics', async (c) => {
    const text = await ctx.metrics.registry.metrics();
    return c.body(text, 200, { 'content-type': ctx.metrics.registry.contentType, 'cache-control': 'no-store' });
  });

  return app;
}
