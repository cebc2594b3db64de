import { createReadStream, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

export interface FixtureServer {
  /** Base URL, e.g. http://127.0.0.1:43123 (no trailing slash). */
  url: string;
  /** Every request seen, for asserting request counts and byte ranges. */
  requests: { path: string; range?: string; bytes: number }[];
  close(): Promise<void>;
}

/**
 * A real HTTP server on loopback that serves test/fixtures with Range support (single ranges, as COG readers
 * use), so readers are tested against real HTTP. STAC JSON can be rewritten on the fly: every occurrence of
 * `{{BASE}}` in a .json file becomes the server's URL.
 */
export async function startFixtureServer(root: string = FIXTURES): Promise<FixtureServer> {
  const requests: FixtureServer['requests'] = [];
  let base = '';
  const server: Server = createServer((req: IncomingMessage, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = normalize(join(root, path));
    if (!file.startsWith(normalize(root))) {
      res.writeHead(403).end();
      return;
    }
    let size: number;
    try {
      const stat = statSync(file);
      if (!stat.isFile()) throw new Error('not a file');
      size = stat.size;
    } catch {
      requests.push({ path, bytes: 0 });
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const type = file.endsWith('.json') ? 'application/json' : file.endsWith('.tif') ? 'image/tiff' : 'application/octet-stream';
    if (file.endsWith('.json')) {
      const body = readFileSync(file, 'utf8').replaceAll('{{BASE}}', base);
      requests.push({ path, bytes: Buffer.byteLength(body) });
      res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(body) }).end(body);
      return;
    }
    const range = req.headers.range;
    const match = range ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
    if (match) {
      const start = Number(match[1]);
      const end = Math.min(match[2] ? Number(match[2]) : size - 1, size - 1);
      if (start >= size) {
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
      requests.push({ path, range, bytes: end - start + 1 });
      res.writeHead(206, {
        'content-type': type,
        'accept-ranges': 'bytes',
        'content-range': `bytes ${start}-${end}/${size}`,
        'content-length': end - start + 1,
      });
      createReadStream(file, { start, end }).pipe(res);
      return;
    }
    requests.push({ path, bytes: size });
    res.writeHead(200, { 'content-type': type, 'accept-ranges': 'bytes', 'content-length': size });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
