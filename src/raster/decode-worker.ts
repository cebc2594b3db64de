import { parentPort } from 'node:worker_threads';
import { getDecoder } from 'geotiff';
import { registerFastDecoders } from './decoders.js';

/**
 * One decode worker (src/raster/decode-pool.ts): compressed internal tile in, decoded bytes out, with the same
 * codecs as the main thread (native zlib deflate, typed-array LZW, geotiff.js for the rest), each bounded to the
 * block's declared size.
 */
registerFastDecoders();

export interface DecodeJob {
  id: number;
  compression: number;
  parameters: Record<string, unknown>;
  buffer: ArrayBuffer;
  /** Most bytes the block may decode to (its declared width x height x bytes per pixel). */
  maxBytes: number;
}

export type DecodeReply = { id: number; decoded: ArrayBuffer } | { id: number; error: string };

const port = parentPort;
if (!port) throw new Error('decode-worker.ts runs as a worker thread');

port.on('message', async (job: DecodeJob) => {
  try {
    const decoder = await getDecoder(job.compression, job.parameters as never);
    const decoded = (await decoder.decode(job.buffer)) as ArrayBuffer;
    // Codecs without an output bound of their own (PackBits, JPEG, zstd...) are checked after the fact.
    if (decoded.byteLength > job.maxBytes) throw new Error(`the block decodes to ${decoded.byteLength} bytes, more than its declared ${job.maxBytes}`);
    port.postMessage({ id: job.id, decoded } satisfies DecodeReply, [decoded]);
  } catch (error) {
    port.postMessage({ id: job.id, error: error instanceof Error ? error.message : String(error) } satisfies DecodeReply);
  }
});
