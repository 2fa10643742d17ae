// ESLint lints GraphQL only: the printed subgraph SDL (schema/schema.graphql) and the operations the
// tests run (test/operations). TypeScript is Biome's (biome.json); both run in `npm run lint`.
//
// The schema is loaded from schema/schema.graphql itself: graphql-eslint sees its
// `extend schema @link(url: "https://specs.apollo.dev/federation/v2.x")` and builds it with
// @apollo/subgraph, so @key, @shareable, @tag and @inaccessible are known directives and the
// operations are validated against the subgraph schema (with `_entities` and `_service`).
import graphql from '@graphql-eslint/eslint-plugin';

// One graphql-config for every file: graphql-eslint keeps the first one it loads for the process.
const graphQLConfig = { schema: 'schema/schema.graphql', documents: 'test/operations/*.graphql' };
const languageOptions = { parser: graphql.parser, parserOptions: { graphQLConfig } };

const rootTypes = 'Query|Mutation|Subscription';

// Types and inputs that have no description yet. Their descriptions belong in src/schema (the SDL is
// printed from it); each name leaves this list when src/schema describes it, and a new type without
// a description fails the lint.
const undescribedTypes = [
  'RecipientConnection',
  'RecipientEdge',
  'OrderConnection',
  'OrderEdge',
  'CatalogConnection',
  'CatalogEdge',
  'OrderFilter',
  'SendGiftsPayload',
  'SendGiftsInput',
  'CancelOrderPayload',
  'ResendGiftPayload',
  'ResendGiftInput',
  'ResendRecipientInput',
  'SettleOrderPayload',
];

export default [
  {
    files: ['schema/schema.graphql'],
    languageOptions,
    plugins: { '@graphql-eslint': graphql },
    rules: {
      // Naming (types PascalCase, fields and arguments camelCase, enum values UPPER_CASE), known
      // types and directives, unique names, deprecation reasons, block descriptions.
      ...graphql.configs['flat/schema-recommended'].rules,
      // Relay connections: `XConnection { edges: [XEdge!]! pageInfo: PageInfo! }`, edges with
      // `cursor` and `node`, PageInfo's four fields, `first`/`after` on every connection field.
      ...graphql.configs['flat/schema-relay'].rules,

      // Descriptions on every type, and on every field of a root type. `rootField: true` matches no
      // field in a schema with more than one root type (graphql-eslint 4.4 joins the root type names
      // with "," inside its regex), so root fields are selected here as FieldDefinition minus every
      // field that is not directly in a root type.
      // The root types themselves are not described: in a supergraph Query, Mutation and
      // Subscription are every subgraph's at once (composition merges them and reports differing
      // descriptions as hints), and type-graphql builds them with no description anyway.
      '@graphql-eslint/require-description': [
        'error',
        {
          types: true,
          FieldDefinition: true,
          ignoredSelectors: [
            `FieldDefinition:not(:matches(ObjectTypeDefinition, ObjectTypeExtension)[name.value=/^(${rootTypes})$/] > FieldDefinition)`,
            `[name.value=/^(${rootTypes})$/]`,
            `[name.value=/^(${undescribedTypes.join('|')})$/]`,
          ],
        },
      ],
      // Forward pagination only (`first`/`after`): orders are newest first and every list is read
      // from its start; `last`/`before` are not offered. A connection field must still have both.
      '@graphql-eslint/relay-arguments': ['error', { includeBoth: false }],
      '@graphql-eslint/relay-edge-types': [
        'error',
        {
          withEdgeSuffix: true,
          // A subgraph has no Relay `Node` interface or `node(id:)` field: entities are refetched
          // through the gateway's `_entities` by their @key (Order by id, Person by email).
          shouldImplementNode: false,
          // Short, bounded lists (prices, balances, statusHistory, providers) are plain lists.
          listTypeCanWrapOnlyEdgeType: false,
        },
      ],
      // Off: it wants an `id: ID!` on every object type. Identity here is federation's @key
      // (Person is keyed by email), and money, capabilities, status changes, payloads, events and
      // connections are values with no identity of their own.
      '@graphql-eslint/strict-id-in-types': 'off',
      // Off: GuustoOrder.guustoOrderId and GiftronautOrder.giftronautOrderId are the provider's own
      // order ids, named after the provider, beside giftgraph's `id` (public contract).
      '@graphql-eslint/no-typename-prefix': 'off',
    },
  },
  {
    files: ['test/operations/*.graphql'],
    languageOptions,
    plugins: { '@graphql-eslint': graphql },
    rules: {
      // Every document validated against the schema (known types, fields, arguments, fragments,
      // variables), operations and fragments named in PascalCase, no anonymous or duplicate
      // operation or fragment across the files, and `id` selected wherever a type has one (what
      // a normalized cache keys objects by).
      ...graphql.configs['flat/operations-recommended'].rules,
    },
  },
];
