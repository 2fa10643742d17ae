import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { getNullableType, getOperationAST, getVariableValues, GraphQLError, isListType, Kind, visit, type ASTNode, type DocumentNode, type GraphQLSchema } from 'graphql';
// Its CommonJS build: the ES build imports graphql's .mjs files, a second copy of graphql beside the
// CommonJS one our schema is built with, and graphql refuses to mix the two.
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity/cjs';
import { DEFAULT_PAGE_SIZE } from '../pagination/connection.js';

/** The most work one operation may ask for, in the units `operationCost` counts. */
export const MAX_COST = 25_000;
/** Representations one `_entities` request may resolve. */
export const MAX_ENTITY_REPRESENTATIONS = 100;

/**
 * Fields that may call a provider on the request path, weighted by what that costs: a provider
 * round trip of 100 ms or more that counts against the account's rate limit.
 */
const PROVIDER_CALL_COST: Readonly<Record<string, number>> = {
  'Query.order': 10,
  'Query.catalog': 10,
  'ProviderInfo.balances': 10,
  'Mutation.sendGifts': 50,
  'Mutation.cancelOrder': 20,
  'Mutation.resendGift': 20,
};

/** A list with no `first` (a status history, a product's prices) is counted as this many items. */
const SHORT_LIST = 10;

/**
 * Each field costs 1, or its provider-call weight, plus what it selects times how many items it
 * can return: a connection's `first` (or its default page), the representations of `_entities`,
 * SHORT_LIST for other lists. A connection's `edges` are counted by the connection itself.
 */
function measure(schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown>, operationName: string | undefined) {
  let representations = 0;
  const estimator: ComplexityEstimator = ({ type, field, args, childComplexity }) => {
    const own = PROVIDER_CALL_COST[`${type.name}.${field.name}`] ?? 1;
    let items = 1;
    if (field.args.some((a) => a.name === 'first')) {
      items = typeof args.first === 'number' ? Math.max(args.first, 0) : DEFAULT_PAGE_SIZE;
    } else if (field.name === '_entities') {
      items = Array.isArray(args.representations) ? args.representations.length : 0;
      representations = Math.max(representations, items);
    } else if (field.name !== 'edges' && isListType(getNullableType(field.type))) {
      items = SHORT_LIST;
    }
    return own + items * childComplexity;
  };
  const cost = getComplexity({ schema, query: document, variables, operationName, estimators: [estimator], maxQueryNodes: MAX_MEASURED_NODES });
  return { cost, representations };
}

const refuse = (message: string, extensions: Record<string, unknown>) =>
  new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', ...extensions, http: { status: 400 } } });

/** Verdicts kept per document, by the values of the variables that can change them. */
interface KnownVerdicts {
  /** Variables a cost can depend on: page sizes, representations, @skip/@include conditions. */
  names: string[];
  verdicts: Map<string, GraphQLError | undefined>;
}
const MAX_VERDICTS_PER_DOCUMENT = 64;
const known = new WeakMap<DocumentNode, KnownVerdicts>();

function variablesThatCount(document: DocumentNode): string[] {
  const names = new Set<string>();
  visit(document, {
    Argument(argument, _key, _parent, _path, ancestors) {
      // The argument's parent is the list of arguments; the node that holds them comes before it.
      const holder = ancestors[ancestors.length - 1];
      const counted = argument.name.value === 'first' || argument.name.value === 'representations' || (isNode(holder) && holder.kind === Kind.DIRECTIVE);
      if (counted) visit(argument.value, { Variable: (variable) => void names.add(variable.name.value) });
    },
  });
  return [...names].sort();
}

const isNode = (value: unknown): value is ASTNode => typeof value === 'object' && value !== null && 'kind' in value;

/**
 * The refusal of an operation that asks for more work than MAX_COST, or for more entities than
 * MAX_ENTITY_REPRESENTATIONS; undefined when it may run. Runs after validation, whose field and
 * depth limits already bound the document, with the request's variables. A document's verdict is
 * measured once for each set of coerced values (defaults applied) of the variables it can depend
 * on: an `order(id: $id)` costs the same for every id.
 */
export function costRefusal(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName?: string | null,
): GraphQLError | undefined {
  const operation = getOperationAST(document, operationName ?? undefined);
  // No single operation to run, or variables that do not coerce: execution refuses them with
  // GraphQL's own error before any work, and nothing is measured or kept.
  if (!operation) return undefined;
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables ?? {});
  if (coerced.errors) return undefined;
  const values = coerced.coerced;

  let entry = known.get(document);
  if (!entry) known.set(document, (entry = { names: variablesThatCount(document), verdicts: new Map() }));
  const key = JSON.stringify([operation.name?.value ?? null, ...entry.names.map((name) => countedValue(values, name))]);
  if (entry.verdicts.has(key)) return entry.verdicts.get(key);
  const verdict = measureVerdict(schema, document, variables ?? {}, operation.name?.value ?? 'anonymous');
  if (entry.verdicts.size >= MAX_VERDICTS_PER_DOCUMENT) entry.verdicts.clear();
  entry.verdicts.set(key, verdict);
  return verdict;
}

/** What of a coerced variable a cost can depend on: a list only by its length; absent is not null. */
function countedValue(values: Record<string, unknown>, name: string): unknown {
  if (!Object.hasOwn(values, name)) return { absent: true };
  const value = values[name];
  return Array.isArray(value) ? { length: value.length } : value;
}

/** Nodes the measure visits at most; the field and depth limits keep real documents far below. */
const MAX_MEASURED_NODES = 10_000;

function measureVerdict(schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown>, name: string): GraphQLError | undefined {
  let measured: ReturnType<typeof measure>;
  try {
    measured = measure(schema, document, variables, name === 'anonymous' ? undefined : name);
  } catch (error) {
    // The variables coerce, so this is the document: too large to measure is too large to run.
    if (error instanceof GraphQLError) {
      return refuse(`Operation ${name} is too large to measure (more than ${MAX_MEASURED_NODES} selections once fragments are expanded); the cost limit is ${MAX_COST}`, {
        limit: MAX_COST,
      });
    }
    throw error;
  }
  if (measured.representations > MAX_ENTITY_REPRESENTATIONS) {
    return refuse(`_entities takes at most ${MAX_ENTITY_REPRESENTATIONS} representations; this request has ${measured.representations}`, {
      field: 'representations',
      limit: MAX_ENTITY_REPRESENTATIONS,
    });
  }
  if (measured.cost > MAX_COST) {
    return refuse(`Operation ${name} costs ${measured.cost}; the limit is ${MAX_COST}. Ask for smaller pages (first) or fewer nested lists.`, {
      cost: measured.cost,
      limit: MAX_COST,
    });
  }
  return undefined;
}

/** Apollo Server's side of the cost limit: refuses before execution, once the operation is known. */
export function costLimitPlugin<C extends BaseContext>(): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, request, operationName }) {
          const refusal = costRefusal(schema, document, request.variables, operationName);
          if (refusal) throw refusal;
        },
      };
    },
  };
}
