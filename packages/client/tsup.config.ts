import { defineConfig, Options } from 'tsup';

const shared = {
  target: 'es2020',
  tsconfig: 'tsconfig.build.json',
  sourcemap: true,
  // The wire protocol and the SSE parser are compiled in, so socket.io-client stays the only dependency.
  noExternal: ['@streamgate/protocol', 'eventsource-parser'],
} satisfies Options;

export default defineConfig([
  {
    ...shared,
    entry: { index: 'src/index.ts' },
    format: ['esm', 'cjs'],
    platform: 'neutral',
    dts: { resolve: ['@streamgate/protocol', 'eventsource-parser'] },
    outExtension: ({ format }) => ({ js: format === 'esm' ? '.mjs' : '.cjs' }),
  },
  {
    ...shared,
    // The React bindings import the client by its own package name, so that
    // an app that uses both holds one StreamgateClient class, not two.
    entry: { react: 'src/react/index.ts' },
    format: ['esm', 'cjs'],
    platform: 'neutral',
    external: ['@streamgate/client', 'react'],
    dts: { resolve: ['@streamgate/protocol'] },
    outExtension: ({ format }) => ({ js: format === 'esm' ? '.mjs' : '.cjs' }),
  },
  {
    ...shared,
    // One file for a <script> tag: socket.io-client included. The global
    // `StreamgateClient` is the class (the entry's default export), not the
    // module's namespace object.
    entry: { 'streamgate-client.browser': 'src/browser.ts' },
    format: ['iife'],
    platform: 'browser',
    globalName: 'StreamgateClient',
    footer: { js: 'StreamgateClient=StreamgateClient.default;' },
    minify: true,
    noExternal: [/.*/],
    outExtension: () => ({ js: '.js' }),
  },
]);
