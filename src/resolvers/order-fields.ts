import { Arg, Ctx, FieldResolver, Int, Resolver, Root } from 'type-graphql';
import { offsetConnection } from '../pagination/connection.js';
import { notFound } from '../core/errors.js';
import { Order, orderView, ProviderCapabilities, StatusChange } from '../schema/order.js';
import { Person } from '../schema/person.js';
import { Recipient } from '../schema/recipient.js';
import { RecipientConnection } from '../schema/recipient-connection.js';
import { authorize, type GraphQLContext } from './context.js';

/** Fields every order type shares, resolved once for all of them. */
@Resolver(() => Order)
export class OrderFieldsResolver {
  @FieldResolver(() => RecipientConnection)
  async recipients(
    @Root() order: Order,
    @Ctx() ctx: GraphQLContext,
    @Arg('first', () => Int, { nullable: true }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<RecipientConnection> {
    const rows = await ctx.loaders!.recipients.load(order.record.id);
    return offsetConnection(rows, { first, after }, ctx.cursors!, { list: `recipients:${order.record.id}` }, (r) => Recipient.from(order.record.provider, r));
  }

  @FieldResolver(() => [StatusChange], { description: 'Every change of the order-level status, oldest first.' })
  async statusHistory(@Root() order: Order, @Ctx() ctx: GraphQLContext): Promise<StatusChange[]> {
    const events = await ctx.loaders!.events.load(order.record.id);
    return events.filter((e) => e.recipientId === null).map((e) => StatusChange.from(e, ctx.cursors!.event(e.seq)));
  }

  @FieldResolver(() => ProviderCapabilities, { description: 'What can be done with this order now.' })
  async capabilities(@Root() order: Order, @Ctx() ctx: GraphQLContext): Promise<ProviderCapabilities> {
    const now = ctx.services.orders.capabilities(order.record, await ctx.loaders!.recipients.load(order.record.id));
    return Object.assign(
      new ProviderCapabilities(),
      now ?? { canCancel: false, canResend: false, canListOrders: false, canSchedule: false, schedulesNatively: false, hasWebhooks: false, deduplicatesCreates: false },
    );
  }
}

@Resolver(() => Recipient)
export class RecipientFieldsResolver {
  @FieldResolver(() => Person, { nullable: true, description: 'Who this recipient is, by email, for subgraphs that know people; null without an email.' })
  person(@Root() recipient: Recipient): Person | null {
    return recipient.email ? Person.of(recipient.email) : null;
  }

  @FieldResolver(() => Order, { description: 'The order this gift belongs to.' })
  async order(@Root() recipient: Recipient, @Ctx() ctx: GraphQLContext): Promise<Order> {
    const { loaders } = authorize(ctx, 'orders:read');
    const order = await loaders.order.load(recipient.record.orderId);
    if (!order) throw notFound('Order');
    return orderView(order);
  }

  @FieldResolver(() => [StatusChange], { description: "Every change of this recipient's gift status, oldest first." })
  async statusHistory(@Root() recipient: Recipient, @Ctx() ctx: GraphQLContext): Promise<StatusChange[]> {
    const events = await ctx.loaders!.events.load(recipient.record.orderId);
    return events.filter((e) => e.recipientId === recipient.record.id).map((e) => StatusChange.from(e, ctx.cursors!.event(e.seq)));
  }
}
