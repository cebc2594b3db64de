import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The service as a real deployment runs it (node + tsx, src/server.ts) in a child process on a loopback port,
 * so a test can measure that process's resident memory and CPU time without other test files' allocations
 * in the figure. Linux only (/proc).
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ServiceProcess {
  url: string;
  pid: number;
  /** Resident set size now, in bytes. */
  rss(): number;
  /** User + system CPU seconds the process has used so far (all its threads). */
  cpuSeconds(): number;
  /** The same per thread (thread id -> seconds); the main thread's id is the pid. */
  threadCpuSeconds(): Map<number, number>;
  alive(): boolean;
  output(): { stdout: string; stderr: string };
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** utime + stime of a /proc stat file, in seconds (fields 12 and 13 after the parenthesised name; 100 Hz). */
function cpuOf(statFile: string): number {
  try {
    const fields = readFileSync(statFile, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0; // a thread that ended between listing and reading
  }
}

export async function startServiceProcess(
  env: Record<string, string>,
  options: { timeoutMs?: number; nodeArgs?: string[] } = {},
): Promise<ServiceProcess> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const child: ChildProcess = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', CACHE_URL: 'memory://', MODEL_WARMUP: 'false', LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve((exitCode = code))));
  const deadline = Date.now() + timeoutMs;
  let url: string | undefined;
  while (!url) {
    const match = /listening: open (http:\/\/127\.0\.0\.1:\d+)\//.exec(stdout);
    if (match) url = match[1];
    else if (exitCode !== undefined) throw new Error(`the service exited with ${exitCode}: ${stderr.slice(0, 2000)}`);
    else if (Date.now() > deadline) throw new Error(`the service did not start in ${timeoutMs} ms: ${stderr.slice(0, 2000)}`);
    else await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const pid = child.pid!;
  return {
    url,
    pid,
    rss: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024,
    cpuSeconds: () => cpuOf(`/proc/${pid}/stat`),
    threadCpuSeconds: () => new Map(readdirSync(`/proc/${pid}/task`).map((tid) => [Number(tid), cpuOf(`/proc/${pid}/task/${tid}/stat`)])),
    alive: () => exitCode === undefined,
    output: () => ({ stdout, stderr }),
    stop: async () => {
      if (exitCode === undefined) child.kill('SIGTERM');
      return exited;
    },
  };
}
