/**
 * @module logger
 *
 * The library logs through an injected {@link Logger} with pino's method shape, so a node can pass
 * its pino (or any compatible) logger as is. The default is {@link silentLogger}.
 */

/** A log method: an object of fields first, then a message, like pino. */
export type LogFn = (fields: Record<string, unknown>, message: string) => void;

/** A pino-compatible logger. */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

const noop: LogFn = () => {};

/** A logger that drops everything: the default. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };
