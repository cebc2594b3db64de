import type { Logger } from '../logger.js';
import type { CachedObject, CacheStore } from '../cache/store.js';

/**
 * Leases on chips across instances that share one bucket (docs/cache.md "Chips and leases"): before it
 * generates a chip an instance writes `<chip key>.lease`; others that see a live lease wait for the chip for a
 * bounded time and then generate it themselves. Chips are deterministic, so a duplicate generation costs time
 * but never changes bytes.
 *
 * Where the store enforces create-only writes (files, memory, S3/R2/MinIO `If-None-Match: *`) the lease is one
 * conditional create. Where it does not (s3rver, some gateways: found by a probe at the first lease), the lease
 * is written, left to settle, and read back: the last writer owns it, so two instances both generate only when
 * their writes are further apart than the settle time while neither saw the other's.
 */
export interface LeaseOptions {
  /** Instance identity written into leases. */
  owner: string;
  /** How long a lease stays live without being released (a crashed instance's lease expires). */
  ttlMs: number;
  /** Settle time of the write-and-read-back lease on stores without conditional writes. */
  settleMs: number;
}

interface LeaseBody {
  owner: string;
  expiresAt: number;
  released?: boolean;
}

const CONTENT_TYPE = 'application/vnd.terramind-ogc.lease+json';

export class ChipLeases {
  private conditional: Promise<boolean> | undefined;
  private probes = 0;

  constructor(
    private readonly store: CacheStore,
    private readonly options: LeaseOptions,
    private readonly logger?: Logger,
  ) {}

  /** Takes the lease on `key` for this instance: true when it may generate, false while another instance holds it. */
  async acquire(key: string): Promise<boolean> {
    const leaseKey = `${key}.lease`;
    const mine = this.body(false);
    if (await this.hasConditionalWrites()) {
      if (await this.store.putIfAbsent(leaseKey, mine)) return true;
      const held = await this.read(leaseKey);
      if (held && live(held) && held.owner !== this.options.owner) return false;
      // Released or expired (its instance finished or died): take it over.
      await this.store.put(leaseKey, mine);
      return true;
    }
    const before = await this.read(leaseKey);
    if (before && live(before) && before.owner !== this.options.owner) return false;
    await this.store.put(leaseKey, mine);
    await new Promise((resolve) => setTimeout(resolve, this.options.settleMs));
    const after = await this.read(leaseKey);
    return !after || !live(after) || after.owner === this.options.owner;
  }

  /** Whether another instance holds a live lease on `key` now. */
  async heldByOther(key: string): Promise<boolean> {
    const held = await this.read(`${key}.lease`);
    return held !== undefined && live(held) && held.owner !== this.options.owner;
  }

  async release(key: string): Promise<void> {
    await this.store.put(`${key}.lease`, this.body(true));
  }

  /** Probed once per process: create the same fresh key twice; a store that lets both through ignores If-None-Match. */
  hasConditionalWrites(): Promise<boolean> {
    this.conditional ??= (async () => {
      const key = `lease-probe/${encodeURIComponent(this.options.owner)}-${(this.probes += 1)}`;
      const first = await this.store.putIfAbsent(key, this.body(true));
      const second = await this.store.putIfAbsent(key, this.body(true));
      const enforced = first && !second;
      this.logger?.info({ store: this.store.kind, conditionalWrites: enforced }, 'chip leases: store conditional-write probe');
      return enforced;
    })().catch((error: unknown) => {
      this.conditional = undefined;
      throw error;
    });
    return this.conditional;
  }

  private body(released: boolean): CachedObject {
    const lease: LeaseBody = { owner: this.options.owner, expiresAt: Date.now() + this.options.ttlMs, ...(released ? { released } : {}) };
    const body = new TextEncoder().encode(JSON.stringify(lease));
    return { body, contentType: CONTENT_TYPE, etag: `"lease-${lease.expiresAt}"` };
  }

  private async read(leaseKey: string): Promise<LeaseBody | undefined> {
    const object = await this.store.get(leaseKey);
    if (!object) return undefined;
    try {
      const lease = JSON.parse(new TextDecoder().decode(object.body)) as LeaseBody;
      return typeof lease.owner === 'string' && typeof lease.expiresAt === 'number' ? lease : undefined;
    } catch {
      return undefined;
    }
  }
}

function live(lease: LeaseBody): boolean {
  return !lease.released && lease.expiresAt > Date.now();
}
