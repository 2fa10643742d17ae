import { Directive, Field, ObjectType } from 'type-graphql';

/**
 * Someone gifts are sent to, known by email: the entity that joins giftgraph to a people
 * directory. Another subgraph owns who the person is (name, team); giftgraph adds the gifts they
 * received, from the viewer's tenant only.
 */
@Directive('@key(fields: "email")')
@ObjectType({ simpleResolvers: true, description: 'Someone gifts are sent to, known by their email. A people subgraph adds who they are.' })
export class Person {
  @Field(() => String)
  email!: string;

  static of(email: string): Person {
    return Object.assign(new Person(), { email });
  }
}
