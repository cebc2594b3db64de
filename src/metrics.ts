import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one service instance; built once and passed in the app context. */
export function createMetrics() {
  const registry = new Registry();
  /** Set by whoever owns the generation queue; sampled when /metrics is scraped. */
  const generationQueueProbe: { read?: () => { queued: number; running: number } } = {};
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    cacheRequests: new Counter({
      name: 'tmogc_cache_requests_total',
      help: 'Tile cache lookups by result (hit, miss, bypass) and store (memory, file, s3)',
      labelNames: ['result', 'store'] as const,
      registers: [registry],
    }),
    cacheStoreFailures: new Counter({
      name: 'tmogc_cache_store_failures_total',
      help: 'Object store operations that failed (served uncached)',
      labelNames: ['operation'] as const,
      registers: [registry],
    }),
    upstreamRequests: new Counter({
      name: 'tmogc_upstream_requests_total',
      help: 'HTTP requests to upstream sources by outcome',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    upstreamBytes: new Counter({
      name: 'tmogc_upstream_bytes_total',
      help: 'Bytes read from upstream sources',
      registers: [registry],
    }),
    modelRuns: new Counter({
      name: 'tmogc_model_onnx_runs_total',
      help: 'ONNX runs made by the model batcher, by graph part',
      labelNames: ['part'] as const,
      registers: [registry],
    }),
    modelBatchRows: new Histogram({
      name: 'tmogc_model_batch_rows',
      help: 'Chips stacked into one ONNX run (batching efficiency)',
      labelNames: ['part'] as const,
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers: [registry],
    }),
    renderSeconds: new Histogram({
      name: 'tmogc_tile_render_seconds',
      help: 'Time to produce a tile on a cache miss',
      labelNames: ['modality'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    generationChips: new Counter({
      name: 'tmogc_generation_chips_total',
      help: 'Chips obtained by generation reads, by where they came from (generated, memory, store, peer: another instance, shared: joined another read) and output',
      labelNames: ['origin', 'output'] as const,
      registers: [registry],
    }),
    generationQueueProbe,
    generationQueue: new Gauge({
      name: 'tmogc_generation_queue_chips',
      help: 'Chips waiting for the model (queued) and being generated (running)',
      labelNames: ['state'] as const,
      registers: [registry],
      collect() {
        const state = generationQueueProbe.read?.();
        if (!state) return;
        this.set({ state: 'queued' }, state.queued);
        this.set({ state: 'running' }, state.running);
      },
    }),
    // HTTP, fed by src/http/observe.ts. `route` is the matched route pattern, never the raw path (bounded labels).
    httpRequests: new Counter({
      name: 'tmogc_http_requests_total',
      help: 'HTTP requests by method, route pattern and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
    }),
    httpSeconds: new Histogram({
      name: 'tmogc_http_request_duration_seconds',
      help: 'HTTP request latency by method, route pattern and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    httpInFlight: new Gauge({
      name: 'tmogc_http_requests_in_flight',
      help: 'HTTP requests being handled now (drained on SIGTERM)',
      registers: [registry],
    }),
    // Model time per generation stage (encode, decode.<output>, sample.<output>, pixels.<output>, tokenize.<input>),
    // fed by the chip engine from the runtime's timings.
    modelStageSeconds: new Histogram({
      name: 'tmogc_model_stage_seconds',
      help: 'Model time per generation stage of one chip (encode, decode/sample/pixels per output, tokenize per input)',
      labelNames: ['stage'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
