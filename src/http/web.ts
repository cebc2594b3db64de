import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import sharp from 'sharp';
import { notFound } from '../errors.js';
import { modalitiesDocument } from '../render/legend.js';
import type { AppContext } from './context.js';

/**
 * The browser side: the viewer page, the scripts of the HTML previews (web/), the map and API-docs libraries
 * installed from npm (served from node_modules, never a CDN: works offline and behind a firewall), the
 * favicon, and `/modalities` (titles, units and legends the viewer shows). Only listed files are served.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  html: 'text/html; charset=utf-8',
  svg: 'image/svg+xml',
};

/** URL path under /vendor -> file under node_modules (the built bundles only). */
const VENDOR: Record<string, string> = {
  'ol/ol.js': 'ol/dist/ol.js',
  'ol/ol.css': 'ol/ol.css',
  'maplibre-gl/maplibre-gl.mjs': 'maplibre-gl/dist/maplibre-gl.mjs',
  'maplibre-gl/maplibre-gl-worker.mjs': 'maplibre-gl/dist/maplibre-gl-worker.mjs',
  'maplibre-gl/maplibre-gl.css': 'maplibre-gl/dist/maplibre-gl.css',
  'swagger-ui/swagger-ui-bundle.js': 'swagger-ui-dist/swagger-ui-bundle.js',
  'swagger-ui/swagger-ui.css': 'swagger-ui-dist/swagger-ui.css',
};

const WEB_FILES = new Set(['viewer.html', 'viewer.js', 'viewer.css', 'pages.css', 'collection.js', 'tileset.js', 'api.js', 'favicon.svg']);

const extension = (path: string) => path.slice(path.lastIndexOf('.') + 1);

async function fileResponse(path: string, cacheControl: string): Promise<Response> {
  const body = await readFile(path);
  return new Response(body, { headers: { 'content-type': TYPES[extension(path)] ?? 'application/octet-stream', 'cache-control': cacheControl } });
}

let faviconPng: Promise<Buffer> | undefined;

export function webRoutes(_ctx: AppContext): Hono {
  const app = new Hono();

  app.get('/viewer', () => fileResponse(`${ROOT}web/viewer.html`, 'no-cache'));

  app.get('/web/:file', (c) => {
    const file = c.req.param('file');
    if (!WEB_FILES.has(file)) throw notFound(`No web asset '${file}'.`);
    return fileResponse(`${ROOT}web/${file}`, 'no-cache');
  });

  app.get('/vendor/:package/:file', (c) => {
    const target = VENDOR[`${c.req.param('package')}/${c.req.param('file')}`];
    if (!target) throw notFound(`No vendored file '${c.req.param('package')}/${c.req.param('file')}'.`);
    return fileResponse(`${ROOT}node_modules/${target}`, 'public, max-age=86400');
  });

  // Browsers ask for /favicon.ico whatever the page says; a PNG there is accepted by all of them.
  app.get('/favicon.ico', async (c) => {
    faviconPng ??= readFile(`${ROOT}web/favicon.svg`).then((svg) => sharp(svg).resize(32, 32).png().toBuffer());
    return c.body(new Uint8Array(await faviconPng), 200, { 'content-type': 'image/png', 'cache-control': 'public, max-age=86400' });
  });

  app.get('/modalities', (c) => c.json(modalitiesDocument(), 200, { 'cache-control': 'public, max-age=3600' }));

  return app;
}
