/** How long a provider's catalog is kept before it is read again. */
export const CATALOG_TTL_MS = 5 * 60_000;

/**
 * A value read from a provider and kept for a while: concurrent callers share one read, a failed
 * read is not kept, and the last value read in full stays at hand for when the provider cannot be asked.
 */
export class Cached<T> {
  private current: { at: number; value: Promise<T> } | undefined;
  /** The last value read in full, however old. */
  last: T | undefined;

  constructor(
    private readonly read: () => Promise<T>,
    private readonly ttlMs = CATALOG_TTL_MS,
  ) {}

  get(): Promise<T> {
    if (this.current && Date.now() - this.current.at < this.ttlMs) return this.current.value;
    const value = this.read().then((read) => (this.last = read));
    this.current = { at: Date.now(), value };
    value.catch(() => {
      if (this.current?.value === value) this.current = undefined;
    });
    return value;
  }
}
