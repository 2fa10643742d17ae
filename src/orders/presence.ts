import type { Logger } from 'pino';
import type { ReplicaRegistry } from '../store/store.js';
import type { Ingest } from './ingest.js';

export interface PresenceOptions {
  /** How often this replica says it lives, and looks for sends that gone replicas left in flight. */
  heartbeatMs: number;
  /**
   * A replica silent this long is gone: its creates in flight are UNCONFIRMED, its polls taken
   * over. Ten heartbeats, so a replica stalled a few seconds (a pause, a busy database) is not taken
   * for gone; replicas' clocks must agree to well within it, as NTP keeps them.
   */
  staleMs: number;
}

export const DEFAULT_PRESENCE: PresenceOptions = { heartbeatMs: 1_000, staleMs: 10_000 };

/**
 * This replica's presence among those sharing the ledger: a heartbeat, and the recovery of creates
 * left in flight by replicas that are gone (a replica killed mid-send). The two run on timers of
 * their own, so a slow recovery never delays a beat. A replica that stops says so at once, so a
 * rolling restart hands its work over without waiting.
 */
export class ReplicaPresence {
  private readonly timers: NodeJS.Timeout[] = [];
  /** Each repeated task's run in progress, if any. */
  private readonly runs: (() => Promise<void> | undefined)[] = [];

  constructor(
    private readonly store: ReplicaRegistry,
    private readonly ingest: Ingest,
    private readonly log: Logger,
    private readonly options: PresenceOptions = DEFAULT_PRESENCE,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  get replica(): string {
    return this.store.replica;
  }

  /** Replicas silent since this time are gone. */
  staleBefore(): string {
    return new Date(this.clock().getTime() - this.options.staleMs).toISOString();
  }

  /** The first beat, then the recovery of what a stop interrupted, before anything is served. */
  async start(): Promise<void> {
    await this.beat();
    await this.recover();
    this.every(() => this.beat(), 'could not record this replica as alive; the next heartbeat tries again');
    this.every(() => this.recover(), 'could not look for sends that stopped replicas left in flight; trying again');
  }

  /** Runs `work` every heartbeat, one run at a time. */
  private every(work: () => Promise<void>, failure: string): void {
    let running: Promise<void> | undefined;
    const timer = setInterval(() => {
      if (running) return;
      running = work()
        .catch((error: unknown) => this.log.warn({ err: error }, failure))
        .finally(() => {
          running = undefined;
        });
    }, this.options.heartbeatMs);
    timer.unref();
    this.timers.push(timer);
    this.runs.push(() => running);
  }

  private beat(): Promise<void> {
    return this.store.heartbeat(this.clock().toISOString());
  }

  /** This replica's own sends are never taken for a gone one's: its heartbeat is never older than one beat. */
  private async recover(): Promise<void> {
    const recovered = await this.ingest.recoverInterruptedSends(this.staleBefore());
    if (recovered > 0) this.log.warn({ recovered }, 'sends interrupted by a stopped replica are UNCONFIRMED; check them with their provider');
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    await Promise.all(this.runs.map((run) => run()));
    await this.store.leave();
  }
}
