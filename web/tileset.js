// Tileset page: an OpenLayers map on the tileset itself (ol/source/OGCMapTile reads the tileset document,
// its embedded tile matrix set, its limits and its item links), the way an OGC API client uses it.
/* global ol */
const element = document.getElementById('ogc-map');
if (element) {
  const projection = element.dataset.projection;
  const [lon, lat] = element.dataset.center.split(',').map(Number);
  const source = new ol.source.OGCMapTile({ url: element.dataset.tileset, projection, crossOrigin: 'anonymous' });
  const loaded = [];
  source.on('tileloadend', (event) => {
    loaded.push(event.tile.getImage().src);
    element.setAttribute('data-tiles-loaded', String(loaded.length));
  });
  const map = new ol.Map({
    target: element,
    layers: [new ol.layer.Tile({ source })],
    view: new ol.View({ projection, center: ol.proj.fromLonLat([lon, lat], projection), zoom: Number(element.dataset.zoom) }),
  });
  window.previewMap = map;
  window.previewTiles = loaded;
}
