import { isSpanContextValid, trace } from '@opentelemetry/api';
import pino, { type Logger } from 'pino';
import { LOG_REDACT_PATHS } from '../core/redact.js';

/**
 * Structured JSON logs; tokens, secrets and recipient emails are redacted by path, and a line
 * written while a span is active carries its `trace_id` and `span_id`.
 */
export function createLogger(level: string): Logger {
  return withTraceIds(
    pino({
      level,
      base: { service: 'giftgraph' },
      redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    }),
  );
}

const traced = new WeakSet<Logger>();

/**
 * `log`, with `trace_id` and `span_id` on every line written while a span is active, so a line
 * leads to its trace. A child's log formatter rather than a mixin, so it also works on a logger
 * built elsewhere (an embedder's, a test's); it replaces a log formatter of the parent, and
 * createLogger sets none. A logger that has them already is returned as it is.
 */
export function withTraceIds(log: Logger): Logger {
  if (traced.has(log)) return log;
  const child = log.child({}, { formatters: { log: addTraceIds } });
  traced.add(child);
  return child;
}

function addTraceIds(object: object): object {
  const span = trace.getActiveSpan()?.spanContext();
  if (!span || !isSpanContextValid(span)) return object;
  return { ...object, trace_id: span.traceId, span_id: span.spanId };
}
