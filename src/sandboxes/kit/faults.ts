/**
 * Faults a sandbox injects on matching requests, so reliability tests are real:
 * - latency: answer late (combine with a client timeout for an ambiguous create);
 * - status: answer with an error status instead of handling the request (5xx, 429 with Retry-After);
 * - drop-before: close the connection without handling the request;
 * - drop-after: handle the request (state changes), then close the connection without answering.
 */
export type Fault =
  | { kind: 'latency'; ms: number }
  | { kind: 'status'; status: number; retryAfterSeconds?: number; body?: unknown }
  | { kind: 'drop-before' }
  | { kind: 'drop-after' };

export interface FaultRule {
  method?: string;
  /** Matches the request path (without query): exact string or pattern. */
  path?: string | RegExp;
  /** How many matching requests it applies to; Infinity for all. */
  times?: number;
  fault: Fault;
}

export class FaultPlan {
  private rules: (FaultRule & { left: number })[] = [];

  add(rule: FaultRule): this {
    this.rules.push({ ...rule, left: rule.times ?? 1 });
    return this;
  }

  clear(): void {
    this.rules = [];
  }

  /**
   * The fault for this request: the first rule added that matches it, which uses up one of its times.
   * Rules added one after another so apply to successive requests ("drop this one, then 429 the next").
   */
  take(method: string, path: string): Fault[] {
    const rule = this.rules.find(
      (r) => r.left > 0 && (!r.method || r.method === method) && (r.path === undefined || (typeof r.path === 'string' ? r.path === path : r.path.test(path))),
    );
    if (!rule) return [];
    rule.left -= 1;
    this.rules = this.rules.filter((r) => r.left > 0);
    return [rule.fault];
  }
}
