import {
  GraphQLError,
  Kind,
  type ASTVisitor,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

/** Limits for every operation, on HTTP and on the WebSocket alike. */
export const MAX_DEPTH = 12;
export const MAX_FIELDS = 1_000;

/**
 * Rejects operations nested deeper than MAX_DEPTH or selecting more than MAX_FIELDS fields once
 * fragments are expanded: a cheap guard against queries built to exhaust the server.
 */
export function queryLimits(maxDepth = MAX_DEPTH, maxFields = MAX_FIELDS): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const def of context.getDocument().definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
    return {
      OperationDefinition(operation) {
        const stats = { fields: 0, depth: 0, stopAt: maxFields * 2 };
        measure(operation.selectionSet, 1, fragments, stats, new Set());
        const name = operation.name?.value ?? 'anonymous';
        if (stats.depth > maxDepth) {
          context.reportError(new GraphQLError(`Operation ${name} is ${stats.depth} levels deep; the limit is ${maxDepth}`, { extensions: { code: 'BAD_USER_INPUT' } }));
        }
        if (stats.fields > maxFields) {
          context.reportError(new GraphQLError(`Operation ${name} selects ${stats.fields} fields; the limit is ${maxFields}`, { extensions: { code: 'BAD_USER_INPUT' } }));
        }
      },
    };
  };
}

function measure(
  set: SelectionSetNode,
  depth: number,
  fragments: Map<string, FragmentDefinitionNode>,
  stats: { fields: number; depth: number; stopAt: number },
  visiting: Set<string>,
): void {
  // Far past the limit the exact count no longer matters; stop walking.
  if (stats.fields > stats.stopAt) return;
  for (const selection of set.selections) {
    if (selection.kind === Kind.FIELD) {
      stats.fields += 1;
      stats.depth = Math.max(stats.depth, depth);
      if (selection.selectionSet) measure(selection.selectionSet, depth + 1, fragments, stats, visiting);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      measure(selection.selectionSet, depth, fragments, stats, visiting);
    } else {
      const name = selection.name.value;
      const fragment = fragments.get(name);
      // A fragment cycle is reported by graphql's own NoFragmentCycles rule; do not recurse into it.
      if (!fragment || visiting.has(name)) continue;
      visiting.add(name);
      measure(fragment.selectionSet, depth, fragments, stats, visiting);
      visiting.delete(name);
    }
  }
}
