/**
 * The only way the service fetches a URL that a user or a STAC item names. Implementations refuse
 * non-http(s) schemes and loopback / link-local / private / metadata addresses (after DNS and after every
 * redirect) unless the host is allowlisted, and bound time and size. Failures are OgcErrors:
 * 400 for a refused URL, 502 for an unreachable or failing upstream, 504 for a timeout.
 */
export type GuardedFetch = (
  url: string | URL,
  init?: { headers?: Record<string, string>; signal?: AbortSignal },
) => Promise<Response>;

export interface FetchPolicy {
  /** host or host:port entries that may be fetched although they resolve to loopback/private addresses. */
  allowHosts: string[];
  timeoutMs: number;
  maxBytes: number;
  /** file:// URLs are allowed only for operator configuration (collections file), never for user input. */
  allowFileUrls: boolean;
}
