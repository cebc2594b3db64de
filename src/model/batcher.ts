/**
 * Gathers concurrent runs of the same ONNX part into one run along the batch axis (axis 0 of every input and
 * output), then splits the outputs back per caller. Chips from concurrent requests (or the chips of one large
 * request, submitted concurrently) thus share one session.run. Runs are grouped by part and by the shape of every
 * input without its batch axis, so callers whose tensors cannot be stacked never meet.
 */
export interface BatchTensor {
  type: 'float32' | 'int64';
  data: Float32Array | BigInt64Array;
  dims: readonly number[];
}

export type Feeds = Record<string, BatchTensor>;
export type RunPart = (part: string, feeds: Feeds) => Promise<Feeds>;

export interface BatcherOptions {
  /** Most batch rows (chips) in one run. A single caller with more rows still runs, alone. */
  maxSize: number;
  /** How long the first caller of a group waits for others. */
  maxWaitMs: number;
  /**
   * Runs a part. `stacked`: the feeds are the batcher's own concatenation, read by nobody after this call, so the
   * runner may take their buffers (ModelSessions transfers them to its worker). A lone caller's feeds are its own
   * arrays, which it may read again (e.g. the DDIM loop reads x after each step): those must be left intact.
   */
  run: (part: string, feeds: Feeds, stacked: boolean) => Promise<Feeds>;
  /** Whether a lone caller should wait for company; e.g. false while only one request is in flight. Default true. */
  shouldWait?: () => boolean;
  /** Called after each run with its row count, for metrics and tests. */
  onRun?: (part: string, rows: number, callers: number) => void;
}

interface Pending {
  feeds: Feeds;
  rows: number;
  resolve: (value: Feeds) => void;
  reject: (error: unknown) => void;
}

interface Group {
  part: string;
  items: Pending[];
  rows: number;
  /** Cancels the pending dispatch (a wait timer, or the end of this turn for a lone caller). */
  cancel?: () => void;
}

export interface Batcher {
  run: RunPart;
  /** Runs everything waiting now. */
  flush(): void;
}

export function createBatcher(options: BatcherOptions): Batcher {
  const groups = new Map<string, Group>();

  const dispatch = (key: string) => {
    const group = groups.get(key);
    if (!group) return;
    groups.delete(key);
    group.cancel?.();
    void execute(group);
  };

  /** One caller's run on its own tensors; its error goes to that caller only. */
  const runAlone = async (part: string, item: Pending) => {
    try {
      const out = await options.run(part, item.feeds, false);
      options.onRun?.(part, item.rows, 1);
      item.resolve(out);
    } catch (error) {
      item.reject(error);
    }
  };

  const execute = async (group: Group) => {
    const { part, items } = group;
    if (items.length === 1) {
      await runAlone(part, items[0]!);
      return;
    }
    let outputs: Feeds;
    try {
      outputs = await options.run(part, concatFeeds(items.map((item) => item.feeds)), true);
      options.onRun?.(part, group.rows, items.length);
    } catch {
      // One caller's tensors can fail a joint run (e.g. an input the graph rejects): rerun each caller alone so
      // only that caller sees the error.
      await Promise.all(items.map((item) => runAlone(part, item)));
      return;
    }
    let offset = 0;
    for (const item of items) {
      try {
        item.resolve(sliceFeeds(outputs, offset, item.rows, group.rows));
      } catch (error) {
        item.reject(error);
      }
      offset += item.rows;
    }
  };

  const run: RunPart = (part, feeds) =>
    new Promise<Feeds>((resolve, reject) => {
      const rows = batchRows(feeds);
      const key = `${part}\u0000${Object.keys(feeds)
        .sort()
        .map((name) => `${name}:${feeds[name]!.type}:${feeds[name]!.dims.slice(1).join('x')}`)
        .join(',')}`;
      let group = groups.get(key);
      if (group && group.rows + rows > options.maxSize) {
        dispatch(key);
        group = undefined;
      }
      if (!group) {
        group = { part, items: [], rows: 0 };
        groups.set(key, group);
      }
      group.items.push({ feeds, rows, resolve, reject });
      group.rows += rows;
      if (group.rows >= options.maxSize || options.maxWaitMs === 0) dispatch(key);
      else if (group.cancel) return;
      else if (options.shouldWait?.() === false) {
        // Nobody else is in flight: no waiting, but callers that join in this same turn (e.g. chips submitted
        // together, the first of which found itself alone) still share the run.
        const immediate = setImmediate(() => dispatch(key));
        group.cancel = () => clearImmediate(immediate);
      } else {
        const timer = setTimeout(() => dispatch(key), options.maxWaitMs);
        group.cancel = () => clearTimeout(timer);
      }
    });

  return {
    run,
    flush: () => {
      for (const key of [...groups.keys()]) dispatch(key);
    },
  };
}

function batchRows(feeds: Feeds): number {
  const rows = new Set(Object.values(feeds).map((t) => t.dims[0]));
  if (rows.size !== 1) throw new RangeError(`inputs disagree on the batch axis: ${[...rows].join(' vs ')}`);
  const [value] = rows;
  if (value === undefined || value < 1) throw new RangeError('empty batch');
  return value;
}

export function concatFeeds(list: Feeds[]): Feeds {
  const out: Feeds = {};
  for (const name of Object.keys(list[0]!)) {
    const parts = list.map((feeds) => feeds[name]!);
    const total = parts.reduce((sum, t) => sum + t.data.length, 0);
    const first = parts[0]!;
    const data = first.type === 'int64' ? new BigInt64Array(total) : new Float32Array(total);
    let offset = 0;
    for (const t of parts) {
      (data as Float32Array).set(t.data as Float32Array, offset);
      offset += t.data.length;
    }
    out[name] = { type: first.type, data, dims: [parts.reduce((s, t) => s + t.dims[0]!, 0), ...first.dims.slice(1)] };
  }
  return out;
}

export function sliceFeeds(feeds: Feeds, start: number, rows: number, totalRows: number): Feeds {
  const out: Feeds = {};
  for (const [name, t] of Object.entries(feeds)) {
    if (t.dims[0] !== totalRows) throw new RangeError(`output ${name} has batch ${t.dims[0]}, expected ${totalRows}`);
    const per = t.data.length / totalRows;
    out[name] = { type: t.type, data: t.data.slice(start * per, (start + rows) * per), dims: [rows, ...t.dims.slice(1)] };
  }
  return out;
}
