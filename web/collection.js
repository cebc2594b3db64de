// Collection page: a MapLibre preview from the collection's TileJSON, and copy buttons for its URLs.
// Uses only the public API (TileJSON and the XYZ tiles it names), like any MapLibre application would.
import { Map, NavigationControl } from '/vendor/maplibre-gl/maplibre-gl.mjs';

for (const button of document.querySelectorAll('button[data-copy]')) {
  button.addEventListener('click', async () => {
    const input = document.getElementById(button.dataset.copy);
    input.select();
    try {
      await navigator.clipboard.writeText(input.value);
      button.textContent = 'Copied';
    } catch {
      // Clipboard needs a secure context; the text is selected for Ctrl+C instead.
      button.textContent = 'Selected: press Ctrl+C';
    }
  });
}

const element = document.getElementById('map');
if (element) {
  const tilejsonUrl = element.dataset.tilejson;
  const tilejson = await (await fetch(tilejsonUrl)).json();
  const map = new Map({
    container: element,
    style: {
      version: 8,
      sources: { data: { type: 'raster', url: tilejsonUrl, tileSize: 256 } },
      layers: [
        { id: 'background', type: 'background', paint: { 'background-color': '#dfe6e9' } },
        { id: 'data', type: 'raster', source: 'data' },
      ],
    },
    center: [tilejson.center[0], tilejson.center[1]],
    zoom: tilejson.center[2],
    attributionControl: { compact: false },
  });
  map.addControl(new NavigationControl());
  map.on('idle', () => element.setAttribute('data-idle', 'true'));
  window.previewMap = map;
}
