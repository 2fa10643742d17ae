import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { GiftgraphMetrics } from '../src/server/metrics.js';
import { OrderDocument, SendGiftsDocument } from './generated/graphql.js';
import { errorCode, Harness } from './support/harness.js';
import { parsePrometheusText, type PromFamily, type PromSample } from './support/prometheus-text.js';

/**
 * The Grafana dashboard and the Prometheus alert rules in ops/ name giftgraph's metrics and labels
 * in PromQL. Every one of them must be served on /metrics by the app as it runs, so renaming a
 * metric or a label without the dashboard and the rules fails here.
 */

const DASHBOARD = new URL('../ops/grafana/giftgraph.json', import.meta.url);
const ALERTS = new URL('../ops/prometheus/alerts.yml', import.meta.url);
const README = new URL('../README.md', import.meta.url);

const FAST_POLLING = { tickMs: 20, firstDelayMs: 50, maxDelayMs: 200, webhookDelayMs: 60_000, concurrency: 4, perSecond: 100, syncMs: 60_000 };

/**
 * Families a short run cannot make speak: a subscriber is cut off for lag only after its client
 * left 1 MiB unread or 10,000 events waited for it. Their labels are read from GiftgraphMetrics
 * itself, recording into an instance of its own.
 */
const QUIET: Record<string, (metrics: GiftgraphMetrics) => void> = {
  giftgraph_subscribers_lagged_total: (metrics) => {
    metrics.unreadSubscriber();
    metrics.live.lagged();
  },
};

// ---------------------------------------------------------------------------------------------
// A reader of the PromQL the files use: which metrics each expression selects, and which label
// names it relies on, each with the metrics it must exist on.

const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio']);
const LABEL_LISTS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['bool', 'and', 'or', 'unless', 'offset', 'atan2', 'inf', 'nan', ...LABEL_LISTS]);

interface Token {
  kind: 'ident' | 'string' | 'punct' | 'number' | 'other';
  text: string;
}

interface LabelUse {
  label: string;
  /** The sample names the label must be found on; `any` when one of them will do (vector matching). */
  on: string[];
  any: boolean;
  where: string;
}

