import { Arg, Ctx, FieldResolver, Int, Resolver, Root } from 'type-graphql';
import { offsetConnection } from '../pagination/connection.js';
import { Person } from '../schema/person.js';
import { Recipient } from '../schema/recipient.js';
import { RecipientConnection } from '../schema/recipient-connection.js';
import { authorize, type GraphQLContext } from './context.js';

@Resolver(() => Person)
export class PersonFieldsResolver {
  @FieldResolver(() => RecipientConnection, { description: 'The gifts your tenant sent this person, newest order first.' })
  async giftsReceived(
    @Root() person: Person,
    @Ctx() ctx: GraphQLContext,
    @Arg('first', () => Int, { nullable: true }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<RecipientConnection> {
    const { loaders, cursors } = authorize(ctx, 'orders:read');
    // The key is normalized (Person.of), and the ledger matches it in any letter case.
    const email = person.email;
    const rows = await loaders.giftsReceived.load(email);
    // The email goes into the cursor hashed, as a filter, never in the clear.
    return offsetConnection(rows, { first, after }, cursors, { list: 'giftsReceived', filter: { email } }, (r) => Recipient.from(r.provider, r));
  }
}

/**
 * A gateway's `Person` references: any address is a person, in any spelling (`Ada@Example.com ` is
 * `ada@example.com`); what giftgraph knows of them is scoped when read. What is no address is no one.
 */
export function resolvePersonReference(reference: { email?: unknown }): Person | null {
  return typeof reference.email === 'string' ? Person.of(reference.email) : null;
}
