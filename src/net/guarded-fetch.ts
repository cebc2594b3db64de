import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { Agent, fetch as undiciFetch } from 'undici';
import { badRequest, isOgcError, OgcError, upstreamError, upstreamTimeout } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { addressRefusal, isAllowlisted, literalAddress } from './address-policy.js';
import { fetchFileUrl } from './file-url.js';
import { currentBudget, type RequestBudget } from './request-budget.js';
import type { FetchPolicy, GuardedFetch } from './types.js';

const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Raised inside the socket's DNS lookup; recognised in the fetch error's cause chain and turned into a 400. */
class RefusedAddressError extends Error {
  override name = 'RefusedAddressError';
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * Validates every address a name resolves to before the socket connects to it, so a DNS answer cannot point
 * the service at a private address after the URL passed the literal-host check (no rebinding gap: the
 * address checked is the address connected to).
 */
function guardedLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const list = addresses as LookupAddress[];
    for (const entry of list) {
      const refusal = addressRefusal(entry.address);
      if (refusal) {
        return callback(new RefusedAddressError(`${hostname} resolves to ${refusal}`), []);
      }
    }
    if (list.length === 0) return callback(new RefusedAddressError(`${hostname} resolves to no address`), []);
    if (options.all) return callback(null, list);
    return callback(null, list[0]!.address, list[0]!.family);
  });
}

function findRefusal(error: unknown): RefusedAddressError | undefined {
  for (let current: unknown = error, depth = 0; current && depth < 8; depth += 1) {
    if (current instanceof RefusedAddressError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function causeMessage(error: unknown): string {
  let current: unknown = error;
  let message = error instanceof Error ? error.message : String(error);
  for (let depth = 0; current && depth < 8; depth += 1) {
    const cause = (current as { cause?: unknown }).cause;
    if (!cause) break;
    const code = (cause as { code?: string }).code;
    message = code ? `${code}` : cause instanceof Error ? cause.message : String(cause);
    current = cause;
  }
  return message;
}

/** URL without query or fragment: query strings may carry signatures (SAS tokens) that must not reach logs. */
export function redactUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** Why a URL may not be fetched, checked before any connection; undefined when it may go ahead. */
function urlRefusal(url: URL, policy: FetchPolicy): string | undefined {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `the scheme "${url.protocol.replace(/:$/, '')}" is not allowed (only http and https)`;
  }
  if (url.username || url.password) return 'URLs with credentials are not allowed';
  if (isAllowlisted(url, policy.allowHosts)) return undefined;
  const literal = literalAddress(url);
  // DNS names are judged on what they resolve to, at connect time (guardedLookup).
  return literal ? addressRefusal(literal) : undefined;
}

/** Counts bytes into the metrics and stops a body that grows past the policy's limit. */
function meterBody(body: ReadableStream<Uint8Array>, url: URL, maxBytes: number, metrics?: Metrics) {
  let seen = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        metrics?.upstreamBytes.inc(chunk.byteLength);
        if (seen > maxBytes) {
          controller.error(upstreamError(`${redactUrl(url)} is too large: more than ${maxBytes} bytes`));
          return;
        }
        controller.enqueue(chunk);
      },
    }),
  );
}

export function createGuardedFetch(policy: FetchPolicy, metrics?: Metrics): GuardedFetch {
  // Two pools: allowlisted hosts connect without the address check, everything else through guardedLookup.
  const guarded = new Agent({ connect: { lookup: guardedLookup } });
  const trusted = new Agent();
  const count = (outcome: string) => metrics?.upstreamRequests.inc({ outcome });

  return async function guardedFetch(input, init = {}) {
    let url: URL;
    try {
      url = new URL(input);
    } catch {
      count('refused');
      throw badRequest(`"${String(input).slice(0, 200)}" is not a valid URL`);
    }
    if (url.protocol === 'file:') {
      if (!policy.allowFileUrls) {
        count('refused');
        throw badRequest('file:// URLs are not allowed here; use an http(s) URL');
      }
      return fetchFileUrl(url, init.headers, policy.maxBytes);
    }

    // Each fetch has its own timeout, and all fetches of one request share the request's deadline.
    const budget = currentBudget();
    const timeout = AbortSignal.timeout(policy.timeoutMs);
    const signals = [timeout, ...(init.signal ? [init.signal] : []), ...(budget ? [budget.signal] : [])];
    const signal = signals.length === 1 ? timeout : AbortSignal.any(signals);
    const conditional = Object.keys(init.headers ?? {}).some((name) => /^if-(none-match|modified-since)$/i.test(name));

    for (let hop = 0; ; hop += 1) {
      const refusal = urlRefusal(url, policy);
      if (refusal) {
        count('refused');
        throw badRequest(
          hop === 0 ? `Refused to fetch ${redactUrl(url)}: ${refusal}` : `Refused redirect to ${redactUrl(url)}: ${refusal}`,
        );
      }
      let response: Awaited<ReturnType<typeof undiciFetch>>;
      try {
        response = await undiciFetch(url, {
          headers: init.headers,
          signal,
          redirect: 'manual',
          dispatcher: isAllowlisted(url, policy.allowHosts) ? trusted : guarded,
        });
      } catch (error) {
        throw classifyFailure(error, { url, hop, policy, timeout, callerSignal: init.signal, budget }, count);
      }

      if (REDIRECT_STATUSES.has(response.status)) {
        await response.body?.cancel().catch(() => undefined);
        const location = response.headers.get('location');
        if (!location) {
          count('error');
          throw upstreamError(`${redactUrl(url)} answered ${response.status} without a Location header`);
        }
        if (hop >= MAX_REDIRECTS) {
          count('error');
          throw upstreamError(`${redactUrl(url)}: more than ${MAX_REDIRECTS} redirects`);
        }
        try {
          url = new URL(location, url);
        } catch {
          count('error');
          throw upstreamError(`${redactUrl(url)} redirected to an invalid URL "${location.slice(0, 200)}"`);
        }
        continue;
      }

      const acceptable = response.ok || (response.status === 304 && conditional);
      if (!acceptable) {
        await response.body?.cancel().catch(() => undefined);
        count('http_error');
        throw upstreamError(`${redactUrl(url)} answered HTTP ${response.status} ${response.statusText}`.trim());
      }
      const length = Number(response.headers.get('content-length'));
      if (Number.isFinite(length) && length > policy.maxBytes) {
        await response.body?.cancel().catch(() => undefined);
        count('too_large');
        throw upstreamError(`${redactUrl(url)} is too large: ${length} bytes, the limit is ${policy.maxBytes}`);
      }
      count('ok');
      // 204/205/304 must not carry a body (the Response constructor throws otherwise).
      const bodyless = response.status === 204 || response.status === 205 || response.status === 304;
      if (bodyless) await response.body?.cancel().catch(() => undefined);
      const body =
        response.body && !bodyless
          ? meterBody(response.body as ReadableStream<Uint8Array>, url, policy.maxBytes, metrics)
          : null;
      const result = new Response(body, {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers as unknown as Headers,
      });
      Object.defineProperty(result, 'url', { value: url.href });
      Object.defineProperty(result, 'redirected', { value: hop > 0 });
      return result;
    }
  };
}

