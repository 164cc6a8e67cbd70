/** File name of the built bundle, next to the dashboard's other assets. */
export const DASHBOARD_BUNDLE = 'dashboard.js';

/**
 * Bundles the dashboard's browser code with esbuild. Used by `npm run build`
 * and, when the app runs from source, on the first request. esbuild is a dev
 * dependency, loaded only here.
 */
export async function buildDashboardBundle(
  entry: string,
  options: { minify: boolean },
): Promise<string> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'iife',
    target: ['es2020'],
    minify: options.minify,
    legalComments: 'none',
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}
