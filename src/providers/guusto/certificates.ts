import type { GuustoApi, GuustoCertificate, GuustoFoundOrder } from './api.js';

/** Guusto takes at most 20 items per order, so one page of 20 usually holds every certificate. */
const PAGE_SIZE = 20;

/**
 * Every certificate of an order, in order, across "Find Order" pages.
 *
 * Whether `page` counts from 0 or 1 is not published (the official example uses 1). We ask for
 * page 1 first; when it does not account for every certificate we also read page 0, and treat the
 * server as 0-based if page 0 holds certificates page 1 does not. The walk is bounded by
 * `totalPages`, stops at the first empty page and deduplicates by id, so it neither loops nor skips.
 */
export async function allCertificates(api: GuustoApi, requestId: string, pageSize = PAGE_SIZE): Promise<GuustoCertificate[]> {
  const first = await api.findOrder(requestId, 1, pageSize);
  if (first.totalElements === 0) return [];
  const pages = new Map<number, GuustoCertificate[]>([[1, first.certificates]]);
  const seen = new Set(first.certificates.map((c) => String(c.id)));

  let base = 1;
  if (seen.size < first.totalElements) {
    const zero = await tryPage(api, requestId, 0, pageSize);
    if (zero?.certificates.some((c) => !seen.has(String(c.id)))) {
      base = 0;
      pages.set(0, zero.certificates);
      for (const c of zero.certificates) seen.add(String(c.id));
    }
  }
  const lastPage = base + Math.max(first.totalPages, 1) - 1;
  for (let page = 2; page <= lastPage && seen.size < first.totalElements; page++) {
    const next = await api.findOrder(requestId, page, pageSize);
    const fresh = next.certificates.filter((c) => !seen.has(String(c.id)));
    if (fresh.length === 0) break;
    pages.set(page, fresh);
    for (const c of fresh) seen.add(String(c.id));
  }

  const ordered = [...pages.entries()].sort(([a], [b]) => a - b).flatMap(([, certs]) => certs);
  const unique = new Map<string, GuustoCertificate>();
  for (const c of ordered) if (!unique.has(String(c.id))) unique.set(String(c.id), c);
  return [...unique.values()];
}

/** A 1-based server may refuse page 0 with a 400; that only tells us the base. */
async function tryPage(api: GuustoApi, requestId: string, page: number, pageSize: number): Promise<GuustoFoundOrder | undefined> {
  try {
    return await api.findOrder(requestId, page, pageSize);
  } catch (error) {
    if ((error as { kind?: string }).kind === 'rejected') return undefined;
    throw error;
  }
}
