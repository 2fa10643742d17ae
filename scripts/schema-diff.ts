/**
 * Compares schema/schema.graphql with the last released schema, schema/released.graphql, and
 * fails when a change would break a client that is not listed, with its reason, in
 * schema/breaking-changes.json:
 *
 *   npm run -s schema:breaking
 *
 * Every change is printed with its criticality (graphql-inspector's); dangerous ones are warnings.
 * The allow-list is a JSON array of `{ "change": "<TYPE> <path>", "reason": "..." }`, the id this
 * script prints for each breaking change (for example `FIELD_REMOVED Order.total`), matched exactly.
 *
 * The SDL is the subgraph's, with `@link` and federation directives. Federation's own machinery
 * (`_Service`, `_Entity`, `_Any`, `link__*`, `federation__*`, `_service`, `_entities`, the
 * directives' definitions and the schema's `@link`) is left out of the report. Two federation
 * directives change what clients and the router can reach, and are judged for it: adding
 * `@inaccessible` hides an element from the supergraph (a removal for clients), and removing a
 * `@key` or changing its fields breaks the router's and other subgraphs' references to an entity.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildSchema } from 'graphql';
import { CriticalityLevel, diff, type Change } from '@graphql-inspector/core';

export type Criticality = 'BREAKING' | 'DANGEROUS' | 'NON_BREAKING';

/** One entry of schema/breaking-changes.json: a breaking change accepted on purpose. */
export interface AllowedChange {
  /** `<TYPE> <path>` as printed by this script, e.g. `FIELD_REMOVED Order.total`. */
  change: string;
  reason: string;
}

export interface SchemaChange {
  /** `<TYPE> <path>`, the id an allow-list entry names. */
  id: string;
  type: string;
  path: string | undefined;
  criticality: Criticality;
  message: string;
  /** Why it has this criticality. */
  why: string | undefined;
  /** The allow-list's reason, for a breaking change that is listed. */
  allowedBecause?: string;
}

export interface SchemaCheckResult {
  /** False when a breaking change is not allowed, or the allow-list is malformed. */
  ok: boolean;
  /** Every change, federation machinery left out, breaking first. */
  changes: SchemaChange[];
  /** Breaking changes not in the allow-list: each one fails the check. */
  breaking: SchemaChange[];
  /** Breaking changes the allow-list accepts. */
  allowed: SchemaChange[];
  dangerous: SchemaChange[];
  /** Allow-list entries that match no change (stale once the schema is released). */
  unused: AllowedChange[];
  /** Malformed allow-list entries. */
  problems: string[];
}

const FEDERATION_TYPE = /^(_Service|_Entity|_Any|link__\w+|federation__\w+)$/;
const FEDERATION_FIELDS = new Set(['_service', '_entities']);
const FEDERATION_DIRECTIVES = new Set([
  'link',
  'key',
  'shareable',
  'inaccessible',
  'tag',
  'override',
  'external',
  'provides',
  'requires',
  'extends',
  'composeDirective',
  'interfaceObject',
  'authenticated',
  'requiresScopes',
  'policy',
  'context',
  'fromContext',
  'cost',
  'listSize',
]);

const ORDER: Record<Criticality, number> = { BREAKING: 0, DANGEROUS: 1, NON_BREAKING: 2 };

/** Builds a schema from subgraph SDL: federation directives are used but not defined in it. */
export function buildSdl(sdl: string) {
  return buildSchema(sdl, { assumeValidSDL: true });
}

export function changeId(change: { type: string; path?: string | undefined }): string {
  return change.path ? `${change.type} ${change.path}` : change.type;
}

function level(change: Change): Criticality {
  switch (change.criticality.level) {
    case CriticalityLevel.Breaking:
      return 'BREAKING';
    case CriticalityLevel.Dangerous:
      return 'DANGEROUS';
    default:
      return 'NON_BREAKING';
  }
}

