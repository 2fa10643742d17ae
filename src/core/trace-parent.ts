/**
 * The W3C `traceparent` form of a span's identity (https://www.w3.org/TR/trace-context/), kept on
 * what a change leaves behind (a status event) so whatever acts on it later can link back to the
 * trace that caused it. Always W3C, whatever propagators are configured: it is stored, not sent.
 */
export interface TraceIdentity {
  traceId: string;
  spanId: string;
  traceFlags: number;
}

const TRACE_PARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

export function formatTraceParent({ traceId, spanId, traceFlags }: TraceIdentity): string {
  return `00-${traceId}-${spanId}-${(traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** The identity a `traceparent` names, or undefined for anything malformed or all-zero. */
export function parseTraceParent(value: string | null | undefined): TraceIdentity | undefined {
  const match = value ? TRACE_PARENT.exec(value) : null;
  if (!match || match[1] === ZERO_TRACE || match[2] === ZERO_SPAN) return undefined;
  return { traceId: match[1]!, spanId: match[2]!, traceFlags: parseInt(match[3]!, 16) };
}
