import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { dirname, extname, isAbsolute, join, normalize, sep } from 'node:path';
import type { ObjectInfo, ObjectRange, ObjectStore } from './object-store.js';

/**
 * Objects as plain files under a root folder (so a result COG is an ordinary file GDAL can open). Writes go to
 * a unique temp name in the same folder, then rename(2), which is atomic: readers never see half a file.
 * The content type follows from the extension (the only types jobs write).
 */
const TEMP_SUFFIX = '.tmp';
const TYPES: Record<string, string> = {
  '.json': 'application/json',
  '.tif': 'image/tiff; application=geotiff; profile=cloud-optimized',
  '.txt': 'text/plain',
};

export class FileObjectStore implements ObjectStore {
  readonly kind = 'file' as const;

  constructor(readonly root: string) {
    if (!isAbsolute(root)) throw new Error(`FileObjectStore: root must be an absolute path, got "${root}"`);
  }

  async get(key: string) {
    try {
      return { body: new Uint8Array(await readFile(this.pathOf(key))), contentType: typeOf(key) };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      return { size: (await stat(this.pathOf(key))).size, contentType: typeOf(key) };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async getRange(key: string, start: number, end: number): Promise<ObjectRange | undefined> {
    let handle;
    try {
      handle = await open(this.pathOf(key), 'r');
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    try {
      const size = (await handle.stat()).size;
      const last = Math.min(end, size - 1);
      const body = new Uint8Array(Math.max(0, last - start + 1));
      if (body.length > 0) await handle.read(body, 0, body.length, start);
      return { body, start, end: last, size, contentType: typeOf(key) };
    } finally {
      await handle.close();
    }
  }

  async put(key: string, body: Uint8Array, _contentType: string): Promise<void> {
    const target = this.pathOf(key);
    await mkdir(dirname(target), { recursive: true });
    const temp = `${target}.${process.pid}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`;
    try {
      await writeFile(temp, body);
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
    await this.pruneEmptyFolders(key);
  }

  async deletePrefix(prefix: string): Promise<void> {
    // Job prefixes are folders ("jobs/<id>/"); a prefix that ends inside a name is not used.
    if (!prefix.endsWith('/')) throw new Error(`FileObjectStore: prefix "${prefix}" must end with "/"`);
    await rm(this.pathOf(prefix.slice(0, -1)), { recursive: true, force: true });
    await this.pruneEmptyFolders(prefix.slice(0, -1));
  }

  /** Folders exist only while they hold objects, as key prefixes do in S3 (listings must agree). */
  private async pruneEmptyFolders(key: string): Promise<void> {
    for (let folder = dirname(key); folder !== '.' && folder !== '/'; folder = dirname(folder)) {
      try {
        await rmdir(this.pathOf(folder));
      } catch {
        return; // not empty (or gone): stop
      }
    }
  }

  async listChildren(prefix: string, options: { after?: string; limit: number }): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.pathOf(prefix.replace(/\/$/, '')));
    } catch (error) {
      if (isMissing(error)) return [];
      throw error;
    }
    return names
      .filter((name) => !name.endsWith(TEMP_SUFFIX) && (options.after === undefined || name > options.after))
      .sort()
      .slice(0, options.limit);
  }

  private pathOf(key: string): string {
    const relative = normalize(key);
    if (key.length === 0 || isAbsolute(key) || relative.split(sep).includes('..')) throw new Error(`FileObjectStore: invalid key "${key}"`);
    return join(this.root, relative);
  }
}

function typeOf(key: string): string {
  return TYPES[extname(key)] ?? 'application/octet-stream';
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