/** The change as clients of the supergraph see it, or null for federation's own machinery. */
function judge(change: Change): SchemaChange | null {
  const segments = (change.path ?? '').split('.');
  if (FEDERATION_TYPE.test(segments[0] ?? '') || FEDERATION_FIELDS.has(segments[1] ?? '')) return null;
  const directive = segments.find((segment) => segment.startsWith('@'))?.slice(1);
  const usage = change.type.startsWith('DIRECTIVE_USAGE_');
  if (directive && (directive.startsWith('federation__') || (!usage && FEDERATION_DIRECTIVES.has(directive)))) return null;
  if (directive === 'link') return null;

  let criticality = level(change);
  let why = change.criticality.reason;
  // DIRECTIVE_USAGE_ARGUMENT_ADDED/_REMOVED are changes of a directive's own arguments, not of where it is used.
  const ofItsArguments = change.type === 'DIRECTIVE_USAGE_ARGUMENT_ADDED' || change.type === 'DIRECTIVE_USAGE_ARGUMENT_REMOVED';
  if (usage && directive === 'inaccessible' && !ofItsArguments) {
    const added = change.type.endsWith('_ADDED');
    criticality = added ? 'BREAKING' : 'NON_BREAKING';
    why = added ? '@inaccessible hides it from the supergraph: for clients it is removed.' : 'Removing @inaccessible exposes it in the supergraph: an addition for clients.';
  } else if (usage && directive === 'key') {
    const removed = change.type.endsWith('_REMOVED');
    criticality = removed ? 'BREAKING' : 'NON_BREAKING';
    why = removed
      ? 'The router and other subgraphs reference this entity by that key: removing it or changing its fields breaks them.'
      : 'A new key is one more way to reference the entity.';
  }
  return { id: changeId(change), type: change.type, path: change.path, criticality, message: change.message, why };
}

