import { GraphQLError, parse, validate, type DocumentNode, type GraphQLSchema, type ValidationRule } from 'graphql';
import { costRefusal } from './cost.js';
import { MAX_TOKENS } from './limits.js';

/** Documents kept, most recently used first out last; larger ones are parsed every time. */
const MAX_DOCUMENTS = 256;
const MAX_CACHED_SOURCE = 4096;

export type PreparedDocument = { document: DocumentNode } | { errors: readonly GraphQLError[] };

/**
 * Parses and validates each distinct WebSocket operation once. Thousands of dashboards subscribing
 * with the same document then share one AST, which a subscription holds for as long as it lives,
 * and one validation, instead of one of each. The parser stops at MAX_TOKENS, and the cost limit
 * applies, as on HTTP.
 */
export class DocumentCache {
  private readonly documents = new Map<string, DocumentNode>();
  private readonly validated = new WeakMap<DocumentNode, readonly GraphQLError[]>();

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly rules: readonly ValidationRule[],
  ) {}

  /**
   * The document ready to run, or the errors that refuse it, coded as Apollo Server codes them: a
   * parse or validation failure, or an operation that asks for more work than the cost limit allows
   * with these variables.
   */
  prepare(source: string, variables?: Record<string, unknown> | null, operationName?: string | null): PreparedDocument {
    let document: DocumentNode;
    try {
      document = this.parse(source);
    } catch (error) {
      // A syntax error says where; anything else the parser threw is not the client's to read.
      const syntax = error instanceof GraphQLError ? error : undefined;
      const message = syntax?.message ?? 'Syntax Error: the document could not be parsed';
      const parseFailed = new GraphQLError(message, { source: syntax?.source, positions: syntax?.positions, extensions: { code: 'GRAPHQL_PARSE_FAILED' } });
      return { errors: [parseFailed] };
    }
    const errors = this.validate(document);
    if (errors.length > 0) return { errors };
    const refusal = costRefusal(this.schema, document, variables ?? undefined, operationName);
    return refusal ? { errors: [refusal] } : { document };
  }

  private parse(source: string): DocumentNode {
    const known = this.documents.get(source);
    if (known) {
      this.documents.delete(source);
      this.documents.set(source, known);
      return known;
    }
    const document = parse(source, { maxTokens: MAX_TOKENS });
    if (source.length <= MAX_CACHED_SOURCE) {
      this.documents.set(source, document);
      if (this.documents.size > MAX_DOCUMENTS) this.documents.delete(this.documents.keys().next().value!);
    }
    return document;
  }

  private validate(document: DocumentNode): readonly GraphQLError[] {
    let errors = this.validated.get(document);
    if (!errors) this.validated.set(document, (errors = validate(this.schema, document, this.rules)));
    return errors;
  }
}
