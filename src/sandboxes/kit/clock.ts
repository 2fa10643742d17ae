/** Time as a sandbox sees it. Tests move it by hand; `npm start` uses the wall clock. */
export interface SandboxClock {
  now(): number;
  /**
   * Calls `listener` whenever time moves: after each manual advance, or every `intervalMs` of wall
   * time. Sandboxes use it to notice lifecycle steps and send their webhooks. Returns an unsubscriber.
   */
  onTick(listener: () => void, intervalMs?: number): () => void;
}

export const systemClock: SandboxClock = {
  now: () => Date.now(),
  onTick(listener, intervalMs = 250) {
    const timer = setInterval(listener, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  },
};

/** A clock that only moves when told, so a test can walk an order through its lifecycle without sleeping. */
export class ManualClock implements SandboxClock {
  private readonly listeners = new Set<() => void>();

  constructor(private current = Date.parse('2026-01-01T00:00:00Z')) {}

  now(): number {
    return this.current;
  }

  advance(ms: number): void {
    if (ms < 0) throw new RangeError('a clock does not go backwards');
    this.current += ms;
    for (const listener of this.listeners) listener();
  }

  onTick(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