interface PromqlRefs {
  /** Sample names selected, as written (`…_bucket` included). */
  metrics: string[];
  labels: LabelUse[];
  /** Labels named in `by (…)`: what an aggregated result still carries. */
  grouped: Set<string>;
  aggregated: boolean;
}

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  while (at < expr.length) {
    const rest = expr.slice(at);
    const space = /^(\s+|#[^\n]*)/.exec(rest);
    if (space) {
      at += space[0].length;
      continue;
    }
    const string = /^("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)/.exec(rest);
    if (string) {
      tokens.push({ kind: 'string', text: string[0] });
      at += string[0].length;
      continue;
    }
    if (rest[0] === '[') {
      // A range or a subquery: durations and Grafana's $__rate_interval, never a metric.
      const end = expr.indexOf(']', at);
      if (end === -1) throw new Error(`unterminated range in ${expr}`);
      at = end + 1;
      continue;
    }
    const variable = /^\$(\{[^}]*\}|\w+)/.exec(rest);
    if (variable) throw new Error(`a Grafana variable outside a label value or a range: ${variable[0]} in ${expr}`);
    const ident = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(rest);
    if (ident) {
      tokens.push({ kind: 'ident', text: ident[0] });
      at += ident[0].length;
      continue;
    }
    const duration = /^(\d+(ms|[smhdwy]))+(?![a-zA-Z0-9_:])/.exec(rest);
    if (duration) {
      tokens.push({ kind: 'other', text: duration[0] });
      at += duration[0].length;
      continue;
    }
    const number = /^(0x[0-9a-fA-F]+|\d+(\.\d*)?([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?)/.exec(rest);
    if (number) {
      tokens.push({ kind: 'number', text: number[0] });
      at += number[0].length;
      continue;
    }
    const punct = /^[(){},]/.exec(rest);
    if (punct) {
      tokens.push({ kind: 'punct', text: punct[0] });
      at += 1;
      continue;
    }
    const operator = /^(==|!=|>=|<=|=~|!~|[-+*/%^<>=])/.exec(rest);
    if (!operator) throw new Error(`unexpected ${JSON.stringify(rest[0])} in ${expr}`);
    tokens.push({ kind: 'other', text: operator[0] });
    at += operator[0].length;
  }
  return tokens;
}

/** The index of the `)` or `}` closing the bracket at `open`. */
function closing(tokens: Token[], open: number): number {
  const pair = tokens[open]!.text === '(' ? ['(', ')'] : ['{', '}'];
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    if (tokens[i]!.kind !== 'punct') continue;
    if (tokens[i]!.text === pair[0]) depth++;
    if (tokens[i]!.text === pair[1] && --depth === 0) return i;
  }
  throw new Error(`unbalanced ${pair[0]}`);
}

/** The label names of a `(a, b)` list starting at `open`, and the index after it. */
function labelList(tokens: Token[], open: number, expr: string): [string[], number] {
  if (tokens[open]?.text !== '(') throw new Error(`a label list must follow ${tokens[open - 1]?.text} in ${expr}`);
  const end = closing(tokens, open);
  const labels = tokens.slice(open + 1, end).filter((t) => t.text !== ',');
  for (const t of labels) if (t.kind !== 'ident') throw new Error(`not a label name: ${t.text} in ${expr}`);
  return [labels.map((t) => t.text), end + 1];
}

function readPromql(expr: string): PromqlRefs {
  const tokens = tokenize(expr);
  // First, which tokens are metric names, and the matchers that follow them.
  const metricAt = new Map<number, string>();
  const labels: LabelUse[] = [];
  const skip = new Set<number>();
  tokens.forEach((t, i) => {
    if (skip.has(i) || t.kind !== 'ident') return;
    const next = tokens[i + 1];
    if (LABEL_LISTS.has(t.text)) {
      if (next?.text === '(') {
        const end = closing(tokens, i + 1);
        for (let j = i + 1; j <= end; j++) skip.add(j);
      }
      return;
    }
    if (KEYWORDS.has(t.text) || next?.text === '(') return; // a keyword, a function or an aggregation
    if (AGGREGATIONS.has(t.text) && (next?.text === 'by' || next?.text === 'without')) return;
    metricAt.set(i, t.text);
    if (next?.text === '{') {
      const end = closing(tokens, i + 1);
      for (let j = i + 1; j <= end; j++) skip.add(j);
      const inside = tokens.slice(i + 2, end);
      for (let j = 0; j < inside.length; j += 4) {
        const [name, op, value, comma] = inside.slice(j, j + 4);
        if (name?.kind !== 'ident' || !['=', '!=', '=~', '!~'].includes(op?.text ?? '') || value?.kind !== 'string' || (comma && comma.text !== ','))
          throw new Error(`a matcher that is not label="value": ${expr}`);
        if (name.text === '__name__') throw new Error(`name the metric, not __name__: ${expr}`);
        labels.push({ label: name.text, on: [t.text], any: false, where: `{${name.text}…}` });
      }
    }
  });
  tokens.forEach((t, i) => {
    if (t.text === '{' && t.kind === 'punct' && !skip.has(i)) throw new Error(`a selector without a metric name: ${expr}`);
  });
  const metricsIn = (from: number, to: number) => [...metricAt].filter(([i]) => i > from && i < to).map(([, name]) => name);

  // Then the label lists: `by`/`without` on the metrics the aggregation reads, `on`/`ignoring`/`group_*` on either side.
  const grouped = new Set<string>();
  let aggregated = false;
  tokens.forEach((t, i) => {
    if (t.kind !== 'ident' || !AGGREGATIONS.has(t.text) || metricAt.has(i)) return;
    const next = tokens[i + 1]?.text;
    if (next !== '(' && next !== 'by' && next !== 'without') return;
    aggregated = true;
    let at = i + 1;
    let clause: [string, string[]] | undefined;
    if (next === 'by' || next === 'without') {
      const [list, after] = labelList(tokens, i + 2, expr);
      clause = [next, list];
      at = after;
    }
    if (tokens[at]?.text !== '(') throw new Error(`${t.text} without its argument in ${expr}`);
    const end = closing(tokens, at);
    const argument = metricsIn(at, end);
    const after = tokens[end + 1]?.text;
    if (!clause && (after === 'by' || after === 'without')) clause = [after, labelList(tokens, end + 2, expr)[0]];
    if (!clause) return;
    for (const label of clause[1]) {
      labels.push({ label, on: argument, any: false, where: `${t.text} ${clause[0]} (${clause[1].join(', ')})` });
      if (clause[0] === 'by') grouped.add(label);
    }
  });
  tokens.forEach((t, i) => {
    if (t.kind !== 'ident' || !['on', 'ignoring', 'group_left', 'group_right'].includes(t.text) || tokens[i + 1]?.text !== '(') return;
    for (const label of labelList(tokens, i + 1, expr)[0]) labels.push({ label, on: [...metricAt.values()], any: true, where: `${t.text} (…)` });
  });
  return { metrics: [...new Set(metricAt.values())], labels, grouped, aggregated };
}

/** The labels a result can carry, for legends and annotations: those grouped by, or without aggregation, any of the metrics'. */
function resultLabels(refs: PromqlRefs, labelsOf: (metric: string) => Set<string>): Set<string> {
  if (refs.aggregated) return refs.grouped;
  return new Set(refs.metrics.flatMap((m) => [...labelsOf(m)]));
}

// ---------------------------------------------------------------------------------------------
// What the files say.

interface Query {
  where: string;
  expr: string;
  /** `{{label}}` in a legend, `$labels.label` in an annotation. */
  shows: string[];
}

interface Panel {
  id?: number;
  type: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  targets?: { expr?: string; legendFormat?: string; refId?: string; datasource?: { type?: string; uid?: string } }[];
  panels?: Panel[];
  gridPos?: { h: number; w: number; x: number; y: number };
  fieldConfig?: { defaults?: { thresholds?: { steps?: { color: string; value: number | null }[] } } };
}

interface TemplateVariable {
  name: string;
  type: string;
  query?: string | { query?: string };
  definition?: string;
  datasource?: { type?: string; uid?: string };
}

interface Dashboard {
  __inputs?: { name: string; type: string; pluginId: string }[];
  schemaVersion: number;
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: TemplateVariable[] };
}