interface FetchAttempt {
  url: URL;
  hop: number;
  policy: FetchPolicy;
  timeout: AbortSignal;
  callerSignal: AbortSignal | undefined;
  budget: RequestBudget | undefined;
}

function classifyFailure(error: unknown, attempt: FetchAttempt, count: (outcome: string) => void): unknown {
  const { url, hop, policy, timeout, callerSignal, budget } = attempt;
  if (budget?.signal.aborted) {
    count('timeout');
    return budget.timeoutError(`waiting for ${redactUrl(url)}`);
  }
  if (isOgcError(error)) return error;
  const refused = findRefusal(error);
  if (refused) {
    count('refused');
    return badRequest(`${hop === 0 ? 'Refused to fetch' : 'Refused redirect to'} ${redactUrl(url)}: ${refused.message}`);
  }
  if (timeout.aborted) {
    count('timeout');
    return upstreamTimeout(`${redactUrl(url)} did not answer within ${policy.timeoutMs} ms`, error);
  }
  if (callerSignal?.aborted) {
    count('aborted');
    return callerSignal.reason ?? error;
  }
  count('error');
  return upstreamError(`Could not fetch ${redactUrl(url)}: ${causeMessage(error)}`, error);
}

/**
 * Reads a whole body, stopping as soon as it passes maxBytes (a 502 "too large", since the upstream sent
 * more than a source of that kind should). Timeouts while reading become 504.
 */
export async function readBody(response: Response, maxBytes: number, limitName?: string): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array(0);
  const limit = limitName ? `${limitName}=${maxBytes}` : String(maxBytes);
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body.cancel().catch(() => undefined);
    throw upstreamError(`${describe(response)} is too large: ${declared} bytes, the limit is ${limit}`);
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw upstreamError(`${describe(response)} is too large: more than ${maxBytes} bytes${limitName ? ` (${limitName})` : ''}`);
      }
      chunks.push(value);
    }
  } catch (error) {
    if (isOgcError(error)) throw error;
    const name = (error as { name?: string }).name;
    if (name === 'TimeoutError') throw upstreamTimeout(`${describe(response)}: the body did not arrive in time`, error);
    if (name === 'AbortError') throw error; // the caller cancelled: not an upstream fault
    throw upstreamError(`${describe(response)}: reading the body failed (${causeMessage(error)})`, error);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

function describe(response: Response): string {
  try {
    return response.url ? redactUrl(new URL(response.url)) : 'the upstream response';
  } catch {
    return 'the upstream response';
  }
}

/** GETs a JSON document through the guarded fetcher; a body that is not JSON is the upstream's fault (502). */
export async function fetchJson(fetch: GuardedFetch, url: string | URL, maxBytes: number): Promise<unknown> {
  const response = await fetch(url, { headers: { accept: 'application/json, application/geo+json;q=0.9, */*;q=0.1' } });
  const bytes = await readBody(response, maxBytes);
  const text = new TextDecoder('utf-8').decode(bytes);
  try {
    return JSON.parse(text);
  } catch (error) {
    const where = redactUrl(new URL(String(url)));
    throw new OgcError('upstream', `${where} did not return valid JSON (${(error as Error).message})`, { cause: error });
  }
}
