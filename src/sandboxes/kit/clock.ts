/** Time as a sandbox sees it. Tests move it by hand; `npm start` uses the wall clock. */
export interface SandboxClock {
  now(): number;
}

export const systemClock: SandboxClock = { now: () => Date.now() };

/** A clock that only moves when told, so a test can walk an order through its lifecycle without sleeping. */
export class ManualClock implements SandboxClock {
  constructor(private current = Date.parse('2026-01-01T00:00:00Z')) {}

  now(): number {
    return this.current;
  }

  advance(ms: number): void {
    if (ms < 0) throw new RangeError('a clock does not go backwards');
    this.current += ms;
  }
}
