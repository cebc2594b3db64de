// TerraMind viewer: real inputs and generated outputs side by side or with a swipe, on OpenLayers.
// Public API only: /collections (samples), TileJSON documents (one per layer), /health (model name, weights),
// /modalities (legends). All state lives in the page's URL, so every view is a deep link, e.g.
//   /viewer?S2L2A=<STAC item URL>&output=LULC&seed=3
//   /viewer?sample=parana-s2l2a&output=DEM&timesteps=20&mode=side
/* global ol */
(() => {
  const $ = (id) => document.getElementById(id);
  const GENERATION_PARAMS = ['seed', 'timesteps', 'thinking'];

  let modalities = []; // from /modalities
  let samples = []; // configured collections: {id, title, modality}
  const state = readState();

  /** State from the URL: known parameters, and every modality id parameter as an input source. */
  function readState() {
    const query = new URLSearchParams(location.search);
    const inputs = [];
    for (const [key, value] of query) if (/^[A-Z0-9]+$/.test(key) && value) inputs.push({ modality: key, source: value });
    return {
      sample: query.get('sample') ?? '',
      inputs,
      output: query.get('output') ?? 'none',
      seed: query.get('seed') ?? '0',
      timesteps: query.get('timesteps') ?? '10',
      thinking: query.get('thinking') ?? '',
      mode: query.get('mode') === 'side' ? 'side' : 'swipe',
      swipe: query.get('swipe') ?? '50',
      map: query.get('map') ?? '',
    };
  }

  /** The URL always holds the state (replaceState: no history entry per pan). */
  function writeState() {
    const query = new URLSearchParams();
    if (state.sample) query.set('sample', state.sample);
    for (const input of state.inputs) query.append(input.modality, input.source);
    query.set('output', state.output);
    if (state.output !== 'none') for (const key of GENERATION_PARAMS) if (state[key] !== '') query.set(key, state[key]);
    query.set('mode', state.mode);
    if (state.mode === 'swipe') query.set('swipe', state.swipe);
    if (state.map) query.set('map', state.map);
    const url = `${location.pathname}?${query}`;
    history.replaceState(null, '', url);
    $('share').href = url;
  }

  function message(text) {
    $('message').textContent = text;
  }

  const tilejsonPath = (collection, query) => `/collections/${encodeURIComponent(collection)}/map/tiles/WebMercatorQuad/tilejson.json${query.size ? `?${query}` : ''}`;

  /** The real input layer: a configured sample, or the first pasted source as an ad hoc collection. */
  function inputTileJson() {
    if (state.sample) return { url: tilejsonPath(state.sample, new URLSearchParams()), label: sampleTitle(state.sample) };
    const first = state.inputs[0];
    if (!first) return undefined;
    return { url: tilejsonPath(first.modality, new URLSearchParams([[first.modality, first.source]])), label: `${first.modality} input` };
  }

  /** The generated layer: /collections/{OUTPUT} with every input source and the generation parameters. */
  function outputTileJson() {
    if (state.output === 'none' || (!state.sample && state.inputs.length === 0)) return undefined;
    const query = new URLSearchParams();
    const sample = samples.find((s) => s.id === state.sample);
    // A sample is named by its collection URL on this service (resolved by the service without a fetch).
    if (sample) query.append(sample.modality, `${location.origin}/collections/${sample.id}`);
    for (const input of state.inputs) query.append(input.modality, input.source);
    for (const key of GENERATION_PARAMS) if (state[key] !== '') query.set(key, state[key]);
    // With its own modality among the inputs the output is that input, rendered (no generation).
    const real = state.inputs.some((input) => input.modality === state.output) || sample?.modality === state.output;
    return { url: tilejsonPath(state.output, query), label: real ? `${state.output} (the input itself)` : `${state.output} generated (seed ${state.seed})` };
  }

  const sampleTitle = (id) => samples.find((s) => s.id === id)?.title ?? id;

  // Two maps sharing one view: swipe mode draws both layers in the first, side-by-side puts the output in the second.
  const view = new ol.View({ center: [0, 0], zoom: 2, maxZoom: 22 });
  const mapInput = new ol.Map({ target: 'map-input', view, layers: [] });
  const mapOutput = new ol.Map({ target: 'map-output', view, layers: [] });
  const counts = { pending: 0, loaded: 0, failed: 0 };
  let fitted = Boolean(state.map);
  let outputMinZoom = 0;
  let build = 0;

  if (state.map) {
    const [z, lat, lon] = state.map.split('/').map(Number);
    if ([z, lat, lon].every(Number.isFinite)) view.setCenter(ol.proj.fromLonLat([lon, lat]));
    if (Number.isFinite(z)) view.setZoom(z);
  }
  mapInput.on('moveend', () => {
    const [lon, lat] = ol.proj.toLonLat(view.getCenter());
    state.map = `${view.getZoom().toFixed(2)}/${lat.toFixed(5)}/${lon.toFixed(5)}`;
    writeState();
    showZoomHint();
  });

  function showProgress() {
    const done = counts.loaded + counts.failed;
    const total = done + counts.pending;
    $('progress').max = Math.max(1, total);
    $('progress').value = done;
    $('progress-text').textContent = total === 0 ? 'No tiles requested yet.' : `${counts.pending} loading, ${counts.loaded} loaded${counts.failed ? `, ${counts.failed} failed` : ''}`;
    document.body.dataset.tilesPending = String(counts.pending);
    document.body.dataset.tilesLoaded = String(counts.loaded);
  }

  /**
   * Progress from OpenLayers' own tile events (chips generate while their tiles are pending). A source from an
   * earlier build keeps finishing the tiles it had in flight after rebuild() zeroed the counts: its events are
   * ignored, or the counts would drift (pending below zero, never settling).
   */
  function watch(source) {
    const owner = build;
    const count = (change) => () => {
      if (owner !== build) return;
      change();
      showProgress();
    };
    source.on('tileloadstart', count(() => (counts.pending += 1)));
    source.on('tileloadend', count(() => {
      counts.pending -= 1;
      counts.loaded += 1;
    }));
    source.on('tileloaderror', count(() => {
      counts.pending -= 1;
      counts.failed += 1;
    }));
  }

  /** Fetches a TileJSON (so a refusal shows its OGC exception detail) and makes a tile layer from it. */
  async function tileLayer(spec) {
    const response = await fetch(spec.url);
    const body = await response.json();
    if (!response.ok) throw new Error(`${spec.label}: ${body.detail ?? response.statusText}`);
    const source = new ol.source.TileJSON({ tileJSON: body, crossOrigin: 'anonymous', tileSize: 256 });
    watch(source);
    // Tiles outside the TileJSON bounds are outside the collection's limits (404): never ask for them.
    const extent = body.bounds ? ol.proj.transformExtent(body.bounds, 'EPSG:4326', 'EPSG:3857') : undefined;
    return { layer: new ol.layer.Tile({ source, extent }), tilejson: body };
  }

  function clipToSwipe(layer) {
    layer.on('prerender', (event) => {
      const context = event.context;
      const size = mapInput.getSize();
      const x = (size[0] * Number(state.swipe)) / 100;
      const corners = [
        [x, 0],
        [size[0], 0],
        [size[0], size[1]],
        [x, size[1]],
      ].map((pixel) => ol.render.getRenderPixel(event, pixel));
      context.save();
      context.beginPath();
      context.moveTo(...corners[0]);
      for (const corner of corners.slice(1)) context.lineTo(...corner);
      context.closePath();
      context.clip();
    });
    layer.on('postrender', (event) => event.context.restore());
  }

  function showZoomHint() {
    if (state.output !== 'none' && view.getZoom() < outputMinZoom) message(`The generated layer starts at zoom ${outputMinZoom}: zoom in to generate it.`);
    else if ($('message').dataset.kind === 'zoom') message('');
    $('message').dataset.kind = view.getZoom() < outputMinZoom ? 'zoom' : '';
  }

  async function rebuild() {
    const current = ++build;
    writeState();
    for (const map of [mapInput, mapOutput]) map.getLayers().clear();
    Object.assign(counts, { pending: 0, loaded: 0, failed: 0 });
    showProgress();
    message('');
    $('maps').className = state.mode;
    $('map-output').hidden = state.mode !== 'side' || state.output === 'none';
    $('swipe-label').hidden = state.mode !== 'swipe';
    mapOutput.updateSize();
    mapInput.updateSize();
    renderLegend();
    const input = inputTileJson();
    const output = outputTileJson();
    $('label-input').textContent = input ? input.label : 'Pick a sample or paste a URL';
    $('label-output').textContent = output ? output.label : '';
    $('label-output').hidden = !output;
    try {
      if (input) {
        const { layer, tilejson } = await tileLayer(input);
        if (current !== build) return;
        mapInput.addLayer(layer);
        if (!fitted && tilejson.bounds) {
          fitted = true;
          // The view is shared with the (maybe hidden) second map: fit to the first map's size explicitly.
          view.fit(ol.proj.transformExtent(tilejson.bounds, 'EPSG:4326', 'EPSG:3857'), { size: mapInput.getSize(), padding: [40, 40, 40, 40], maxZoom: tilejson.maxzoom });
        }
      }
      if (output) {
        const { layer, tilejson } = await tileLayer(output);
        if (current !== build) return;
        outputMinZoom = tilejson.minzoom ?? 0;
        if (state.mode === 'swipe') {
          clipToSwipe(layer);
          mapInput.addLayer(layer);
        } else {
          mapOutput.addLayer(layer);
        }
        showZoomHint();
      } else {
        outputMinZoom = 0;
      }
    } catch (error) {
      message(error.message);
    }
  }

  function renderLegend() {
    const shown = [];
    const inputModality = state.sample ? samples.find((s) => s.id === state.sample)?.modality : state.inputs[0]?.modality;
    if (inputModality) shown.push(['Input', inputModality]);
    if (state.output !== 'none') shown.push(['Output', state.output]);
    const parts = shown.map(([role, id]) => {
      const info = modalities.find((m) => m.id === id);
      if (!info) return '';
      const legend = info.legend;
      let body = '';
      if (legend.kind === 'classes') {
        body = legend.classes.map((c) => `<div class="legend-class"><span class="swatch" style="background:${c.color}"></span>${escapeHtml(c.name)}</div>`).join('');
      } else if (legend.kind === 'ramp') {
        const low = legend.min ?? 'low';
        const high = legend.max ?? 'high';
        body = `<div class="ramp" style="background:linear-gradient(to right, ${legend.colors.join(', ')})"></div><div class="ramp-labels"><span>${low}</span><span>${escapeHtml(legend.unit)}</span><span>${high}</span></div>${legend.note ? `<div class="note">${escapeHtml(legend.note)}</div>` : ''}`;
      } else {
        body = `<div class="note">${escapeHtml(legend.description)}</div>`;
      }
      return `<div class="legend-title">${role}: ${escapeHtml(info.title)}</div>${body}`;
    });
    $('legend').innerHTML = parts.join('') || '<p class="note">No layer yet.</p>';
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
  }

  function renderInputs() {
    $('inputs').innerHTML = '';
    state.inputs.forEach((input, index) => {
      const item = document.createElement('li');
      item.textContent = `${input.modality}: ${input.source}`;
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.textContent = 'Remove';
      remove.addEventListener('click', () => {
        state.inputs.splice(index, 1);
        renderInputs();
        void rebuild();
      });
      item.append(remove);
      $('inputs').append(item);
    });
  }

  function option(select, value, label) {
    const element = document.createElement('option');
    element.value = value;
    element.textContent = label;
    select.append(element);
  }

  function bindControls() {
    $('sample').value = state.sample;
    $('output').value = state.output;
    $('thinking').value = state.thinking;
    for (const key of ['seed', 'timesteps', 'swipe', 'mode']) $(key).value = state[key];
    $('sample').addEventListener('change', () => {
      state.sample = $('sample').value;
      fitted = false;
      void rebuild();
    });
    for (const key of ['output', 'seed', 'timesteps', 'thinking', 'mode']) {
      $(key).addEventListener('change', () => {
        state[key] = $(key).value;
        void rebuild();
      });
    }
    $('swipe').addEventListener('input', () => {
      state.swipe = $('swipe').value;
      writeState();
      mapInput.render();
    });
    $('add-input').addEventListener('click', () => {
      const source = $('source-url').value.trim();
      if (!/^https?:\/\//.test(source)) return message('Paste an http(s) URL of a STAC item or a GeoTIFF.');
      state.inputs.push({ modality: $('source-modality').value, source });
      $('source-url').value = '';
      if (state.inputs.length === 1 && !state.sample) fitted = false;
      renderInputs();
      void rebuild();
    });
  }

  async function start() {
    const [health, modalityDoc, collections] = await Promise.all(['/health', '/modalities', '/collections'].map((path) => fetch(path).then((r) => r.json())));
    modalities = modalityDoc.modalities;
    samples = collections.collections.map((c) => ({ id: c.id, title: c.title, modality: c.keywords?.[0] }));
    for (const sample of samples) option($('sample'), sample.id, sample.title);
    for (const m of modalities) option($('source-modality'), m.id, `${m.id}: ${m.title}`);
    const outputs = health.model?.outputs ?? modalities.map((m) => m.id);
    for (const id of outputs) {
      option($('output'), id, id);
      option($('thinking'), id, id);
    }
    if (health.model) {
      $('model').textContent = `Model: ${health.model.name} ${health.model.version}`;
      $('weights-warning').hidden = health.model.weights !== 'random';
    } else {
      $('model').textContent = 'Model: none loaded (inputs only)';
    }
    document.body.dataset.weights = health.model?.weights ?? 'none';
    bindControls();
    renderInputs();
    await rebuild();
    document.body.dataset.ready = 'true';
  }

  start().catch((error) => message(`Could not start the viewer: ${error.message}`));
})();
