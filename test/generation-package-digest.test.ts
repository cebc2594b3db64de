import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { packageDigest } from '../src/generation/package-digest.js';
import type { ModelPackage } from '../src/model/manifest.js';

/**
 * The package digest goes into every chip key: a package rebuilt with other bytes under the same name and
 * version must get other keys, and the same bytes in another folder the same ones. Files over 64 MiB are
 * digested by size and their first and last 4 MiB (sparse files here, so the large cases cost no disk).
 */
const MiB = 1024 * 1024;
let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'package-digest-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** packageDigest reads only the folder and the path of each file. */
function pkgAt(dir: string): ModelPackage {
  return { dir, path: (name: string) => join(dir, name) } as unknown as ModelPackage;
}

function folder(name: string, files: Record<string, string | Buffer>): string {
  const dir = join(root, name);
  mkdirSync(dir);
  for (const [file, content] of Object.entries(files)) writeFileSync(join(dir, file), content);
  return dir;
}

function writeAt(path: string, offset: number, bytes: string) {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, Buffer.from(bytes), 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

/** A sparse file of `size` bytes with a marker at each of `marks` (offset -> text). */
function sparse(path: string, size: number, marks: Record<number, string> = {}) {
  writeFileSync(path, '');
  truncateSync(path, size);
  for (const [offset, text] of Object.entries(marks)) writeAt(path, Number(offset), text);
}

const FILES = { 'manifest.json': '{"name":"tm","version":"1"}', 'encoder.onnx': Buffer.from([1, 2, 3, 4, 5]), 'decoder.onnx': 'weights' };

describe('packageDigest', () => {
  it('is 16 hex digits, the same for the same bytes in another folder, and for files listed in any order', () => {
    const a = packageDigest(pkgAt(folder('a', FILES)));
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(packageDigest(pkgAt(folder('b', FILES)))).toBe(a);
    const reversed = Object.fromEntries(Object.entries(FILES).reverse());
    expect(packageDigest(pkgAt(folder('c', reversed)))).toBe(a);
  });

  it('changes when any byte, name or file changes, and ignores subfolders', () => {
    const base = packageDigest(pkgAt(folder('base', FILES)));
    const variants = {
      'a byte of one file': folder('byte', { ...FILES, 'encoder.onnx': Buffer.from([1, 2, 3, 4, 6]) }),
      'a longer file': folder('longer', { ...FILES, 'decoder.onnx': 'weights!' }),
      'a file renamed': folder('renamed', { 'manifest.json': FILES['manifest.json'], 'encoder2.onnx': FILES['encoder.onnx'], 'decoder.onnx': FILES['decoder.onnx'] }),
      'a file added': folder('added', { ...FILES, 'extra.bin': '' }),
      'a file removed': folder('removed', { 'manifest.json': FILES['manifest.json'], 'encoder.onnx': FILES['encoder.onnx'] }),
      // Bytes moved from one file's end to the next file's start: the names and sizes keep them apart.
      'bytes moved between files': folder('moved', { ...FILES, 'decoder.onnx': 'weight', 'encoder.onnx': Buffer.from([0x73, 1, 2, 3, 4, 5]) }),
    };
    const digests = Object.entries(variants).map(([change, dir]) => {
      const digest = packageDigest(pkgAt(dir));
      expect(digest, change).not.toBe(base);
      return digest;
    });
    expect(new Set(digests).size).toBe(digests.length);

    const withFolder = folder('with-folder', FILES);
    mkdirSync(join(withFolder, 'build'));
    writeFileSync(join(withFolder, 'build', 'log.txt'), 'not part of the package');
    expect(packageDigest(pkgAt(withFolder))).toBe(base);
  });

  it('closes every file it opens (it runs at each start-up, over packages of many files)', () => {
    const dir = folder('fds', FILES);
    // packageDigest is synchronous: nothing else in this process opens or closes a file between the two counts.
    const open = () => readdirSync('/proc/self/fd').length;
    const before = open();
    packageDigest(pkgAt(dir));
    expect(open()).toBe(before);
  });

  it('hashes a file of up to 64 MiB whole: a byte in its middle counts', () => {
    const dir = folder('whole', {});
    sparse(join(dir, 'graph.onnx'), 64 * MiB);
    const before = packageDigest(pkgAt(dir));
    writeAt(join(dir, 'graph.onnx'), 32 * MiB, 'x');
    expect(packageDigest(pkgAt(dir))).not.toBe(before);
  });

  it('digests a larger file by its size and its first and last 4 MiB', () => {
    const size = 64 * MiB + 1;
    const digestOf = (marks: Record<number, string>, length = size) => {
      const dir = mkdtempSync(join(root, 'large-'));
      sparse(join(dir, 'graph.onnx_data'), length, marks);
      return packageDigest(pkgAt(dir));
    };
    const base = digestOf({});
    // Inside the first and the last 4 MiB, at both edges of each.
    const counted = [0, 4 * MiB - 1, size - 4 * MiB, size - 1].map((offset) => digestOf({ [offset]: 'x' }));
    for (const digest of counted) expect(digest).not.toBe(base);
    expect(new Set(counted).size).toBe(counted.length);
    // Between them, not read: the documented price of a start-up within a second.
    expect(digestOf({ [4 * MiB]: 'x' })).toBe(base);
    expect(digestOf({ [32 * MiB]: 'x' })).toBe(base);
    expect(digestOf({ [size - 4 * MiB - 1]: 'x' })).toBe(base);
    // The size counts even when the sampled bytes are the same.
    expect(digestOf({}, size + 1)).not.toBe(base);
  });
});
