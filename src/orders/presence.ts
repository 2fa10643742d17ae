import type { Logger } from 'pino';
import type { ReplicaRegistry } from '../store/store.js';
import type { Ingest } from './ingest.js';

export interface PresenceOptions {
  /** How often this replica says it lives, and looks for sends that gone replicas left in flight. */
  heartbeatMs: number;
  /** A replica silent this long is gone: its creates in flight are UNCONFIRMED, its polls taken over. */
  staleMs: number;
}

export const DEFAULT_PRESENCE: PresenceOptions = { heartbeatMs: 1_000, staleMs: 5_000 };

/**
 * This replica's presence among those sharing the ledger: a heartbeat, and with each beat the
 * recovery of creates left in flight by replicas that are gone (a replica killed mid-send). A
 * replica that stops says so at once, so a rolling restart hands its work over without waiting.
 */
export class ReplicaPresence {
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;

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

  /** The first beat, with the recovery of what a stop interrupted, before anything is served. */
  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => {
      if (this.beating) return;
      this.beating = this.beat()
        .catch((error: unknown) => this.log.warn({ err: error }, 'could not record this replica as alive; the next heartbeat tries again'))
        .finally(() => {
          this.beating = undefined;
        });
    }, this.options.heartbeatMs);
    this.timer.unref();
  }

  /** Beats first, so the recovery that follows never takes this replica's own sends for a gone one's. */
  private async beat(): Promise<void> {
    await this.store.heartbeat(this.clock().toISOString());
    const recovered = await this.ingest.recoverInterruptedSends(this.staleBefore());
    if (recovered > 0) this.log.warn({ recovered }, 'sends interrupted by a stopped replica are UNCONFIRMED; check them with their provider');
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.beating;
    await this.store.leave();
  }
}