/** Reads schema/breaking-changes.json's content; throws with a clear message when it is not an array. */
export function parseAllowList(json: string): AllowedChange[] {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new Error(`schema/breaking-changes.json is not valid JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(value)) throw new Error('schema/breaking-changes.json must be a JSON array of { "change", "reason" }');
  return value as AllowedChange[];
}

function allowListProblems(allowed: readonly AllowedChange[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const [index, entry] of allowed.entries()) {
    const where = `breaking-changes.json[${index}]`;
    if (typeof entry !== 'object' || entry === null) {
      problems.push(`${where} is not an object`);
      continue;
    }
    const extra = Object.keys(entry).filter((key) => key !== 'change' && key !== 'reason');
    if (extra.length) problems.push(`${where} has unknown keys: ${extra.join(', ')}`);
    if (typeof entry.change !== 'string' || !entry.change.trim()) problems.push(`${where} needs "change": the id of a breaking change`);
    if (typeof entry.reason !== 'string' || !entry.reason.trim()) problems.push(`${where} (${String(entry.change)}) needs a "reason"`);
    if (typeof entry.change === 'string' && seen.has(entry.change)) problems.push(`${where} repeats ${entry.change}`);
    if (typeof entry.change === 'string') seen.add(entry.change);
  }
  return problems;
}

/**
 * Compares the current SDL with the released one. A breaking change passes only when the
 * allow-list names it with a reason.
 */
export async function checkSchema(input: { released: string; current: string; allowed?: readonly AllowedChange[] }): Promise<SchemaCheckResult> {
  const allowedList = input.allowed ?? [];
  const problems = allowListProblems(allowedList);
  const reasons = new Map(
    allowedList.filter((entry) => typeof entry?.change === 'string' && typeof entry.reason === 'string' && entry.reason.trim()).map((entry) => [entry.change, entry.reason]),
  );

  const raw = await diff(buildSdl(input.released), buildSdl(input.current));
  const changes = raw
    .map(judge)
    .filter((change): change is SchemaChange => change !== null)
    .sort((a, b) => ORDER[a.criticality] - ORDER[b.criticality]);

  const used = new Set<string>();
  for (const change of changes) {
    const reason = change.criticality === 'BREAKING' ? reasons.get(change.id) : undefined;
    if (reason !== undefined) {
      change.allowedBecause = reason;
      used.add(change.id);
    }
  }
  const breaking = changes.filter((change) => change.criticality === 'BREAKING' && change.allowedBecause === undefined);
  return {
    ok: breaking.length === 0 && problems.length === 0,
    changes,
    breaking,
    allowed: changes.filter((change) => change.allowedBecause !== undefined),
    dangerous: changes.filter((change) => change.criticality === 'DANGEROUS'),
    unused: allowedList.filter((entry) => typeof entry?.change === 'string' && !used.has(entry.change)),
    problems,
  };
}

const ADDITIONS = new Set(['TYPE_ADDED', 'FIELD_ADDED', 'INPUT_FIELD_ADDED', 'ENUM_VALUE_ADDED', 'FIELD_ARGUMENT_ADDED', 'DIRECTIVE_ADDED']);

/** The report printed by `npm run -s schema:breaking`. */
export function formatReport(result: SchemaCheckResult): string {
  // A safe change inside something new (its fields, descriptions, arguments) is shown as the new thing.
  const additions = result.changes.filter((change) => ADDITIONS.has(change.type) && change.path);
  const inAddition = (change: SchemaChange) => additions.some((addition) => addition !== change && (change.path === addition.path || change.path?.startsWith(`${addition.path}.`)));
  const lines: string[] = [];
  for (const change of result.changes) {
    if (change.criticality === 'NON_BREAKING') {
      if (!inAddition(change)) lines.push(`NON_BREAKING  ${change.id}: ${change.message}`);
      continue;
    }
    lines.push(`${change.criticality === 'DANGEROUS' ? 'warning: DANGEROUS' : 'BREAKING'}  ${change.id}: ${change.message}`);
    if (change.why) lines.push(`    ${change.why}`);
    if (change.allowedBecause !== undefined) lines.push(`    allowed by schema/breaking-changes.json: ${change.allowedBecause}`);
    else if (change.criticality === 'BREAKING') {
      lines.push('    not in schema/breaking-changes.json: deprecate first (README, Schema changes); to make it anyway, add');
      lines.push(`    ${JSON.stringify({ change: change.id, reason: '...' })}`);
    }
  }
  for (const entry of result.unused) lines.push(`warning: schema/breaking-changes.json lists ${entry.change}, which is no breaking change now: remove it`);
  for (const problem of result.problems) lines.push(`error: ${problem}`);
  const count = (criticality: Criticality) => result.changes.filter((change) => change.criticality === criticality).length;
  lines.push(`${count('BREAKING')} breaking (${result.allowed.length} allowed), ${count('DANGEROUS')} dangerous, ${count('NON_BREAKING')} safe`);
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  // The files compared can be named (--released, --current, --allowed); by default they are the project's.
  const { values } = parseArgs({
    options: {
      released: { type: 'string', default: fileURLToPath(new URL('../schema/released.graphql', import.meta.url)) },
      current: { type: 'string', default: fileURLToPath(new URL('../schema/schema.graphql', import.meta.url)) },
      allowed: { type: 'string', default: fileURLToPath(new URL('../schema/breaking-changes.json', import.meta.url)) },
    },
  });
  const allowed = fs.existsSync(values.allowed) ? parseAllowList(fs.readFileSync(values.allowed, 'utf8')) : [];
  const [released, current] = [values.released, values.current].map((file) => fs.readFileSync(file, 'utf8')) as [string, string];
  const result = await checkSchema({ released, current, allowed });
  const name = (file: string) => path.relative(process.cwd(), file) || file;
  process.stdout.write(`${name(values.current)} against ${name(values.released)}:\n${formatReport(result)}`);
  if (!result.ok) {
    process.stderr.write(
      `${name(values.current)} breaks clients of ${name(values.released)}: deprecate instead, ` + `or list each breaking change in ${name(values.allowed)} with its reason.\n`,
    );
    process.exit(1);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1])) {
  main().catch((error: Error) => {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  });
}
