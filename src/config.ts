import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { z } from 'zod';

/**
 * The one configuration object, read from the environment and validated once at start-up.
 * Defaults run the service locally on the bundled model, a local file cache and the sample collections.
 */
const projectRoot = fileURLToPath(new URL('..', import.meta.url));

const csv = z
  .string()
  .default('')
  .transform((value) =>
    value
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part.length > 0),
  );

const flag = (defaultValue: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .optional()
    .transform((value) => (value === undefined ? defaultValue : value === 'true' || value === '1' || value === 'yes'));

const cacheUrl = z
  .string()
  .refine((value) => /^(file:\/\/.+|s3:\/\/[^/]+(\/.*)?|memory:\/\/.*)$/.test(value), {
    message: 'must be file:///path, s3://bucket[/prefix] or memory://',
  });

export const ConfigSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().default('0.0.0.0'),
  PUBLIC_URL: z
    .url({ protocol: /^https?$/ })
    .transform((value) => value.replace(/\/+$/, ''))
    .optional(),
  CACHE_URL: cacheUrl.default(`file://${projectRoot}.cache/tiles`),
  CACHE_MEMORY_MAX_BYTES: z.coerce.number().int().positive().default(256 * 1024 * 1024),
  S3_ENDPOINT: z.url().optional(),
  S3_FORCE_PATH_STYLE: flag(false),
  AWS_REGION: z.string().default('us-east-1'),
  FETCH_ALLOW_HOSTS: csv,
  FETCH_TIMEOUT_MS: z.coerce.number().int().positive().default(15_000),
  FETCH_MAX_BYTES: z.coerce.number().int().positive().default(64 * 1024 * 1024),
  /** Byte blocks of remote GeoTIFFs kept in memory (src/raster/block-cache.ts). */
  SOURCE_BLOCK_CACHE_BYTES: z.coerce.number().int().positive().default(64 * 1024 * 1024),
  /** Decoded internal GeoTIFF tiles kept in memory; 0 disables (src/raster/decoded-cache.ts). */
  SOURCE_DECODED_CACHE_BYTES: z.coerce.number().int().min(0).default(128 * 1024 * 1024),
  COLLECTIONS_FILE: z.string().default(`${projectRoot}config/collections.json`),
  MODEL_DIR: z.string().default(`${projectRoot}models/terramind-test-random`),
  EXECUTION_PROVIDERS: csv.pipe(z.array(z.enum(['cuda', 'webgpu', 'cpu']))).default(['cpu']),
  INTRA_OP_THREADS: z.coerce.number().int().min(0).default(0),
  INTER_OP_THREADS: z.coerce.number().int().min(0).default(0),
  BATCH_MAX_SIZE: z.coerce.number().int().min(1).max(256).default(8),
  BATCH_MAX_WAIT_MS: z.coerce.number().int().min(0).max(10_000).default(10),
  MODEL_WARMUP: flag(true),
  /** Chip engine (src/generation, docs/generation.md). */
  GENERATION_QUEUE_MAX: z.coerce.number().int().min(1).default(256),
  /** Chips generated at once; 0 = BATCH_MAX_SIZE, so the batcher can stack a full batch. */
  GENERATION_CONCURRENCY: z.coerce.number().int().min(0).max(256).default(0),
  /** How long a request for a generated tile may wait for the model (instead of REQUEST_TIMEOUT_MS). */
  GENERATION_TIMEOUT_MS: z.coerce.number().int().positive().default(120_000),
  GENERATE_MAX_CHIPS_PER_TILE: z.coerce.number().int().min(1).max(1024).default(25),
  CHIP_MEMORY_CACHE_BYTES: z.coerce.number().int().min(0).default(256 * 1024 * 1024),
  GENERATION_LEASE_TTL_MS: z.coerce.number().int().positive().default(120_000),
  GENERATION_LEASE_WAIT_MS: z.coerce.number().int().min(0).default(30_000),
  GENERATION_LEASE_SETTLE_MS: z.coerce.number().int().min(0).default(250),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** API keys for process execution and uncached generated tiles (src/http/auth.ts); empty = open. */
  API_KEYS: csv,
  /** With API_KEYS: generated tiles already in the cache are served without a key. */
  API_KEYS_PUBLIC_CACHE: flag(true),
  /** After SIGTERM: keep serving (readiness 503) this long so load balancers stop routing, then drain. */
  SHUTDOWN_DELAY_MS: z.coerce.number().int().min(0).max(60_000).default(0),
  /** After SIGTERM and the delay: longest wait for in-flight requests before exiting (Cloud Run allows 10 s). */
  DRAIN_TIMEOUT_MS: z.coerce.number().int().min(0).max(600_000).default(8_000),
  // OGC API - Processes (src/jobs, src/processes): where jobs live and how many run at once.
  /** Job documents, results, virtual collections; unset = beside the cache (src/jobs/object-store.ts). */
  JOBS_URL: cacheUrl.optional(),
  JOBS_MAX_RUNNING: z.coerce.number().int().min(1).max(64).default(2),
  JOBS_MAX_QUEUED: z.coerce.number().int().min(0).max(10_000).default(100),
  JOB_MAX_CHIPS: z.coerce.number().int().min(1).max(100_000).default(100),
  JOB_HEARTBEAT_MS: z.coerce.number().int().min(50).max(600_000).default(10_000),
  /** A running or queued job whose heartbeat is older than this is reported failed (its instance died). */
  JOB_STALE_MS: z.coerce.number().int().min(200).max(86_400_000).default(60_000),
  RESULTS_PRESIGN: flag(false),
  RESULTS_PRESIGN_SECONDS: z.coerce.number().int().min(60).max(604_800).default(3600),
  COG_BLOCK_SIZE: z.enum(['256', '512']).default('512').transform(Number).pipe(z.union([z.literal(256), z.literal(512)])),
  // --- budgets of one request and of the process (docs/limits.md) ---
  /** One deadline across every fetch of a request under /collections; past it the answer is a 504. */
  REQUEST_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  /** Internal tiles/strips one windowed read may decode (a file of tiny tiles cannot fan out). */
  RASTER_MAX_TILES_PER_READ: z.coerce.number().int().positive().default(1024),
  /** Decoded bytes (internal tiles plus window arrays) one request may reserve across its reads. */
  RASTER_MAX_DECODED_BYTES_PER_REQUEST: z.coerce.number().int().positive().default(256 * 1024 * 1024),
  /** Decoded bytes all requests together may hold at once; reads wait for room until their deadline. */
  RASTER_MAX_DECODED_BYTES_IN_FLIGHT: z.coerce.number().int().positive().default(768 * 1024 * 1024),
  /** Memory a GeoTIFF's IFDs may make the parser allocate (tile offset/byte-count arrays, tags). */
  RASTER_MAX_HEADER_BYTES: z.coerce.number().int().positive().default(16 * 1024 * 1024),
  /** Parsed GeoTIFF headers and opened readers kept in memory, by the bytes their IFDs hold. */
  SOURCE_HEADER_CACHE_BYTES: z.coerce.number().int().positive().default(32 * 1024 * 1024),
  /** Largest STAC item (or item collection) document read. */
  STAC_MAX_DOCUMENT_BYTES: z.coerce.number().int().positive().default(2 * 1024 * 1024),
  /** Worker threads that decode GeoTIFF tiles off the event loop; 0 decodes on the main thread. */
  DECODE_WORKERS: z.coerce.number().int().min(0).max(64).default(defaultDecodeWorkers()),
  /** Hosts (host or host:port) whose Host header may appear in links when PUBLIC_URL is unset; loopback always may. */
  LINK_HOSTS: csv,
}).refine((config) => config.JOB_STALE_MS > 2 * config.JOB_HEARTBEAT_MS, {
  message: 'JOB_STALE_MS must be more than twice JOB_HEARTBEAT_MS, or live jobs would be reported dead',
  path: ['JOB_STALE_MS'],
});

/** One decode worker per core the process may use, at most 8 (Cloud Run instances have 1-8 vCPUs). */
function defaultDecodeWorkers(): number {
  return Math.min(8, Math.max(1, availableParallelism()));
}

export type Config = z.infer<typeof ConfigSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment; a bad value throws a ConfigError that names the variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const result = ConfigSchema.safeParse(present);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(env)'}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return result.data;
}
