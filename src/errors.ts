/**
 * Errors as values with a type. Any domain room throws an OgcError; the HTTP layer turns it into the
 * OGC exception JSON (type, title, status, detail) exactly once, at the edge.
 */
const EXCEPTION_BASE = 'http://www.opengis.net/def/exceptions/ogcapi-common-1/1.0';

export type OgcErrorKind =
  | 'bad-request'
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'not-acceptable'
  | 'gone'
  | 'payload-too-large'
  | 'upstream'
  | 'upstream-timeout'
  | 'unavailable'
  | 'internal'
  | 'request-timeout'
  | 'header-too-large';

const STATUS: Record<OgcErrorKind, number> = {
  'bad-request': 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  'not-acceptable': 406,
  gone: 410,
  'payload-too-large': 413,
  upstream: 502,
  'upstream-timeout': 504,
  unavailable: 503,
  internal: 500,
  'request-timeout': 408,
  'header-too-large': 431,
};

const TITLE: Record<OgcErrorKind, string> = {
  'bad-request': 'Bad request',
  unauthorized: 'Unauthorized',
  forbidden: 'Forbidden',
  'not-found': 'Not found',
  'not-acceptable': 'Not acceptable',
  gone: 'Gone',
  'payload-too-large': 'Payload too large',
  upstream: 'Upstream failure',
  'upstream-timeout': 'Upstream timeout',
  unavailable: 'Service unavailable',
  internal: 'Internal server error',
  'request-timeout': 'Request timeout',
  'header-too-large': 'Request header fields too large',
};

export class OgcError extends Error {
  readonly status: number;
  readonly type: string;
  readonly title: string;
  /** Response headers the error needs (e.g. Retry-After on a 503). */
  readonly headers: Record<string, string>;

  constructor(
    readonly kind: OgcErrorKind,
    readonly detail: string,
    options: { type?: string; title?: string; cause?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(detail, { cause: options.cause });
    this.headers = options.headers ?? {};
    this.name = 'OgcError';
    this.status = STATUS[kind];
    this.title = options.title ?? TITLE[kind];
    this.type = options.type ?? `${EXCEPTION_BASE}/${kind}`;
  }

  toJSON(): { type: string; title: string; status: number; detail: string } {
    return { type: this.type, title: this.title, status: this.status, detail: this.detail };
  }
}

export const badRequest = (detail: string, cause?: unknown) => new OgcError('bad-request', detail, { cause });
export const notFound = (detail: string) => new OgcError('not-found', detail);
export const upstreamError = (detail: string, cause?: unknown) => new OgcError('upstream', detail, { cause });
export const upstreamTimeout = (detail: string, cause?: unknown) => new OgcError('upstream-timeout', detail, { cause });

export function isOgcError(error: unknown): error is OgcError {
  return error instanceof OgcError;
}
