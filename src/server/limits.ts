import {
  GraphQLError,
  Kind,
  type ASTVisitor,
  type DocumentNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

/** Limits for every operation, on HTTP and on the WebSocket alike. */
export const MAX_DEPTH = 12;
export const MAX_FIELDS = 1_000;
/** Operations one document may define: each is validated, though only one runs. */
export const MAX_OPERATIONS = 10;
/**
 * Lexical tokens in one document, checked while parsing so that nothing larger reaches validation.
 * Our largest client document has under 400, and graphql's own overlap check is quadratic in a
 * selection set's width, so this also bounds what that rule can cost (about 0.1 s at the limit).
 */
export const MAX_TOKENS = 2_000;

/** What a selection set adds once every fragment in it is expanded. */
export interface SelectionMeasure {
  /** Fields selected, aliases counted, fragments counted each time they are spread. */
  fields: number;
  /** Levels of fields below the set: 1 for a set of leaf fields. */
  depth: number;
}

/**
 * Measures a document's operations in time linear in the document: each fragment definition is
 * walked once and its measure reused wherever it is spread, so a chain of fragments that each
 * spread the previous twice costs one walk per fragment, not one per expanded path.
 */
export class DocumentMeasure {
  private readonly fragments = new Map<string, FragmentDefinitionNode>();
  private readonly measured = new Map<string, SelectionMeasure>();
  private readonly walking = new Set<string>();
  /** Selections visited so far: the work done, for tests that prove it stays linear. */
  visited = 0;

  constructor(document: DocumentNode) {
    for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) this.fragments.set(def.name.value, def);
  }

  operation(operation: OperationDefinitionNode): SelectionMeasure {
    return this.selectionSet(operation.selectionSet);
  }

  private selectionSet(set: SelectionSetNode): SelectionMeasure {
    let fields = 0;
    let depth = 0;
    for (const selection of set.selections) {
      this.visited += 1;
      let inner: SelectionMeasure;
      if (selection.kind === Kind.FIELD) {
        const below = selection.selectionSet ? this.selectionSet(selection.selectionSet) : { fields: 0, depth: 0 };
        inner = { fields: below.fields + 1, depth: below.depth + 1 };
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        inner = this.selectionSet(selection.selectionSet);
      } else {
        inner = this.fragment(selection.name.value);
      }
      fields += inner.fields;
      depth = Math.max(depth, inner.depth);
    }
    return { fields, depth };
  }

  private fragment(name: string): SelectionMeasure {
    const known = this.measured.get(name);
    if (known) return known;
    const definition = this.fragments.get(name);
    // Unknown fragments and cycles are reported by graphql's own rules; they add nothing here.
    if (!definition || this.walking.has(name)) return { fields: 0, depth: 0 };
    this.walking.add(name);
    const measure = this.selectionSet(definition.selectionSet);
    this.walking.delete(name);
    this.measured.set(name, measure);
    return measure;
  }
}

/**
 * Rejects documents of more than MAX_OPERATIONS operations, and operations nested deeper than
 * MAX_DEPTH or selecting more than MAX_FIELDS fields once fragments are expanded: a cheap guard
 * against queries built to exhaust the server.
 */
export function queryLimits(maxDepth = MAX_DEPTH, maxFields = MAX_FIELDS, maxOperations = MAX_OPERATIONS): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const measure = new DocumentMeasure(context.getDocument());
    return {
      Document(document) {
        const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION).length;
        if (operations > maxOperations) {
          context.reportError(new GraphQLError(`The document defines ${operations} operations; the limit is ${maxOperations}`, { extensions: { code: 'BAD_USER_INPUT' } }));
        }
      },
      OperationDefinition(operation) {
        const stats = measure.operation(operation);
        const name = operation.name?.value ?? 'anonymous';
        if (stats.depth > maxDepth) {
          context.reportError(new GraphQLError(`Operation ${name} is ${stats.depth} levels deep; the limit is ${maxDepth}`, { extensions: { code: 'BAD_USER_INPUT' } }));
        }
        if (stats.fields > maxFields) {
          const count = Number.isSafeInteger(stats.fields) ? String(stats.fields) : 'more than 2^53';
          context.reportError(new GraphQLError(`Operation ${name} selects ${count} fields; the limit is ${maxFields}`, { extensions: { code: 'BAD_USER_INPUT' } }));
        }
      },
    };
  };
}
