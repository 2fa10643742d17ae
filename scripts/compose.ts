/**
 * Composes a supergraph from running subgraphs, as a gateway would, and prints its SDL:
 *
 *   npm run -s compose -- giftgraph=http://127.0.0.1:4000/graphql people=http://127.0.0.1:4001/graphql > supergraph.graphql
 *
 * Each subgraph's SDL is read from its `_service { sdl }`. Composition errors go to stderr with exit
 * code 1; hints go to stderr and do not fail.
 */
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';

async function sdlOf(url: string): Promise<string> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'apollo-require-preflight': 'true' },
    body: JSON.stringify({ query: '{ _service { sdl } }' }),
  });
  const body = (await res.json()) as { data?: { _service?: { sdl?: string } }; errors?: { message: string }[] };
  const sdl = body.data?._service?.sdl;
  if (!sdl) throw new Error(`${url} did not return its SDL: ${JSON.stringify(body.errors ?? res.status)}`);
  return sdl;
}

async function main(): Promise<void> {
  const subgraphs = process.argv.slice(2).map((arg) => {
    const match = /^([A-Za-z][\w-]*)=(https?:\/\/\S+)$/.exec(arg);
    if (!match) throw new Error(`expected name=url, got ${arg}`);
    return { name: match[1]!, url: match[2]! };
  });
  if (subgraphs.length === 0) throw new Error('usage: npm run -s compose -- giftgraph=http://127.0.0.1:4000/graphql other=http://...');
  const services = await Promise.all(subgraphs.map(async ({ name, url }) => ({ name, url, typeDefs: parse(await sdlOf(url)) })));
  const result = composeServices(services);
  for (const hint of result.hints ?? []) process.stderr.write(`hint ${hint.definition.code}: ${hint.message}\n`);
  if (result.errors) {
    for (const error of result.errors) process.stderr.write(`error: ${error.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`${result.supergraphSdl}\n`);
}

main().catch((error: Error) => {
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
});
