/**
 * Wall-clock time in an IANA zone, as providers that schedule "at 09:00 in America/New_York" want
 * it (`2024-03-01T09:00:00`, no offset), and back to an instant.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** The local wall-clock time of an instant in a zone, as `YYYY-MM-DDTHH:mm:ss`. */
export function toZonedLocal(instant: Date, zone: string): string {
  const parts = Object.fromEntries(
    formatter(zone)
      .formatToParts(instant)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}`;
}

const LOCAL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;

/**
 * The instant at which a zone's clocks show `local`. Undefined for text that is not a local
 * date-time. A time skipped by a DST change maps to an instant an hour away from it, and a time
 * that happens twice maps to one of its two instants.
 */
export function fromZonedLocal(local: string, zone: string): Date | undefined {
  const m = LOCAL.exec(local);
  if (!m) return undefined;
  const asUtc = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0));
  // Guess with the zone's offset at that moment, then correct once for an offset change in between.
  let guess = asUtc - offsetMs(new Date(asUtc), zone);
  guess = asUtc - offsetMs(new Date(guess), zone);
  return new Date(guess);
}

/**
 * Whether the wall-clock time of `instant` in `zone` happens twice (clocks going back), so that a
 * scheduler given only the local time cannot know which of the two instants was meant.
 */
export function isRepeatedLocalTime(instant: Date, zone: string): boolean {
  const local = toZonedLocal(instant, zone);
  return [30, 60].some((minutes) => [-1, 1].some((sign) => toZonedLocal(new Date(instant.getTime() + sign * minutes * 60_000), zone) === local));
}

function offsetMs(instant: Date, zone: string): number {
  const local = toZonedLocal(instant, zone);
  const m = LOCAL.exec(local)!;
  const asUtc = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return asUtc - Math.floor(instant.getTime() / 1000) * 1000;
}

/** Whether the runtime knows `zone` as an IANA time zone (a name such as America/New_York, or a link such as US/Eastern). */
export function isTimeZone(zone: string): boolean {
  if (zone === '') return false;
  try {
    formatter(zone);
    return true;
  } catch {
    return false;
  }
}
