import { Arg, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import { badInput } from '../core/errors.js';
import { decodeId } from '../core/global-id.js';
import type { SendGiftsCommand } from '../orders/validate.js';
import { ResendGiftInput, SendGiftsInput, SettleOrderInput } from '../schema/inputs.js';
import { orderView } from '../schema/order.js';
import { CancelOrderPayload, ResendGiftPayload, SendGiftsPayload, SettleOrderPayload } from '../schema/payloads.js';
import { authorize, type GraphQLContext } from './context.js';

@Resolver()
export class MutationResolver {
  @Mutation(() => SendGiftsPayload, {
    description: 'Sends gifts through one provider. Safe to retry with the same idempotencyKey: a gift is never sent twice.',
  })
  async sendGifts(@Arg('input', () => SendGiftsInput) input: SendGiftsInput, @Ctx() ctx: GraphQLContext): Promise<SendGiftsPayload> {
    const { viewer } = authorize(ctx, 'orders:write');
    const { order, created } = await ctx.services.orders.send(viewer.tenant, input as SendGiftsCommand);
    return Object.assign(new SendGiftsPayload(), { order: orderView(order), created });
  }

  @Mutation(() => CancelOrderPayload, { description: 'Cancels an order, where its provider allows it now.' })
  async cancelOrder(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<CancelOrderPayload> {
    const { viewer } = authorize(ctx, 'orders:cancel');
    const decoded = decodeId(id, 'Order');
    if (!decoded) throw badInput('id', 'is not an Order id');
    const order = await ctx.services.orders.cancel(viewer.tenant, decoded.local);
    return Object.assign(new CancelOrderPayload(), { order: orderView(order) });
  }

  @Mutation(() => ResendGiftPayload, { description: 'Sends gifts of an order again, optionally to a corrected address, where the provider can.' })
  async resendGift(@Arg('input', () => ResendGiftInput) input: ResendGiftInput, @Ctx() ctx: GraphQLContext): Promise<ResendGiftPayload> {
    const { viewer } = authorize(ctx, 'orders:write');
    const decoded = decodeId(input.orderId, 'Order');
    if (!decoded) throw badInput('input.orderId', 'is not an Order id');
    const { order, requeued } = await ctx.services.orders.resend(
      viewer.tenant,
      decoded.local,
      input.recipients.map((r) => ({ email: r.email, updatedEmail: r.updatedEmail ?? null })),
    );
    return Object.assign(new ResendGiftPayload(), { order: orderView(order), requeued });
  }

  @Mutation(() => SettleOrderPayload, {
    description:
      'For operators (scope orders:admin): records what a person found at the provider about an UNCONFIRMED order. SENT: tracked from the given reference on. NOT_SENT: the same idempotency key may send it again.',
  })
  async settleOrder(@Arg('input', () => SettleOrderInput) input: SettleOrderInput, @Ctx() ctx: GraphQLContext): Promise<SettleOrderPayload> {
    const { viewer } = authorize(ctx, 'orders:admin');
    const decoded = decodeId(input.orderId, 'Order');
    if (!decoded) throw badInput('input.orderId', 'is not an Order id');
    const { order, settled } = await ctx.services.orders.settle(viewer.tenant, decoded.local, input, viewer.subject);
    return Object.assign(new SettleOrderPayload(), { order: orderView(order), settled });
  }
}
