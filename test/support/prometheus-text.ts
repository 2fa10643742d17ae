/**
 * A strict reader of the Prometheus text exposition format (0.0.4), for tests: it throws on any
 * line Prometheus would refuse, on a sample outside its declared family, on a series given twice,
 * and on a histogram whose buckets are not cumulative or disagree with its count.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface PromSample {
  /** The sample's own name: the family's, or with `_bucket`, `_sum`, `_count`. */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: PromSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES: readonly string[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

export function parsePrometheusText(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>();
  const series = new Set<string>();
  let current: PromFamily | undefined;
  const lines = text.split('\n');
  if (lines.at(-1) !== '') throw new Error('the exposition must end with a newline');
  lines.pop();
  lines.forEach((line, index) => {
    const fail = (why: string): never => {
      throw new Error(`line ${index + 1}: ${why}: ${line}`);
    };
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const meta = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!meta) return; // a plain comment
      const [, kind, name, rest = ''] = meta;
      if (!METRIC_NAME.test(name!)) fail('bad metric name');
      let family = families.get(name!);
      if (!family) {
        family = { name: name!, help: '', type: 'untyped', samples: [] };
        families.set(name!, family);
      } else if (family !== current) fail('metadata of a family after its samples ended');
      current = family;
      if (kind === 'HELP') family.help = unescapeValue(rest, false, fail);
      else {
        if (!TYPES.includes(rest)) fail('unknown type');
        if (family.samples.length > 0) fail('TYPE after samples');
        family.type = rest as MetricType;
      }
      return;
    }
    const sample = parseSample(line, fail);
    const family = current && belongsTo(sample.name, current) ? current : undefined;
    if (!family) fail('sample outside its declared family');
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (series.has(key)) fail('series given twice');
    series.add(key);
    if (family!.type === 'counter' && sample.value < 0) fail('negative counter');
    family!.samples.push(sample);
  });
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

function belongsTo(sampleName: string, family: PromFamily): boolean {
  if (sampleName === family.name) return family.type !== 'histogram';
  const suffix = sampleName.slice(family.name.length);
  if (!sampleName.startsWith(family.name)) return false;
  if (family.type === 'histogram') return suffix === '_bucket' || suffix === '_sum' || suffix === '_count';
  if (family.type === 'summary') return suffix === '_sum' || suffix === '_count';
  return false;
}

function parseSample(line: string, fail: (why: string) => never): PromSample {
  const head = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
  if (!head) fail('bad sample name');
  const name = head![1]!;
  let at = name.length;
  const labels: Record<string, string> = {};
  if (line[at] === '{') {
    at += 1;
    while (line[at] !== '}') {
      const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(at));
      if (!label || !LABEL_NAME.test(label[1]!)) fail('bad label');
      at += label![0].length;
      let raw = '';
      for (;;) {
        const c = line[at];
        if (c === undefined) fail('unterminated label value');
        if (c === '"') break;
        if (c === '\\') {
          raw += c + (line[at + 1] ?? '');
          at += 2;
          continue;
        }
        raw += c;
        at += 1;
      }
      at += 1;
      if (label![1]! in labels) fail('label given twice');
      labels[label![1]!] = unescapeValue(raw, true, fail);
      if (line[at] === ',') at += 1;
      else if (line[at] !== '}') fail('expected , or }');
    }
    at += 1;
  }
  const rest = /^ (\S+)(?: (-?\d+))?$/.exec(line.slice(at));
  if (!rest) fail('bad value');
  return { name, labels, value: parseValue(rest![1]!, fail) };
}

/** As Prometheus reads it (Go's ParseFloat): special values in any case, so prom-client's `Nan` too. */
function parseValue(text: string, fail: (why: string) => never): number {
  if (/^\+?inf(inity)?$/i.test(text)) return Number.POSITIVE_INFINITY;
  if (/^-inf(inity)?$/i.test(text)) return Number.NEGATIVE_INFINITY;
  if (/^nan$/i.test(text)) return Number.NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) fail('not a number');
  return Number(text);
}

function unescapeValue(text: string, quoted: boolean, fail: (why: string) => never): string {
  return text.replace(/\\(.)/g, (_, c: string) => {
    if (c === 'n') return '\n';
    if (c === '\\') return '\\';
    if (c === '"' && quoted) return '"';
    return fail(`bad escape \\${c}`);
  });
}

/** Buckets cumulative in `le`, ending in +Inf equal to `_count`, for every series. */
function checkHistogram(family: PromFamily): void {
  const bySeries = new Map<string, { buckets: [number, number][]; count?: number }>();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const entry = bySeries.get(key) ?? { buckets: [] };
    bySeries.set(key, entry);
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`);
      entry.buckets.push([le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), s.value]);
    } else if (s.name.endsWith('_count')) entry.count = s.value;
  }
  for (const [key, { buckets, count }] of bySeries) {
    buckets.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < buckets.length; i++) if (buckets[i]![1] < buckets[i - 1]![1]) throw new Error(`${family.name}${key}: buckets not cumulative`);
    if (buckets.at(-1)?.[0] !== Number.POSITIVE_INFINITY || buckets.at(-1)![1] !== count) throw new Error(`${family.name}${key}: +Inf bucket differs from _count`);
  }
}

/** Sum of the samples named `sampleName` whose labels include `labels` (0 when there is none). */
export function sumOf(families: Map<string, PromFamily>, family: string, sampleName: string, labels: Record<string, string> = {}): number {
  return (families.get(family)?.samples ?? [])
    .filter((s) => s.name === sampleName && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}
