import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import type { CachedObject, CacheStore } from './store.js';

/**
 * Objects as files under a root directory. One file per object holds a small header (magic, JSON metadata) and the
 * body, so the metadata and bytes are replaced together by a single rename: a reader sees the old file, the new
 * file, or nothing, never a half-written one (rename(2) within one directory is atomic on POSIX filesystems).
 *
 * File layout: "TMC1" | uint32 BE header length | header JSON {contentType, etag} | body.
 */
const MAGIC = Buffer.from('TMC1', 'ascii');
const TEMP_SUFFIX = '.tmp';

export class FileCacheStore implements CacheStore {
  readonly kind = 'file' as const;

  constructor(readonly root: string) {
    if (!isAbsolute(root)) throw new Error(`FileCacheStore: root must be an absolute path, got "${root}"`);
  }

  async get(key: string): Promise<CachedObject | undefined> {
    let file: Buffer;
    try {
      file = await readFile(this.pathOf(key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    return decodeObject(file, key);
  }

  async put(key: string, object: CachedObject): Promise<void> {
    const { target, temp } = await this.writeTemp(key, object);
    try {
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw error;
    }
  }

  async putIfAbsent(key: string, object: CachedObject): Promise<boolean> {
    const { target, temp } = await this.writeTemp(key, object);
    try {
      // link(2) refuses an existing name: the complete file appears under the key only if nobody was first.
      await link(temp, target);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    } finally {
      await rm(temp, { force: true }).catch(() => undefined);
    }
  }

  /**
   * Writes the object beside its final name: a temp name in the same directory (same filesystem, so rename and
   * link are atomic), unique per writer.
   */
  private async writeTemp(key: string, object: CachedObject): Promise<{ target: string; temp: string }> {
    const target = this.pathOf(key);
    await mkdir(dirname(target), { recursive: true });
    const temp = `${target}.${process.pid}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`;
    try {
      await writeFile(temp, encodeObject(object));
    } catch (error) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw error;
    }
    return { target, temp };
  }

  /** Keys are relative slash paths (see keys.ts); anything escaping the root is a programming error. */
  private pathOf(key: string): string {
    const relative = normalize(key);
    if (key.length === 0 || isAbsolute(key) || relative.startsWith('..') || relative.split(sep).includes('..')) {
      throw new Error(`FileCacheStore: invalid key "${key}"`);
    }
    if (key.endsWith(TEMP_SUFFIX)) throw new Error(`FileCacheStore: key may not end with ${TEMP_SUFFIX}`);
    return join(this.root, relative);
  }
}

export function encodeObject(object: CachedObject): Buffer {
  const header = Buffer.from(JSON.stringify({ contentType: object.contentType, etag: object.etag }), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(header.length);
  return Buffer.concat([MAGIC, length, header, object.body]);
}

export function decodeObject(file: Buffer, key: string): CachedObject {
  if (file.length < 8 || !file.subarray(0, 4).equals(MAGIC)) throw new Error(`FileCacheStore: "${key}" is not a cache object`);
  const headerLength = file.readUInt32BE(4);
  if (8 + headerLength > file.length) throw new Error(`FileCacheStore: "${key}" has a truncated header`);
  const header = JSON.parse(file.subarray(8, 8 + headerLength).toString('utf8')) as { contentType?: unknown; etag?: unknown };
  if (typeof header.contentType !== 'string' || typeof header.etag !== 'string') {
    throw new Error(`FileCacheStore: "${key}" has an invalid header`);
  }
  return { body: new Uint8Array(file.buffer, file.byteOffset + 8 + headerLength, file.length - 8 - headerLength), contentType: header.contentType, etag: header.etag };
}
