import { Hono } from 'hono';
import { conformance, landingPage, SERVICE_TITLE } from '../ogc/common.js';
import type { AppContext } from './context.js';
import { baseUrl, documentFormat } from './negotiate.js';
import { buildOpenApi } from './openapi.js';
import { sendDocument } from './respond.js';
import { apiDocsHtml, landingHtml } from './pages.js';
import { MEDIA } from '../ogc/links.js';
import { OgcError } from '../errors.js';
import { exceptionResponse } from './errors.js';

/** Landing page, conformance, API definition, health and metrics. */
export function commonRoutes(ctx: AppContext): Hono {
  const app = new Hono();
  const base = (c: Parameters<typeof baseUrl>[0]) => baseUrl(c, ctx.config.PUBLIC_URL);

  app.get('/', (c) => {
    const document = landingPage(base(c));
    // Resolved, so generated collections carry their random-weights warning here too.
    const collections = ctx.collections.configured().map((entry) => ctx.collections.resolve(entry.id, {}));
    return sendDocument(c, document.title, document, { html: landingHtml(base(c), document.description, collections) });
  });

  app.get('/conformance', (c) => sendDocument(c, 'Conformance', conformance()));

  app.get('/api', (c) => {
    if (documentFormat(c) === 'html') {
      c.header('vary', 'Accept');
      return c.html(apiDocsHtml(base(c), SERVICE_TITLE));
    }
    const document = buildOpenApi(base(c), ctx);
    return sendDocument(c, 'API definition (OpenAPI 3.0)', document, { contentType: MEDIA.openapi });
  });

  app.get('/health', (c) => {
    const model = ctx.model && {
      name: ctx.model.manifest.name,
      version: ctx.model.manifest.version,
      provider: ctx.model.stats().provider ?? null,
      // 'random' for test packages (generated output is noise), 'official' for exported checkpoints.
      weights: ctx.model.manifest.weights,
      outputs: Object.entries(ctx.model.manifest.modalities).filter(([, entry]) => entry?.output).map(([id]) => id),
    };
    return c.json({
      status: 'ok',
      uptimeSeconds: Math.round((Date.now() - ctx.startedAt.getTime()) / 1000),
      cache: ctx.cache.store.kind,
      model: model ?? null,
    });
  });

  // Readiness (Cloud Run / Kubernetes probes): 200 only once the model is warm and not while draining.
  app.get('/ready', (c) => {
    const state = ctx.lifecycle.state;
    if (state === 'ready') return c.json({ status: 'ready' }, 200, { 'cache-control': 'no-store' });
    const detail = state === 'starting' ? 'The model is warming up; retry shortly.' : 'This instance is shutting down and takes no new work.';
    return exceptionResponse(new OgcError('unavailable', detail), { 'retry-after': '1', 'x-lifecycle': state });
  });

  app.get('/metrics', async (c) => {
    const text = await ctx.metrics.registry.metrics();
    return c.body(text, 200, { 'content-type': ctx.metrics.registry.contentType, 'cache-control': 'no-store' });
  });

  return app;
}
