// Bundles the dashboard's browser code into dist/ at build time, so that a
// production image serves it without esbuild.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('..', import.meta.url));
const { buildDashboardBundle, DASHBOARD_BUNDLE } = require(
  join(root, 'dist/dashboard/dashboard-bundle.js'),
);

const text = await buildDashboardBundle(
  join(root, 'src/dashboard/browser/dashboard.ts'),
  { minify: true },
);
const target = join(root, 'dist/dashboard/assets', DASHBOARD_BUNDLE);
writeFileSync(target, text);
console.log(`Wrote ${target} (${Math.round(text.length / 1024)} kB).`);