interface AlertRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as Dashboard;
const alertGroups = (parseYaml(fs.readFileSync(ALERTS, 'utf8')) as { groups: { name: string; rules: AlertRule[] }[] }).groups;
const rules = alertGroups.flatMap((g) => g.rules);

const allPanels = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
const panels = allPanels(dashboard.panels);

const legendLabels = (legend = '') => [...legend.matchAll(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g)].map((m) => m[1]!);
const annotationLabels = (text = '') => [...text.matchAll(/\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)/g)].map((m) => m[1]!);

const dashboardQueries: Query[] = panels.flatMap((p) =>
  (p.targets ?? []).flatMap((t) => (t.expr ? [{ where: `panel "${p.title}" ${t.refId}`, expr: t.expr, shows: legendLabels(t.legendFormat) }] : [])),
);
const alertQueries: Query[] = rules.map((r) => ({
  where: `alert ${r.alert ?? r.record}`,
  expr: r.expr,
  shows: Object.values(r.annotations ?? {}).flatMap(annotationLabels),
}));

/** `label_values(metric, label)` of each query variable, as a metric and a label it must have. */
const variableQueries = dashboard.templating.list
  .filter((v) => v.type === 'query')
  .map((v) => {
    const text = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
    const m = /^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$/.exec(text.trim());
    return { name: v.name, text, metric: m?.[1], label: m?.[2] };
  });

// ---------------------------------------------------------------------------------------------
// What giftgraph serves.

class Exposition {
  constructor(
    readonly families: Map<string, PromFamily>,
    private readonly quiet: Map<string, PromFamily>,
  ) {}

  /** The family a sample name belongs to: a counter's or gauge's own name, a histogram's with `_bucket`, `_sum` or `_count`. */
  familyOf(sample: string): PromFamily | undefined {
    const own = this.families.get(sample);
    if (own && own.type !== 'histogram') return own;
    const m = /^(.*)_(bucket|sum|count)$/.exec(sample);
    const base = m ? this.families.get(m[1]!) : undefined;
    if (base?.type === 'histogram') return base;
    if (base?.type === 'summary' && m![2] !== 'bucket') return base;
    return undefined;
  }

  samples(sample: string): PromSample[] {
    const family = this.familyOf(sample);
    if (!family) return [];
    const from = this.quiet.get(family.name) ?? family;
    return from.samples.filter((s) => s.name === sample);
  }

