import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * The id of the request being handled, for every log line made while handling it: the HTTP layer runs each
 * request inside `withRequestId`, and the logger's mixin adds `reqId` to whatever any module logs meanwhile
 * (domain rooms keep logging through the one logger they were given, and still get the id).
 */
const requestIds = new AsyncLocalStorage<string>();

export function withRequestId<T>(id: string, fn: () => T): T {
  return requestIds.run(id, fn);
}

export function currentRequestId(): string | undefined {
  return requestIds.getStore();
}

export function createLogger(level: string = 'info', destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: undefined,
    mixin() {
      const reqId = requestIds.getStore();
      return reqId ? { reqId } : {};
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
