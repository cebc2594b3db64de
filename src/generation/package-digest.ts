import { createHash } from 'node:crypto';
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import type { ModelPackage } from '../model/manifest.js';

/**
 * A digest of a model package's bytes, for chip keys: a package rebuilt with other weights under the same name
 * and version must never be served from chips of the old one. Every file in the package folder counts (ONNX
 * external-data files hold the weights of large graphs). Files are hashed whole up to 64 MiB each; larger
 * ones (base/large graphs, external data) by size plus their first and last 4 MiB, which any re-export changes,
 * so that start-up stays within a second.
 */
const WHOLE_FILE_LIMIT = 64 * 1024 * 1024;
const SAMPLE = 4 * 1024 * 1024;

export function packageDigest(pkg: ModelPackage): string {
  const hash = createHash('sha256');
  const files = readdirSync(pkg.dir, { withFileTypes: true }).filter((entry) => entry.isFile()).map((entry) => entry.name);
  for (const name of files.sort()) {
    const path = pkg.path(name);
    const size = statSync(path).size;
    hash.update(`${name}\u0000${size}\u0000`);
    const fd = openSync(path, 'r');
    try {
      if (size <= WHOLE_FILE_LIMIT) {
        hash.update(readRange(fd, 0, size));
      } else {
        hash.update(readRange(fd, 0, SAMPLE));
        hash.update(readRange(fd, size - SAMPLE, SAMPLE));
      }
    } finally {
      closeSync(fd);
    }
  }
  return hash.digest('hex').slice(0, 16);
}

function readRange(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  let read = 0;
  while (read < length) {
    const n = readSync(fd, buffer, read, length - read, position + read);
    if (n === 0) break;
    read += n;
  }
  return buffer.subarray(0, read);
}
