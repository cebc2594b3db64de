import { fittingZoom, tileTemplate, tilesPath } from '../ogc/tilesets.js';
import { collectionPath, type CollectionView } from '../ogc/collections.js';
import { href } from '../ogc/links.js';
import { escapeHtml, PAGE_HEAD } from './html.js';

/**
 * Page-specific HTML of the document views: what a person opening the service in a browser needs next (a map,
 * the URLs to paste into QGIS or a web map, and the commands for GDAL). Recipes are those README.md documents.
 */
const copyRow = (id: string, label: string, value: string) =>
  `<label for="${id}">${escapeHtml(label)}</label><div class="copy-row"><input id="${id}" readonly value="${escapeHtml(value)}"><button type="button" data-copy="${id}">Copy</button></div>`;

export function landingHtml(base: string, description: string, collections: { id: string; title: string }[]): string {
  const items = collections
    .map((c) => `<li><a href="${escapeHtml(`${base}${collectionPath(c.id)}?f=html`)}">${escapeHtml(c.title)}</a> <small>(${escapeHtml(c.id)})</small></li>`)
    .join('');
  return `<p>${escapeHtml(description)}</p>
<nav class="top"><a href="${base}/viewer"><strong>Open the viewer</strong></a><a href="${base}/api?f=html">API documentation</a><a href="${base}/collections?f=html">Collections</a></nav>
<h2>Collections</h2><ul>${items}</ul>`;
}

export function collectionHtml(base: string, collection: CollectionView, bounds: readonly number[], maxzoom: number): string {
  const tilejson = href(base, `${tilesPath(collection.id)}/WebMercatorQuad/tilejson.json`, collection.linkQuery);
  const xyz = tileTemplate(base, collection, 'WebMercatorQuad', 'png', true);
  const collectionUrl = href(base, collectionPath(collection.id), collection.linkQuery);
  const [west, south, east, north] = bounds;
  // A window of a quarter of the extent around its centre, at the level where the extent fits a map.
  const [cx, cy] = [(west + east) / 2, (south + north) / 2];
  const [hw, hh] = [(east - west) / 8, (north - south) / 8];
  const level = Math.min(maxzoom, fittingZoom(bounds, { min: 0, max: maxzoom }) + 2);
  const projwin = [cx - hw, cy + hh, cx + hw, cy - hh].map((v) => v.toFixed(5)).join(' ');
  const viewer = `${base}/viewer?sample=${encodeURIComponent(collection.id)}`;
  return `<p>${escapeHtml(collection.description)}</p>
<nav class="top"><a href="${escapeHtml(viewer)}">Open in the viewer</a><a href="${escapeHtml(href(base, `${tilesPath(collection.id)}/WebMercatorQuad`, collection.linkQuery, [['f', 'html']]))}">Tileset (OpenLayers preview)</a></nav>
<link rel="stylesheet" href="/vendor/maplibre-gl/maplibre-gl.css">
<div id="map" class="map" data-tilejson="${escapeHtml(tilejson)}"></div>
<h2>URLs to copy</h2>
${copyRow('url-tilejson', 'TileJSON (MapLibre, Leaflet plugins, QGIS via its tiles template)', tilejson)}
${copyRow('url-xyz', `XYZ template (QGIS XYZ layer, Leaflet; max zoom ${maxzoom})`, xyz)}
${copyRow('url-ogcapi', 'OGC API collection (GDAL OGCAPI driver, QGIS OGC API source)', collectionUrl)}
<h2>QGIS</h2>
<ol>
<li><strong>XYZ layer</strong>: <em>Layer &gt; Add Layer &gt; Add XYZ Layer…</em>, <em>New</em>, URL = the XYZ template above, max zoom ${maxzoom}.</li>
<li><strong>OGC API through GDAL</strong> (any QGIS; QGIS 3.32+ also lists it as source type <em>OGC API</em>): in the Python console,
<pre class="recipe">iface.addRasterLayer(${escapeHtml(JSON.stringify(`OGCAPI:${collectionUrl}`))}, ${escapeHtml(JSON.stringify(collection.title))}, "gdal")</pre></li>
</ol>
<h2>GDAL</h2>
<pre class="recipe" data-recipe="gdalinfo">gdalinfo "OGCAPI:${escapeHtml(collectionUrl)}"</pre>
<pre class="recipe" data-recipe="gdal_translate">gdal_translate -oo TILEMATRIX=${level} -projwin ${projwin} "OGCAPI:${escapeHtml(collectionUrl)}" out.tif</pre>
<p class="note">GDAL 3.6/3.7 (Debian 12, Ubuntu 22.04/24.04) are recognised and served tile limits they read correctly;
add <code>limits=matrix</code> to the URL if yours is not.</p>
<script type="module" src="/web/collection.js"></script>`;
}

/** The OpenLayers OGCMapTile preview of a tileset (and the script-free tile grid stays below it). */
export function tilesetMapHtml(tilesetJsonUrl: string, projection: 'EPSG:3857' | 'EPSG:4326', bounds: readonly number[], maxzoom: number): string {
  const center = `${(bounds[0] + bounds[2]) / 2},${(bounds[1] + bounds[3]) / 2}`;
  // OpenLayers zoom in EPSG:4326 is one level off WebMercatorQuad's (its level 0 spans 360 degrees in 512 px).
  const zoom = fittingZoom(bounds, { min: 0, max: maxzoom }) - (projection === 'EPSG:4326' ? 1 : 0);
  return `<h2>Map (OpenLayers OGCMapTile on this tileset)</h2>
<link rel="stylesheet" href="/vendor/ol/ol.css">
<div id="ogc-map" class="map" data-tileset="${escapeHtml(tilesetJsonUrl)}" data-projection="${projection}" data-center="${center}" data-zoom="${Math.max(0, zoom)}"></div>
<script src="/vendor/ol/ol.js"></script><script src="/web/tileset.js"></script>`;
}

/** /api?f=html: Swagger UI over /api (served from swagger-ui-dist). */
export function apiDocsHtml(base: string, title: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}: API documentation</title>
<meta name="viewport" content="width=device-width, initial-scale=1">${PAGE_HEAD}
<link rel="stylesheet" href="/vendor/swagger-ui/swagger-ui.css">
</head><body>
<div id="swagger-ui" data-url="${escapeHtml(`${base}/api?f=json`)}"></div>
<noscript><p>The API documentation needs JavaScript; the definition itself is at <a href="${base}/api?f=json">${base}/api?f=json</a>.</p></noscript>
<script src="/vendor/swagger-ui/swagger-ui-bundle.js"></script><script src="/web/api.js"></script>
</body></html>`;
}
