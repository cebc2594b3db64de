import type { InferenceSession } from 'onnxruntime-node';
import type { Logger } from '../logger.js';
import type { BatchTensor, Feeds } from './batcher.js';
import type { ModelPackage } from './manifest.js';
import { SessionHost } from './session-host.js';

export type ExecutionProvider = 'cuda' | 'webgpu' | 'cpu';

export interface SessionOptions {
  /** Tried in order; the first that creates a session is used (onnxruntime-node throws instead of falling back). */
  executionProviders: readonly ExecutionProvider[];
  /** 0 = onnxruntime default. */
  intraOpThreads: number;
  interOpThreads: number;
}

export interface RunOptions {
  /**
   * The caller gives up `feeds`: nobody reads them after this call (e.g. the batcher's stacked copies), so their
   * buffers move to the worker thread and are detached here. Default false: the inputs are copied.
   */
  transferInputs?: boolean;
}

/**
 * The onnxruntime-node sessions of one package, one per ONNX file, created on first use and kept until close().
 * They live in one worker thread (session-host.ts) so that runs do not block the event loop. Creation falls back
 * through the configured providers per session and logs which one was used.
 */
export class ModelSessions {
  private readonly sessions = new Map<string, Promise<{ provider: ExecutionProvider }>>();
  private readonly host = new SessionHost((reason) => {
    // The worker ended unexpectedly: its sessions are gone, so the next run of each file creates it again.
    this.sessions.clear();
    this.logger?.error({ err: reason }, 'onnxruntime worker thread lost');
  });
  /** ONNX file -> provider that runs it. */
  readonly providers = new Map<string, ExecutionProvider>();
  /** ONNX file -> milliseconds its session took to create. */
  readonly createMs = new Map<string, number>();
  runs = 0;
  /** Providers that failed to create a session; later sessions skip them. */
  readonly unavailable = new Set<ExecutionProvider>();
  private announced = false;
  private closed = false;

  constructor(
    readonly pkg: ModelPackage,
    private readonly options: SessionOptions,
    private readonly logger?: Logger,
  ) {}

  private open(file: string) {
    // Closed is final: a run that outlives close() (work abandoned at shutdown) would start a fresh worker thread
    // and create a session in it, and a process that exits while onnxruntime creates a session aborts (SIGABRT,
    // "terminate called after throwing an instance of 'Napi::Error'").
    if (this.closed) return Promise.reject(this.closedError());
    let pending = this.sessions.get(file);
    if (!pending) {
      pending = this.create(file);
      this.sessions.set(file, pending);
      pending.catch(() => this.sessions.delete(file));
    }
    return pending;
  }

  private async create(file: string) {
    const configured = this.options.executionProviders.length > 0 ? this.options.executionProviders : ['cpu' as const];
    // A provider that failed once (library or adapter missing) is not retried for every other part.
    const providers = configured.filter((p) => !this.unavailable.has(p));
    const failures: string[] = [];
    const start = performance.now();
    for (const provider of providers) {
      const sessionOptions: InferenceSession.SessionOptions = {
        executionProviders: [provider],
        graphOptimizationLevel: 'all',
      };
      if (this.options.intraOpThreads > 0) sessionOptions.intraOpNumThreads = this.options.intraOpThreads;
      if (this.options.interOpThreads > 0) sessionOptions.interOpNumThreads = this.options.interOpThreads;
      try {
        await this.host.create(file, this.pkg.path(file), sessionOptions);
        const ms = performance.now() - start;
        this.providers.set(file, provider);
        this.createMs.set(file, ms);
        this.logger?.debug({ file, provider, ms: Math.round(ms) }, 'onnx session created');
        if (provider !== configured[0] && !this.announced) {
          this.announced = true;
          this.logger?.warn({ provider, configured }, `running the model on ${provider}: the preferred providers are unavailable`);
        }
        return { provider };
      } catch (error) {
        const reason = (error as Error).message.split('\n')[0] ?? '';
        failures.push(`${provider}: ${reason}`);
        if (provider !== 'cpu') {
          this.unavailable.add(provider);
          this.logger?.warn({ file, provider, reason }, 'execution provider unavailable; falling back to the next one');
        }
      }
    }
    throw new Error(`Could not create an onnxruntime session for ${file} with any provider: ${failures.join('; ')}`);
  }

  /** Runs one ONNX file on plain typed-array tensors (in the worker thread; see RunOptions for the inputs' buffers). */
  async run(file: string, feeds: Feeds, options: RunOptions = {}): Promise<Feeds> {
    await this.open(file);
    if (this.closed) throw this.closedError();
    let results;
    try {
      results = await this.host.run(file, feeds, options.transferInputs ?? false);
    } catch (error) {
      throw Object.assign(new Error(`${file}: ${(error as Error).message}`, { cause: error }), { name: (error as Error).name });
    }
    this.runs += 1;
    const out: Feeds = {};
    for (const [name, tensor] of Object.entries(results)) {
      if (tensor.type !== 'float32' && tensor.type !== 'int64') {
        throw new Error(`${file} output ${name} has type ${tensor.type}; the package contract allows float32 and int64`);
      }
      out[name] = { type: tensor.type, data: tensor.data as BatchTensor['data'], dims: [...tensor.dims] };
    }
    return out;
  }

  /** Creates the session of each file now (in sequence: creation is memory- and CPU-heavy). */
  async openAll(files: readonly string[]): Promise<void> {
    for (const file of files) await this.open(file);
  }

  /** The provider most sessions use (for logs and /health). */
  get provider(): ExecutionProvider | undefined {
    const counts = new Map<ExecutionProvider, number>();
    for (const p of this.providers.values()) counts.set(p, (counts.get(p) ?? 0) + 1);
    return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  }

  private closedError(): Error {
    return new Error(`the model sessions of ${this.pkg.manifest.name} are closed`);
  }

  /** Releases every session and ends the worker thread; later runs are refused. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.sessions.values()];
    this.sessions.clear();
    // Let creations under way finish first, so the worker's release covers them.
    await Promise.allSettled(all);
    await this.host.close();
  }
}
