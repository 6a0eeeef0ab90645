/**
 * Structured JSON logs, one object per line on stderr. Values are numbers, booleans, or
 * `LogCode`s: short identifiers (error codes, event names, levels, the relay's own onions)
 * checked at run time. Free text never reaches a log line, so a ciphertext, a token, a key or
 * a member identity cannot end up in one by accident.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

declare const codeBrand: unique symbol;
export type LogCode = string & { readonly [codeBrand]: true };
export type LogFields = Record<string, number | boolean | LogCode>;

const CODE = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Mark a string as a loggable code; anything else is replaced by "invalid-code". */
export function code(value: string): LogCode {
  return (CODE.test(value) ? value : 'invalid-code') as LogCode;
}

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  enabled(level: LogLevel): boolean;
}

export function createLogger(level: LogLevel, write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  const threshold = LEVELS[level];
  const log = (lvl: LogLevel, event: string, fields: LogFields = {}): void => {
    if (LEVELS[lvl] < threshold) return;
    const safe: Record<string, number | boolean | string> = {};
    for (const [key, value] of Object.entries(fields)) {
      if (!CODE.test(key)) continue;
      safe[key] = typeof value === 'string' ? code(value) : value;
    }
    write(`${JSON.stringify({ ts: new Date().toISOString(), level: lvl, event: code(event), ...safe })}\n`);
  };
  return {
    debug: (e, f) => log('debug', e, f),
    info: (e, f) => log('info', e, f),
    warn: (e, f) => log('warn', e, f),
    error: (e, f) => log('error', e, f),
    enabled: (lvl) => LEVELS[lvl] >= threshold,
  };
}
