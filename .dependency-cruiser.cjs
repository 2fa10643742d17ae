// The one-way folder rule of src/, checked by `npm run lint` (depcruise src --config .dependency-cruiser.cjs).
//
// Layers, top to bottom; a module may import its own folder and any folder below it, never one above:
//
//   server → resolvers → schema → status → orders → {providers, store} → pagination → core
//
// providers and store sit side by side and must not import each other. src/main.ts, src/app.ts and
// src/config.ts sit above every layer and may import anything. src/sandboxes/ is a separate tree of
// fake providers: it may import only core and itself, and only those three top-level files may
// import it. Type-only imports count like any other.

/** Top to bottom; an inner array is one level whose folders must not import each other. */
const LAYERS = ['server', 'resolvers', 'schema', 'status', 'orders', ['providers', 'store'], 'pagination', 'core'];

const TOP_LEVEL = '^src/(main|app|config)\\.ts$';
const folder = (names) => `^src/(${names.join('|')})/`;
const CHAIN = LAYERS.map((l) => (Array.isArray(l) ? `{${l.join(', ')}}` : l)).join(' → ');
const levels = LAYERS.map((level) => (Array.isArray(level) ? level : [level]));

const layerRules = levels.flatMap((level, i) => {
  const below = levels.slice(i + 1).flat();
  return level.map((name) => {
    const allowed = [name, ...below];
    return {
      name: `layers: ${name} may import only ${allowed.join(', ')}`,
      comment: `Layers import downwards only: ${CHAIN}; providers and store do not import each other.`,
      severity: 'error',
      from: { path: folder([name]) },
      // Imports of sandboxes/ are the sandboxes rule's to report.
      to: { path: '^src/', pathNot: `${folder(allowed)}|${folder(['sandboxes'])}` },
    };
  });
});

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'sandboxes: sandboxes may import only sandboxes, core',
      comment: 'src/sandboxes/ is a separate tree of fake providers: it reaches giftgraph over HTTP, as the real providers do, and shares only core.',
      severity: 'error',
      from: { path: folder(['sandboxes']) },
      to: { path: '^src/', pathNot: folder(['sandboxes', 'core']) },
    },
    {
      name: 'sandboxes: only src/main.ts, src/app.ts and src/config.ts may import sandboxes',
      comment: 'Nothing in the layers may depend on the fake providers; the top-level files start them in sandbox mode.',
      severity: 'error',
      from: { path: '^src/', pathNot: `${folder(['sandboxes'])}|${TOP_LEVEL}` },
      to: { path: folder(['sandboxes']) },
    },
    {
      name: 'layers: every module under src/ is in a layer, in sandboxes or one of main.ts, app.ts, config.ts',
      comment: 'A new folder or top-level file needs a place in this file, or the layer rules would not see it.',
      severity: 'error',
      from: { path: '^src/', pathNot: `${folder([...levels.flat(), 'sandboxes'])}|${TOP_LEVEL}` },
      to: {},
    },
    {
      name: 'no-circular',
      comment: 'No import cycles between modules, even inside one folder.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import the cruiser cannot resolve would escape every rule above.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|test/generated|coverage|\\.scratch)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
  },
};
