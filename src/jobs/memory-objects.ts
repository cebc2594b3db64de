import type { ObjectInfo, ObjectRange, ObjectStore } from './object-store.js';

/** Objects in a Map: one instance, lost on restart (tests and single-process runs). */
export class MemoryObjectStore implements ObjectStore {
  readonly kind = 'memory' as const;
  private readonly objects = new Map<string, { body: Uint8Array; contentType: string }>();

  async get(key: string) {
    return this.objects.get(key);
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const object = this.objects.get(key);
    return object && { size: object.body.byteLength, contentType: object.contentType };
  }

  async getRange(key: string, start: number, end: number): Promise<ObjectRange | undefined> {
    const object = this.objects.get(key);
    if (!object) return undefined;
    const last = Math.min(end, object.body.byteLength - 1);
    return { body: object.body.subarray(start, last + 1), start, end: last, size: object.body.byteLength, contentType: object.contentType };
  }

  async put(key: string, body: Uint8Array, contentType: string): Promise<void> {
    this.objects.set(key, { body, contentType });
  }

  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }

  async deletePrefix(prefix: string): Promise<void> {
    for (const key of [...this.objects.keys()]) if (key.startsWith(prefix)) this.objects.delete(key);
  }

  async listChildren(prefix: string, options: { after?: string; limit: number }): Promise<string[]> {
    const names = new Set<string>();
    for (const key of this.objects.keys()) {
      if (!key.startsWith(prefix)) continue;
      const name = key.slice(prefix.length).split('/')[0];
      if (options.after === undefined || name > options.after) names.add(name);
    }
    return [...names].sort().slice(0, options.limit);
  }
}
