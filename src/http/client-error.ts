import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { OgcError } from '../errors.js';

/**
 * Requests Node's HTTP parser rejects before any handler runs (a bad method, NUL or control bytes in the
 * request line or a header, oversized headers, a malformed Content-Length or chunk) get the same OGC
 * exception JSON as every other error, instead of Node's bare text. Node lets us answer only while nothing
 * has been sent on the socket; otherwise, and when the client is gone, the socket is just closed.
 * Both src/server.ts and the test harness install this one handler.
 */
export function installClientErrorHandler(server: { on(event: 'clientError', listener: (error: ParserError, socket: Duplex) => void): unknown }): void {
  server.on('clientError', (error, socket) => {
    const answered = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
    if (error.code === 'ECONNRESET' || !socket.writable || answered) {
      socket.destroy();
      return;
    }
    const ogc = describe(error);
    const body = JSON.stringify(ogc.toJSON());
    socket.end(
      `HTTP/1.1 ${ogc.status} ${STATUS_CODES[ogc.status] ?? ''}\r\n` +
        'content-type: application/json\r\n' +
        `content-length: ${Buffer.byteLength(body)}\r\n` +
        'cache-control: no-store\r\n' +
        'connection: close\r\n\r\n' +
        body,
    );
  });
}

interface ParserError extends Error {
  code?: string;
  /** llhttp's explanation, e.g. "Invalid method encountered". */
  reason?: string;
}

function describe(error: ParserError): OgcError {
  const code = error.code ?? 'unknown';
  const reason = error.reason ?? error.message;
  if (code === 'HPE_HEADER_OVERFLOW') {
    return new OgcError('header-too-large', `The request's headers are larger than this server accepts (${code}); send fewer or shorter headers`);
  }
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return new OgcError('request-timeout', 'The request did not arrive completely in time; send it again');
  }
  return new OgcError('bad-request', `The HTTP request is malformed and was not processed (${code}: ${reason})`);
}
