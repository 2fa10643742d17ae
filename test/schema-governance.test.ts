import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { checkSchema, formatReport, parseAllowList } from '../scripts/schema-diff.js';

/**
 * The public schema changes only through its deprecation policy: `npm run -s schema:breaking`
 * (in CI) compares schema/schema.graphql with schema/released.graphql and fails on a breaking
 * change that schema/breaking-changes.json does not list with a reason.
 */

const read = (name: string) => fs.readFileSync(new URL(`../schema/${name}`, import.meta.url), 'utf8');
const current = read('schema.graphql');

/** Applies `edit` inside the definition that starts with `header` only, and fails when it changes nothing. */
function editType(sdl: string, header: string, edit: (body: string) => string): string {
  const start = sdl.indexOf(`\n${header}`);
  expect(start, header).toBeGreaterThan(-1);
  const end = sdl.indexOf('\n}\n', start);
  const body = sdl.slice(start, end);
  const edited = edit(body);
  expect(edited, `edit of ${header}`).not.toBe(body);
  return sdl.slice(0, start) + edited + sdl.slice(end);
}

const withoutField = editType(current, 'type Person', (body) => body.replace(/\n\n\s+"""The gifts[^\n]*\n\s+giftsReceived\([^\n]*/, ''));
const withRequiredArgument = editType(current, 'type Query', (body) =>
  body.replace('catalog(after: String, first: Int, provider: Provider!)', 'catalog(after: String, first: Int!, provider: Provider!)'),
);
const withNullableField = editType(current, 'interface Order', (body) => body.replace('  status: GiftStatus!', '  status: GiftStatus'));

describe('schema governance', () => {
  it('passes the current schema against the released one, with the committed allow-list', async () => {
    const result = await checkSchema({ released: read('released.graphql'), current, allowed: parseAllowList(read('breaking-changes.json')) });
    expect(result.breaking).toEqual([]);
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
  });

  it('fails when a field is removed', async () => {
    const result = await checkSchema({ released: current, current: withoutField });
    expect(result.ok).toBe(false);
    expect(result.breaking.map((change) => [change.criticality, change.id])).toEqual([['BREAKING', 'FIELD_REMOVED Person.giftsReceived']]);
    const report = formatReport(result);
    expect(report).toContain('BREAKING  FIELD_REMOVED Person.giftsReceived');
    expect(report).toContain('{"change":"FIELD_REMOVED Person.giftsReceived","reason":"..."}');
  });

  it('fails when a nullable argument becomes non-null', async () => {
    const result = await checkSchema({ released: current, current: withRequiredArgument });
    expect(result.ok).toBe(false);
    expect(result.breaking.map((change) => change.id)).toEqual(['FIELD_ARGUMENT_TYPE_CHANGED Query.catalog.first']);
  });

  it('fails when a non-null field becomes nullable', async () => {
    const result = await checkSchema({ released: current, current: withNullableField });
    expect(result.ok).toBe(false);
    expect(result.breaking.map((change) => change.id)).toEqual(['FIELD_TYPE_CHANGED Order.status']);
  });

  it('passes a breaking change the allow-list names with its reason, and reports stale entries', async () => {
    const reason = 'Deprecated in 0.3 for Recipient connections; unused for 90 days.';
    const result = await checkSchema({
      released: current,
      current: withoutField,
      allowed: [
        { change: 'FIELD_REMOVED Person.giftsReceived', reason },
        { change: 'FIELD_REMOVED Order.total', reason: 'not removed here' },
      ],
    });
    expect(result.ok).toBe(true);
    expect(result.breaking).toEqual([]);
    expect(result.allowed.map((change) => [change.id, change.allowedBecause])).toEqual([['FIELD_REMOVED Person.giftsReceived', reason]]);
    expect(result.unused.map((entry) => entry.change)).toEqual(['FIELD_REMOVED Order.total']);
    expect(formatReport(result)).toContain(`allowed by schema/breaking-changes.json: ${reason}`);
  });

  it('matches allow-list entries exactly and requires a reason', async () => {
    const otherPath = await checkSchema({ released: current, current: withoutField, allowed: [{ change: 'FIELD_REMOVED Person.gifts', reason: 'typo' }] });
    expect(otherPath.ok).toBe(false);
    const noReason = await checkSchema({ released: current, current: withoutField, allowed: [{ change: 'FIELD_REMOVED Person.giftsReceived', reason: ' ' }] });
    expect(noReason.ok).toBe(false);
    expect(noReason.breaking.map((change) => change.id)).toEqual(['FIELD_REMOVED Person.giftsReceived']);
    expect(noReason.problems.join('\n')).toMatch(/needs a "reason"/);
    expect(() => parseAllowList('{"change": "x"}')).toThrow(/JSON array/);
  });

  it('accepts deprecations and additions, and warns of dangerous changes without failing', async () => {
    const deprecated = editType(current, 'interface Order', (body) => body.replace('  scheduledFor: DateTime\n', '  scheduledFor: DateTime @deprecated(reason: "Use sendAt.")\n'));
    const withEnumValue = editType(deprecated, 'enum StatusSource', (body) => `${body}\n  IMPORT`);
    const result = await checkSchema({ released: current, current: withEnumValue });
    expect(result.ok).toBe(true);
    expect(result.dangerous.map((change) => change.id)).toEqual(['ENUM_VALUE_ADDED StatusSource.IMPORT']);
    expect(result.changes.map((change) => change.id)).toContain('FIELD_DEPRECATION_ADDED Order.scheduledFor.@deprecated');
    expect(formatReport(result)).toContain('warning: DANGEROUS  ENUM_VALUE_ADDED StatusSource.IMPORT');
  });

  it('reports nothing for federation machinery: its types, fields, directive definitions and @link', async () => {
    const machinery = `${current.replace('federation/v2.7', 'federation/v2.8')}
scalar _Any
scalar link__Import
scalar federation__FieldSet
union _Entity = Person
type _Service { sdl: String }
extend type Query { _service: _Service!  _entities(representations: [_Any!]!): [_Entity]! }
directive @key(fields: federation__FieldSet!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE
directive @inaccessible on FIELD_DEFINITION | OBJECT | INTERFACE
`;
    const result = await checkSchema({ released: current, current: machinery });
    expect(result.changes).toEqual([]);
    const reverse = await checkSchema({ released: machinery, current });
    expect(reverse.changes).toEqual([]);
  });

  it('fails when @inaccessible hides a field or an argument, or an entity loses or changes its @key', async () => {
    const hidden = editType(current, 'interface Order', (body) => body.replace('  origin: OrderOrigin!', '  origin: OrderOrigin! @inaccessible'));
    const hiddenArgument = editType(hidden, 'type Query', (body) => body.replace('catalog(after: String, first: Int,', 'catalog(after: String, first: Int @inaccessible,'));
    const keyless = editType(hiddenArgument, 'type Person', (body) => body.replace('\n  @key(fields: "email")', ''));
    const rekeyed = editType(current, 'interface Order', (body) => body.replace('@key(fields: "id")', '@key(fields: "id provider")'));
    const result = await checkSchema({ released: current, current: keyless });
    expect(result.breaking.map((change) => change.id).sort()).toEqual([
      'DIRECTIVE_USAGE_ARGUMENT_DEFINITION_ADDED Query.catalog.first.@inaccessible',
      'DIRECTIVE_USAGE_FIELD_DEFINITION_ADDED Order.origin.@inaccessible',
      'DIRECTIVE_USAGE_OBJECT_REMOVED Person.@key',
    ]);
    expect((await checkSchema({ released: current, current: rekeyed })).breaking.map((change) => change.id)).toEqual(['DIRECTIVE_USAGE_ARGUMENT_REMOVED Order.@key.fields']);
    // Taking @inaccessible off exposes a field: safe.
    expect((await checkSchema({ released: hidden, current })).ok).toBe(true);
  });

  describe('npm run -s schema:breaking', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'giftgraph-schema-'));
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('exits 1 on an unlisted breaking change, naming it', async () => {
      const files = { released: path.join(dir, 'released.graphql'), current: path.join(dir, 'schema.graphql'), allowed: path.join(dir, 'none.json') };
      fs.writeFileSync(files.released, current);
      fs.writeFileSync(files.current, withNullableField);
      fs.writeFileSync(files.allowed, '[]\n');
      const args = ['run', '-s', 'schema:breaking', '--', `--released=${files.released}`, `--current=${files.current}`, `--allowed=${files.allowed}`];
      const failure = await promisify(execFile)('npm', args, { cwd: fileURLToPath(new URL('..', import.meta.url)) }).then(
        () => null,
        (error: { code: number; stdout: string; stderr: string }) => error,
      );
      expect(failure).not.toBeNull();
      expect(failure!.code).toBe(1);
      expect(failure!.stdout).toContain('BREAKING  FIELD_TYPE_CHANGED Order.status');
      expect(failure!.stderr).toMatch(/breaks clients/);
    });
  });
});
