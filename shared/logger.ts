import pino, { type Logger } from 'pino';

/**
 * One root logger for the process; components take a child with `component` set.
 * Log ids and codes only: never a value of personal data, a token or a SQL text.
 */
const level = process.env.LOG_LEVEL ?? (process.env.NODE_ENV === 'test' ? 'silent' : 'info');

/** PRIVGRAPH_LOG_FILE sends the log to a file instead of stdout (tests read it back to prove what it never holds). */
const destination = process.env.PRIVGRAPH_LOG_FILE ? pino.destination({ dest: process.env.PRIVGRAPH_LOG_FILE, sync: true }) : undefined;

export const rootLogger: Logger = pino(
  {
    level,
    base: undefined,
    redact: {
      paths: ['authorization', 'headers.authorization', 'req.headers.authorization', 'token', '*.token', 'input', '*.input'],
      censor: '[redacted]',
    },
  },
  destination,
);

export function componentLogger(component: string): Logger {
  return rootLogger.child({ component });
}

export type { Logger };
