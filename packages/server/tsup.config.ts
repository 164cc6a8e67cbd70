import { cpSync } from 'node:fs';
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', testing: 'src/testing.ts' },
  format: ['cjs'],
  target: 'es2022',
  platform: 'node',
  tsconfig: 'tsconfig.build.json',
  // One shared chunk keeps one copy of every class and token for both entries.
  splitting: true,
  dts: { resolve: ['@streamgate/protocol'] },
  sourcemap: true,
  // The wire protocol is compiled in; everything else is a dependency or peer.
  noExternal: ['@streamgate/protocol'],
  async onSuccess() {
    cpSync('src/processes/adapters/postgres/migrations', 'dist/migrations', {
      recursive: true,
    });
  },
});