  labelsOf(sample: string): Set<string> {
    return new Set(this.samples(sample).flatMap((s) => Object.keys(s.labels)));
  }
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

// ---------------------------------------------------------------------------------------------

describe('the PromQL reader', () => {
  it('finds metrics, matchers and the labels each aggregation groups by', () => {
    const refs = readPromql(
      'histogram_quantile(0.95, sum by (le, provider) (rate(a_seconds_bucket{provider=~"$provider", outcome!="ok"}[$__rate_interval])))\n' +
        '  / on (provider) group_left sum(rate(b_total[5m] offset 1h)) by (provider) > bool 0.5',
    );
    expect(refs.metrics).toEqual(['a_seconds_bucket', 'b_total']);
    const uses = refs.labels.map((l) => `${l.label}@${l.on.join('+')}${l.any ? '?' : ''}`);
    expect(uses.sort()).toEqual(
      [
        'provider@a_seconds_bucket',
        'outcome@a_seconds_bucket',
        'le@a_seconds_bucket',
        'provider@a_seconds_bucket',
        'provider@b_total',
        'provider@a_seconds_bucket+b_total?',
      ].sort(),
    );
    expect([...refs.grouped].sort()).toEqual(['le', 'provider']);
    expect(readPromql('time() - x_seconds{status="UNCONFIRMED"} > 3600')).toMatchObject({ metrics: ['x_seconds'], aggregated: false });
  });

  it('refuses what it cannot check', () => {
    expect(() => readPromql('{__name__="x"}')).toThrow(/without a metric name/);
    expect(() => readPromql('x{__name__="y"}')).toThrow(/__name__/);
    expect(() => readPromql('sum by ($label) (x)')).toThrow(/Grafana variable/);
  });
});

describe('the Grafana dashboard and the Prometheus alert rules', () => {
  let h: Harness;
  let served: Exposition;

  beforeAll(async () => {
    h = await Harness.start({ webhooks: true, polling: FAST_POLLING });
    // A little traffic, so the labelled series exist: a send (an operation, a provider call, an
    // event, a ledger row, then polls), a failed query (an error code), a refused webhook.
    const sent = await h.gql(SendGiftsDocument, {
      input: {
        provider: 'GUUSTO',
        idempotencyKey: 'observability-files',
        message: 'Thank you!',
        amount: { amount: '25', currency: 'CAD' },
        recipients: [{ email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace' }],
      },
    });
    expect(sent.errors).toBeUndefined();
    expect(errorCode(await h.gql(OrderDocument, { id: 'not-an-order-id' }))).toBe('BAD_USER_INPUT');
    const hook = await fetch(`${h.url}/webhooks/goody`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"event":"order.updated"}' });
    expect(hook.status).toBeGreaterThanOrEqual(400);
    await vi.waitFor(async () => expect(parsePrometheusText(await scrape(h.url)).get('giftgraph_polls_total')?.samples.length, 'no poll was counted').toBeGreaterThan(0), {
      timeout: 5_000,
    });
    await h.app.tail.flush();
    const families = parsePrometheusText(await scrape(h.url));

    const side = new GiftgraphMetrics({ store: h.store, watching: () => 0, waiting: () => new Map() });
    for (const record of Object.values(QUIET)) record(side);
    const sideFamilies = parsePrometheusText((await side.render()).text);
    const quiet = new Map(Object.keys(QUIET).map((name) => [name, sideFamilies.get(name)!]));
    served = new Exposition(families, quiet);
  });
  afterAll(() => h?.close());

  /** Every metric and label of one query, against the scrape. */
  function check(query: Query): string[] {
    const problems: string[] = [];
    let refs: PromqlRefs;
    try {
      refs = readPromql(query.expr);
    } catch (error) {
      return [`${query.where}: ${(error as Error).message}`];
    }
    if (refs.metrics.length === 0) problems.push(`${query.where}: names no metric`);
    for (const metric of refs.metrics) {
      const family = served.familyOf(metric);
      if (!family) {
        problems.push(`${query.where}: ${metric} is not served on /metrics`);
        continue;
      }
      if (served.samples(metric).length === 0) problems.push(`${query.where}: ${metric} has no series after the traffic`);
      if (metric.endsWith('_bucket') && !refs.labels.some((l) => l.label === 'le' && l.on.includes(metric) && l.where.includes(' by ')))
        problems.push(`${query.where}: ${metric} is read without grouping by le`);
    }
    for (const use of refs.labels) {
      const known = use.on.filter((m) => served.familyOf(m));
      if (known.length === 0) continue; // reported above
      const has = known.map((m) => served.labelsOf(m).has(use.label));
      if (use.any ? !has.some(Boolean) : !has.every(Boolean)) problems.push(`${query.where}: ${use.where}: ${use.label} is not a label of ${known.join(', ')}`);
    }
    const result = resultLabels(refs, (m) => served.labelsOf(m));
    for (const label of query.shows) if (!result.has(label)) problems.push(`${query.where}: shows ${label}, which its result does not carry`);
    return problems;
  }

  it('is a Grafana dashboard on a Prometheus data source chosen at import, with a provider variable', () => {
    expect(dashboard.schemaVersion).toBe(39);
    expect(dashboard.uid).toBe('giftgraph');
    expect(dashboard.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' })]);
    const datasource = dashboard.templating.list.find((v) => v.name === 'datasource');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's own ${…} variable syntax, not a template literal.
    expect(datasource).toMatchObject({ type: 'datasource', query: 'prometheus', current: { value: '${DS_PROMETHEUS}' } });
    expect(variableQueries).toEqual([
      { name: 'provider', text: 'label_values(giftgraph_provider_requests_total, provider)', metric: 'giftgraph_provider_requests_total', label: 'provider' },
    ]);

    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels.filter((p) => p.type !== 'row')) {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's own ${…} variable syntax, not a template literal.
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's own ${…} variable syntax, not a template literal.
      for (const t of p.targets ?? []) expect(t.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.gridPos!.x + p.gridPos!.w, p.title).toBeLessThanOrEqual(24);
    }
    const oldest = panels.find((p) => p.targets?.some((t) => t.expr?.includes('giftgraph_ledger_oldest_order_created_timestamp_seconds{status="UNCONFIRMED"')));
    expect(oldest?.targets?.[0]?.expr).toMatch(/^time\(\) - /);
    expect(oldest?.fieldConfig?.defaults?.thresholds?.steps).toContainEqual({ color: 'red', value: 3600 });
  });

  it('names only metrics giftgraph serves, with the labels they carry', () => {
    expect(dashboardQueries.length).toBeGreaterThan(15);
    const problems = dashboardQueries.flatMap(check);
    for (const v of variableQueries) {
      if (!v.metric || !served.familyOf(v.metric)) problems.push(`variable ${v.name}: ${v.text} names no metric giftgraph serves`);
      else if (!served.labelsOf(v.metric).has(v.label!)) problems.push(`variable ${v.name}: ${v.label} is not a label of ${v.metric}`);
    }
    expect(problems).toEqual([]);
    // Every giftgraph family has a panel.
    const named = new Set(dashboardQueries.flatMap((q) => readPromql(q.expr).metrics).map((m) => served.familyOf(m)!.name));
    const ours = [...served.families.keys()].filter((name) => name.startsWith('giftgraph_'));
    expect(ours.filter((name) => !named.has(name))).toEqual([]);
  });

  it('has alert rules naming only metrics giftgraph serves, with the labels they carry', () => {
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) expect(rule.alert, rule.expr).toMatch(/^Giftgraph[A-Z]\w+$/);
    expect(alertQueries.flatMap(check)).toEqual([]);
  });

  it('has every alert the README recommends, with the same expression', () => {
    const readme = fs.readFileSync(README, 'utf8');
    const section = readme.slice(readme.indexOf('## Observe it'));
    const block = /What to alert on:\s*```yaml\n([\s\S]*?)```/.exec(section);
    expect(block).not.toBeNull();
    const recommended = (parseYaml(block![1]!) as { groups: { rules: AlertRule[] }[] }).groups.flatMap((g) => g.rules);
    const squeeze = (expr: string) => expr.replace(/\s+/g, ' ').trim();
    const shape = (r: AlertRule) => ({ alert: r.alert, expr: squeeze(r.expr), for: r.for });
    expect(recommended.length).toBeGreaterThan(0);
    expect(rules.map(shape)).toEqual(recommended.map(shape));
  });
});
