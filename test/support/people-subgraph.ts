import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import DataLoader from 'dataloader';
import { parse } from 'graphql';
import { GraphQLEmailAddress } from 'graphql-scalars';

/**
 * A second subgraph for federation tests: a people directory that owns `Person` by email and adds
 * what giftgraph does not know (a display name, a team). Plain @apollo/server + @apollo/subgraph.
 * Like giftgraph, it keys a person by the address trimmed and lower-cased, whatever the directory's
 * own spelling, so both subgraphs name one person with one key; and its key field has giftgraph's
 * type, EmailAddress (graphql-scalars' own here), or the two would not compose.
 */
export const PEOPLE_SDL = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])

  type Query {
    "Everyone in the directory, in name order."
    people(first: Int = 20): [Person!]!
    "One person, by any spelling of their address."
    person(email: EmailAddress!): Person
  }

  scalar EmailAddress

  type Person @key(fields: "email") {
    email: EmailAddress!
    displayName: String!
    team: String
  }
`;

export interface DirectoryEntry {
  email: string;
  displayName: string;
  team: string | null;
}

export interface PeopleSubgraph {
  url: string;
  /** The size of every batch of entity lookups, one entry per batch. */
  lookups: number[];
  stop(): Promise<void>;
}

interface PeopleContext {
  people: DataLoader<string, DirectoryEntry | null>;
}

const normalize = (email: string) => email.trim().toLowerCase();

export async function startPeopleSubgraph(directory: readonly DirectoryEntry[]): Promise<PeopleSubgraph> {
  const byEmail = new Map(directory.map((p) => [normalize(p.email), p]));
  const lookups: number[] = [];
  const schema = buildSubgraphSchema({
    typeDefs: parse(PEOPLE_SDL),
    resolvers: {
      EmailAddress: GraphQLEmailAddress,
      Query: {
        people: (_: unknown, { first }: { first: number }) => directory.slice(0, first),
        person: (_: unknown, { email }: { email: string }) => byEmail.get(normalize(email)) ?? null,
      },
      Person: {
        email: (person: DirectoryEntry) => normalize(person.email),
        __resolveReference: (ref: { email: string }, ctx: PeopleContext) => ctx.people.load(normalize(ref.email)),
      },
    } as never,
  });
  const server = new ApolloServer<PeopleContext>({ schema });
  const { url } = await startStandaloneServer(server, {
    listen: { port: 0, host: '127.0.0.1' },
    context: async () => ({
      people: new DataLoader(async (emails: readonly string[]) => {
        lookups.push(emails.length);
        return emails.map((e) => byEmail.get(e) ?? null);
      }),
    }),
  });
  return { url, lookups, stop: () => server.stop() };
}
