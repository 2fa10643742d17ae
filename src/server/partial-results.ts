import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { GraphQLError } from 'graphql';

/**
 * Adds the errors resolvers report beside their data to the response's `errors`: a merged page
 * that lacks one provider is still an answer, and the error says which provider is missing.
 */
export function partialResultsPlugin<C extends BaseContext & { partialErrors?: GraphQLError[] }>(): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ contextValue, response }) {
          const reported = contextValue.partialErrors ?? [];
          if (reported.length === 0 || response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          result.errors = [...(result.errors ?? []), ...reported.map((e) => e.toJSON())];
        },
      };
    },
  };
}
