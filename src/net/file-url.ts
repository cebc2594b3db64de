import { open } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { badRequest, notFound, upstreamError } from '../errors.js';

/**
 * file:// for operator configuration only (the guarded fetcher calls this when the policy allows it).
 * Answers like an HTTP server would, single byte ranges included, so COG readers can use local files too.
 */
export async function fetchFileUrl(url: URL, headers: Record<string, string> = {}, maxBytes: number): Promise<Response> {
  let path: string;
  try {
    path = fileURLToPath(url);
  } catch (error) {
    throw badRequest(`"${url.href}" is not a usable file URL: ${(error as Error).message}`);
  }
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ENOENT') throw notFound(`${url.href} does not exist`);
    throw upstreamError(`Cannot open ${url.href}: ${code ?? (error as Error).message}`, error);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw badRequest(`${url.href} is not a file`);
    const size = stat.size;
    const rangeHeader = Object.entries(headers).find(([name]) => name.toLowerCase() === 'range')?.[1];
    const range = rangeHeader ? /^bytes=(\d+)-(\d*)$/.exec(rangeHeader.trim()) : null;
    let start = 0;
    let end = size - 1;
    if (range) {
      start = Number(range[1]);
      end = Math.min(range[2] ? Number(range[2]) : size - 1, size - 1);
      if (start >= size) {
        throw upstreamError(`${url.href}: range ${rangeHeader} starts past the end (${size} bytes)`);
      }
    }
    const length = Math.max(0, end - start + 1);
    if (length > maxBytes) throw upstreamError(`${url.href} is too large: ${length} bytes, the limit is ${maxBytes}`);
    const buffer = new Uint8Array(length);
    await handle.read(buffer, 0, length, start);
    const responseHeaders: Record<string, string> = { 'content-length': String(length), 'accept-ranges': 'bytes' };
    if (range) responseHeaders['content-range'] = `bytes ${start}-${end}/${size}`;
    const response = new Response(buffer, { status: range ? 206 : 200, headers: responseHeaders });
    Object.defineProperty(response, 'url', { value: url.href });
    return response;
  } finally {
    await handle.close();
  }
}
