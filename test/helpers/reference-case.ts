import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** Debian's interpreter, which has torch and onnx (the python3 first on PATH may not). */
export const PYTHON = '/usr/bin/python3';
export const REFERENCE_RUNNER = fileURLToPath(new URL('../../models/exporter/reference.py', import.meta.url));

/** A raw little-endian tensor file of the reference-runner protocol (docs/model-package.md). */
export interface TensorSpec {
  file: string;
  dtype: 'float32' | 'int64';
  shape: number[];
}

export interface ReferenceResult {
  context: TensorSpec;
  logits: Record<string, TensorSpec>;
  decoded: Record<string, TensorSpec>;
  encodedIds: Record<string, TensorSpec>;
}

/** One case folder for models/exporter/reference.py: write tensors, run the PyTorch modules, read results. */
export class ReferenceCase {
  readonly dir = mkdtempSync(join(tmpdir(), 'tm-reference-'));

  tensor(name: string, data: Float32Array | BigInt64Array, shape: number[]): TensorSpec {
    writeFileSync(join(this.dir, name), Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    return { file: name, dtype: data instanceof BigInt64Array ? 'int64' : 'float32', shape };
  }

  read(spec: TensorSpec): Float32Array | BigInt64Array {
    const bytes = readFileSync(join(this.dir, spec.file));
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    return spec.dtype === 'int64' ? new BigInt64Array(buffer) : new Float32Array(buffer);
  }

  /** Writes case.json and runs the reference runner on the package; its stderr becomes the error on failure. */
  async run(packageDir: string, caseJson: object, timeoutMs = 240_000): Promise<ReferenceResult> {
    writeFileSync(join(this.dir, 'case.json'), JSON.stringify(caseJson));
    try {
      await promisify(execFile)(PYTHON, [REFERENCE_RUNNER, packageDir, this.dir], { timeout: timeoutMs, maxBuffer: 16 << 20 });
    } catch (error) {
      throw new Error(`reference.py failed: ${(error as { stderr?: string }).stderr ?? String(error)}`);
    }
    return JSON.parse(readFileSync(join(this.dir, 'result.json'), 'utf8')) as ReferenceResult;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
