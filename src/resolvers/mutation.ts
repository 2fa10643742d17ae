import { Arg, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import { badInput } from '../core/errors.js';
import { decodeId } from '../core/global-id.js';
import { type Problem as ProblemRecord, problemsOf } from '../core/problems.js';
import type { OrderRecord } from '../core/records.js';
import type { SendGiftsCommand } from '../orders/validate.js';
import { ResendGiftInput, SendGiftsInput, SettleOrderInput } from '../schema/inputs.js';
import { orderView } from '../schema/order.js';
import { CancelOrderPayload, ResendGiftPayload, SendGiftsPayload, SettleOrderPayload } from '../schema/payloads.js';
import { Problem } from '../schema/problem.js';
import { SetSpendingLimitPayload, SpendingLimitInput, SpendingWindow } from '../schema/spending.js';
import { authorize, type GraphQLContext } from './context.js';

/**
 * Every mutation answers with a payload: the order as the request left it, and its problems.
 * `refused` is the payload of a request refused before it reached a provider (nothing recorded).
 */
@Resolver()
export class MutationResolver {
  @Mutation(() => SendGiftsPayload, {
    description:
      'Sends gifts through one provider. Safe to retry with the same idempotencyKey: a gift is never sent twice. What went wrong is in `problems`, beside the order recorded.',
  })
  async sendGifts(@Arg('input', () => SendGiftsInput) input: SendGiftsInput, @Ctx() ctx: GraphQLContext): Promise<SendGiftsPayload> {
    const { viewer } = authorize(ctx, 'orders:write');
    return answer(SendGiftsPayload, { created: false }, () => ctx.services.orders.send(viewer.tenant, input as SendGiftsCommand));
  }

  @Mutation(() => CancelOrderPayload, { description: 'Cancels an order, where its provider allows it now. What went wrong is in `problems`.' })
  async cancelOrder(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<CancelOrderPayload> {
    const { viewer } = authorize(ctx, 'orders:cancel');
    return answer(CancelOrderPayload, {}, () => {
      const decoded = decodeId(id, 'Order');
      if (!decoded) throw badInput('id', 'is not an Order id');
      return ctx.services.orders.cancel(viewer.tenant, decoded.local);
    });
  }

  @Mutation(() => ResendGiftPayload, {
    description: 'Sends gifts of an order again, optionally to a corrected address, where the provider can. What went wrong is in `problems`.',
  })
  async resendGift(@Arg('input', () => ResendGiftInput) input: ResendGiftInput, @Ctx() ctx: GraphQLContext): Promise<ResendGiftPayload> {
    const { viewer } = authorize(ctx, 'orders:write');
    return answer(ResendGiftPayload, { requeued: 0 }, () => {
      const decoded = decodeId(input.orderId, 'Order');
      if (!decoded) throw badInput('input.orderId', 'is not an Order id');
      return ctx.services.orders.resend(
        viewer.tenant,
        decoded.local,
        input.recipients.map((r) => ({ email: r.email, updatedEmail: r.updatedEmail ?? null })),
      );
    });
  }

  @Mutation(() => SettleOrderPayload, {
    description:
      'For operators (scope orders:admin): records what a person found at the provider about an UNCONFIRMED order. SENT: tracked from the given reference on. NOT_SENT: the same idempotency key may send it again. What was refused is in `problems`.',
  })
  async settleOrder(@Arg('input', () => SettleOrderInput) input: SettleOrderInput, @Ctx() ctx: GraphQLContext): Promise<SettleOrderPayload> {
    const { viewer } = authorize(ctx, 'orders:admin');
    return answer(SettleOrderPayload, { settled: false }, async () => {
      const decoded = decodeId(input.orderId, 'Order');
      if (!decoded) throw badInput('input.orderId', 'is not an Order id');
      return { ...(await ctx.services.orders.settle(viewer.tenant, decoded.local, input, viewer.subject)), problems: [] };
    });
  }

  @Mutation(() => SetSpendingLimitPayload, {
    description:
      "For operators (scope orders:admin): sets their tenant's spending limits in one currency over a rolling day and a rolling 30 days (`tenant` must be the token's). A send that would exceed one is refused with SPENDING_LIMIT_EXCEEDED before any provider is called.",
  })
  async setSpendingLimit(@Arg('input', () => SpendingLimitInput) input: SpendingLimitInput, @Ctx() ctx: GraphQLContext): Promise<SetSpendingLimitPayload> {
    const { viewer } = authorize(ctx, 'orders:admin');
    try {
      const state = await ctx.services.spending.setLimit(input, viewer);
      return Object.assign(new SetSpendingLimitPayload(), { spending: SpendingWindow.from(state), problems: [] });
    } catch (error) {
      const problems = problemsOf(error);
      if (!problems) throw error;
      return Object.assign(new SetSpendingLimitPayload(), { spending: null, problems: problems.map(Problem.from) });
    }
  }
}

type Payload = { order: ReturnType<typeof orderView> | null; problems: Problem[] };

/**
 * The one place a mutation's outcome becomes its payload. A request refused before it reached a
 * provider throws a GiftgraphError that is an outcome of the request (bad input, an unknown order,
 * an idempotency conflict, ...): its problems are answered as data, with no order and `refused`'s
 * values. Anything else (authentication, scopes, a failure of ours) stays a top-level error.
 */
async function answer<P extends Payload, R extends { order: OrderRecord; problems: ProblemRecord[] }>(
  type: new () => P,
  refused: Omit<P, keyof Payload>,
  run: () => Promise<R>,
): Promise<P> {
  let result: Omit<R, 'order'> & { order: OrderRecord | null };
  try {
    result = await run();
  } catch (error) {
    const problems = problemsOf(error);
    if (!problems) throw error;
    result = { ...(refused as unknown as Omit<R, 'order'>), order: null, problems };
  }
  return Object.assign(new type(), result, { order: result.order ? orderView(result.order) : null, problems: result.problems.map(Problem.from) });
}
