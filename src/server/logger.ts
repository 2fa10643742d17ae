import pino, { type Logger } from 'pino';
import { LOG_REDACT_PATHS } from '../core/redact.js';

/** Structured JSON logs; tokens, secrets and recipient emails are redacted by path. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'giftgraph' },
    redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
