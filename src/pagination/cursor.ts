import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { badInput } from '../core/errors.js';

const VERSION = 'c2';
/** Truncated HMAC-SHA256: 128 bits is far beyond guessing, and keeps cursors short. */
const MAC_BYTES = 16;
const NOT_OURS = 'is not a cursor this server issued';
/** Well beyond the cursors this server issues: a longer one is refused before any MAC is computed. */
export const MAX_CURSOR_LENGTH = 4_096;

/** Where a cursor may be used: one list (with its own arguments) of one tenant. */
export interface CursorScope {
  /** Names the list: `orders`, `recipients:<orderId>`, `catalog:GOODY`, `events`. */
  list: string;
  /** The arguments that shape the list (its filter); a cursor is valid only with the same ones. */
  filter?: unknown;
}

/**
 * Opaque cursors: `c2.<base64url JSON>.<base64url MAC>`. The JSON names the list, a hash of its
 * filter and the position (a page number, a provider's own cursor, a ledger key); the MAC covers it
 * and the tenant, so a client can neither forge a position nor replay another tenant's cursor. A
 * cursor of an unknown version, a tampered one, or one used with other filters is a BAD_USER_INPUT.
 */
export class CursorCodec {
  private readonly key: Buffer;
  /** MACs computed lately, by tenant and payload: a page's cursors repeat from one read to the next. */
  private readonly macs = new BoundedMemo<string, string>(MAC_MEMO_SIZE);

  constructor(key: Uint8Array) {
    if (key.byteLength < 32) throw new Error('the cursor key needs at least 32 bytes');
    this.key = Buffer.from(key);
  }

  /** The key derived from another secret (the JWT signing key), so there is one secret less to manage. */
  static derivedFrom(secret: Uint8Array): CursorCodec {
    return new CursorCodec(createHmac('sha256', secret).update('giftgraph cursor signing key v1').digest());
  }

  /** Cursors of one tenant. */
  forTenant(tenant: string): TenantCursors {
    return new TenantCursors(this.key, tenant, this.macs);
  }
}

/** How many cursor MACs are remembered: a few MB, enough for every cursor of many hot pages. */
const MAC_MEMO_SIZE = 20_000;

/** A map that forgets its oldest entries beyond a size. */
class BoundedMemo<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly size: number) {}

  get(key: K, compute: () => V): V {
    let value = this.entries.get(key);
    if (value === undefined) {
      value = compute();
      if (this.entries.size >= this.size) this.entries.delete(this.entries.keys().next().value as K);
      this.entries.set(key, value);
    }
    return value;
  }
}

export class TenantCursors {
  constructor(
    private readonly key: Buffer,
    private readonly tenant: string,
    private readonly macs: BoundedMemo<string, string> = new BoundedMemo(0),
  ) {}

  encode(scope: CursorScope, position: unknown): string {
    const payload = Buffer.from(JSON.stringify({ l: scope.list, f: filterHash(scope.filter), p: position }), 'utf8').toString('base64url');
    // Signing is most of a cursor's cost, and the same cursors are issued again and again.
    const mac = this.macs.get(`${this.tenant}\0${payload}`, () => this.mac(payload).toString('base64url'));
    return `${VERSION}.${payload}.${mac}`;
  }

  /** The position a cursor holds, after checking it is this server's, this tenant's, for this list and filter. */
  decode<T>(scope: CursorScope, cursor: string, field: string, isValid: (value: unknown) => value is T): T {
    if (cursor.length > MAX_CURSOR_LENGTH) throw badInput(field, `must be at most ${MAX_CURSOR_LENGTH} characters`);
    const parts = cursor.split('.');
    if (parts.length !== 3) throw badInput(field, NOT_OURS);
    const [version, payload, mac] = parts as [string, string, string];
    if (version !== VERSION) {
      throw badInput(field, /^c\d+$/.test(version) ? 'is from an older version of this server: start again without it' : NOT_OURS);
    }
    const expected = this.mac(payload);
    const given = Buffer.from(mac, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw badInput(field, NOT_OURS);
    const body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { l?: unknown; f?: unknown; p?: unknown };
    if (body.l !== scope.list) throw badInput(field, 'is a cursor of another list');
    if (body.f !== filterHash(scope.filter)) throw badInput(field, 'was issued with other filter arguments: use the same filter, or start again without it');
    if (!isValid(body.p)) throw badInput(field, 'is not a cursor for this list');
    return body.p;
  }

  /** The cursor of a position in the event log, as subscription events carry it. */
  event(seq: number): string {
    return this.encode(EVENTS, { e: seq });
  }

  /** The event log position of an event cursor. */
  eventSeq(cursor: string, field: string): number {
    return this.decode(EVENTS, cursor, field, isEventPosition).e;
  }

  private mac(payload: string): Buffer {
    return createHmac('sha256', this.key).update(`${VERSION}\0${this.tenant}\0${payload}`).digest().subarray(0, MAC_BYTES);
  }
}

const EVENTS: CursorScope = { list: 'events' };

const isEventPosition = (v: unknown): v is { e: number } => typeof v === 'object' && v !== null && Number.isInteger((v as { e: number }).e) && (v as { e: number }).e >= 0;

/** A short hash of a filter in canonical form (sorted keys, no undefined), so equal filters hash equal. */
export function filterHash(filter: unknown): string {
  if (filter === null || filter === undefined) return NO_FILTER;
  return hashCanonical(canonicalJson(filter));
}

const hashCanonical = (canonical: string): string => createHash('sha256').update(canonical).digest().subarray(0, 9).toString('base64url');
/** Most lists have no filter (an order's recipients): their hash is computed once. */
const NO_FILTER = hashCanonical('null');

function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined && v !== null)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
