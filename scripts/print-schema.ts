/**
 * Prints the subgraph SDL (what `_service { sdl }` returns, what a gateway composes) to
 * schema/schema.graphql, or with --check fails when the committed file is stale.
 */
import 'reflect-metadata';
import fs from 'node:fs';
import { printSubgraphSchema } from '@apollo/subgraph';
import { buildGiftgraphSchema } from '../src/resolvers/build-schema.js';

const file = new URL('../schema/schema.graphql', import.meta.url);
const sdl = `${printSubgraphSchema(await buildGiftgraphSchema()).trim()}\n`;

if (process.argv.includes('--check')) {
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  if (current !== sdl) {
    process.stderr.write('schema/schema.graphql is stale: run `npm run schema` and commit the result.\n');
    process.exit(1);
  }
} else {
  fs.writeFileSync(file, sdl);
}
