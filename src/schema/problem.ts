import { DateTimeResolver } from 'graphql-scalars';
import { Field, ObjectType, registerEnumType } from 'type-graphql';
import { PROBLEM_CODES, type Problem as ProblemRecord } from '../core/problems.js';
import { Provider } from './enums.js';

export const ProblemCode = Object.fromEntries(PROBLEM_CODES.map((c) => [c, c])) as { [K in (typeof PROBLEM_CODES)[number]]: K };

registerEnumType(ProblemCode, {
  name: 'ProblemCode',
  description: 'What kind of problem a mutation reports; the names are those of the error codes (extensions.code).',
  valuesConfig: {
    BAD_USER_INPUT: { description: 'A value of the input is invalid (`field` names it). Nothing was recorded or sent.' },
    NOT_FOUND: { description: 'No such order for your tenant. Nothing was recorded or sent.' },
    UNSUPPORTED_BY_PROVIDER: { description: 'The provider cannot do this at all (Guusto cannot cancel or resend). Nothing was recorded or sent.' },
    IDEMPOTENCY_CONFLICT: {
      description: 'The idempotency key was used for a different request (`retryable` false), or a request with it is still being sent (`retryable` true).',
    },
    SPENDING_LIMIT_EXCEEDED: {
      description: 'The send would take the tenant over a spending limit (see `spending`); the message says the limit and what remains. Nothing was recorded or sent.',
    },
    PROVIDER_REJECTED: { description: 'The provider refused (`providerCode` says why): nothing was done there. A send is recorded FAILED.' },
    PROVIDER_UNAVAILABLE: {
      description:
        'The provider could not be reached, or asked us to wait (`retryAfter`), and certainly did not act: the same request may be repeated. A send is recorded FAILED (or not at all when the provider could not be asked what checking the input needs).',
    },
    OUTCOME_UNKNOWN: {
      description:
        'The provider may or may not have acted (a timeout or a lost answer). A send is recorded UNCONFIRMED and never sent again automatically: `retryable` says whether a same-key retry is safe, `retryBefore` until when. A cancel or resend may have been done: the order shows what is known.',
    },
  },
});

@ObjectType({
  simpleResolvers: true,
  description:
    'Something that kept a mutation from doing all it asked, returned as data beside what the request recorded. Problems reach clients through a gateway whatever it does with subgraph errors.',
})
export class Problem {
  @Field(() => ProblemCode)
  code!: string;

  @Field(() => String, { nullable: true, description: 'Input path of the offending value, e.g. `input.recipients[2].email`; null when no one value is at fault.' })
  field!: string | null;

  @Field(() => String, { description: 'For people; never a token, secret or recipient email.' })
  message!: string;

  @Field(() => Boolean, { nullable: true, description: 'Whether repeating the same request (same idempotency key) is safe and may succeed; null where it does not apply.' })
  retryable!: boolean | null;

  @Field(() => Provider, { nullable: true, description: 'The provider that refused, failed or did not answer.' })
  provider!: string | null;

  @Field(() => String, { nullable: true, description: "The provider's own code, e.g. `insufficient_balance`." })
  providerCode!: string | null;

  @Field(() => DateTimeResolver, { nullable: true, description: 'Not before this time: the provider asked us to wait, or calls to it are paused.' })
  retryAfter!: Date | null;

  @Field(() => DateTimeResolver, {
    nullable: true,
    description: 'A same-key retry is safe only until this time, after which the provider forgets the key; null when there is no such limit.',
  })
  retryBefore!: Date | null;

  static from(p: ProblemRecord): Problem {
    return Object.assign(new Problem(), {
      code: p.code,
      field: p.field ?? null,
      message: p.message,
      retryable: p.retryable ?? null,
      provider: p.provider ?? null,
      providerCode: p.providerCode ?? null,
      retryAfter: p.retryAfter ? new Date(p.retryAfter) : null,
      retryBefore: p.retryBefore ? new Date(p.retryBefore) : null,
    });
  }
}
