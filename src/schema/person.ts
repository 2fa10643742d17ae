import { Directive, Field, ObjectType } from 'type-graphql';
import { isEmailAddress, normalizeEmail } from '../core/email.js';
import { EmailAddressScalar } from './scalars.js';

/**
 * Someone gifts are sent to, known by email: the entity that joins giftgraph to a people
 * directory. Another subgraph owns who the person is (name, team); giftgraph adds the gifts they
 * received, from the viewer's tenant only. The key is the normalized address (core/email.ts), so
 * every spelling of one address is one entity, here, in the router and in a client's cache.
 */
@Directive('@key(fields: "email")')
@ObjectType({ simpleResolvers: true, description: 'Someone gifts are sent to, known by their email. A people subgraph adds who they are.' })
export class Person {
  @Field(() => EmailAddressScalar, {
    description: 'The address trimmed and in lower case, however it was spelled: the key every spelling of one address resolves to.',
  })
  email!: string;

  /** The person an address names, keyed by its normalized form; null when it is no address. */
  static of(email: string): Person | null {
    const key = normalizeEmail(email);
    return isEmailAddress(key) ? Object.assign(new Person(), { email: key }) : null;
  }
}
