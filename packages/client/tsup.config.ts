import { defineConfig } from 'tsup';

const shared = {
  target: 'es2020',
  tsconfig: 'tsconfig.build.json',
  sourcemap: true,
  // The wire protocol and the SSE parser are compiled in, so socket.io-client stays the only dependency.
  noExternal: ['@streamgate/protocol', 'eventsource-parser'],
} as const;

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
    // One file for a <script> tag: socket.io-client included, exposed as `StreamgateClient`.
    entry: { 'streamgate-client.browser': 'src/index.ts' },
    format: ['iife'],
    platform: 'browser',
    globalName: 'StreamgateClient',
    minify: true,
    noExternal: [/.*/],
    outExtension: () => ({ js: '.js' }),
  },
]);
