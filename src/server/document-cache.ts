import { parse, validate, type DocumentNode, type GraphQLError, type GraphQLSchema, type Source, type ValidationRule } from 'graphql';

/** Documents kept, most recently used first out last; larger ones are parsed every time. */
const MAX_DOCUMENTS = 256;
const MAX_CACHED_SOURCE = 4096;

/**
 * Parses and validates each distinct WebSocket operation once. Thousands of dashboards subscribing
 * with the same document then share one AST, which a subscription holds for as long as it lives,
 * and one validation, instead of one of each.
 */
export class DocumentCache {
  private readonly documents = new Map<string, DocumentNode>();
  private readonly validated = new WeakMap<DocumentNode, readonly GraphQLError[]>();

  constructor(private readonly rules: readonly ValidationRule[]) {}

  parse = (source: string | Source): DocumentNode => {
    if (typeof source !== 'string') return parse(source);
    const known = this.documents.get(source);
    if (known) {
      this.documents.delete(source);
      this.documents.set(source, known);
      return known;
    }
    const document = parse(source);
    if (source.length <= MAX_CACHED_SOURCE) {
      this.documents.set(source, document);
      if (this.documents.size > MAX_DOCUMENTS) this.documents.delete(this.documents.keys().next().value!);
    }
    return document;
  };

  /** For the one schema the server serves. */
  validate = (schema: GraphQLSchema, document: DocumentNode): readonly GraphQLError[] => {
    let errors = this.validated.get(document);
    if (!errors) this.validated.set(document, (errors = validate(schema, document, this.rules)));
    return errors;
  };
}
