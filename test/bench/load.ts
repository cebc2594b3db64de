import { Agent, request } from 'undici';

/**
 * The benchmarks' load generator: `total` GETs of one URL at `concurrency`, over one keep-alive pool, each
 * answer read whole and required to be 200. Returns req/s, p50/p99 latency (ms) and this process's CPU per
 * request (µs: load generator plus whatever server runs in the same process).
 */
export const benchAgent = new Agent({ connections: 64, pipelining: 1, keepAliveTimeout: 30_000 });

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

export async function load(url: string, total: number, concurrency: number, agent: Agent = benchAgent) {
  const latencies: number[] = [];
  let next = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next += 1;
        const t0 = performance.now();
        const response = await request(url, { dispatcher: agent });
        await response.body.arrayBuffer();
        if (response.statusCode !== 200) throw new Error(`${url}: HTTP ${response.statusCode}`);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  const cpuPerRequest = (used.user + used.system) / total;
  return { rps: total / seconds, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), cpuPerRequest };
}
