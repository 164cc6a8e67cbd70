/** Log lines and error messages of the dashboard, in one place. */
export const DashboardMessages = {
  bundleBuilt: (bytes: number, ms: number) =>
    `Built the dashboard bundle (${Math.round(bytes / 1024)} kB) in ${ms} ms.`,
  bundleFailed: (cause: string) =>
    `Could not build the dashboard bundle: ${cause} The next request tries again.`,
  esbuildMissing: () =>
    'The dashboard bundle was not built (dist/dashboard/assets/dashboard.js is missing) and esbuild, a dev dependency, is not installed to build it now. Run `npm run build` before deploying.',
  entryMissing: (paths: readonly string[]) =>
    `The dashboard source is missing; looked for ${paths.join(' and ')}.`,
  assetMissing: (path: string) =>
    `The dashboard asset ${path} is missing; run \`npm run build\`, which copies src/dashboard/assets into dist/.`,
  invalidSub: (value: unknown) =>
    `sub must be a user id of 1 to 128 characters: letters, digits, "_", ".", ":", "@" and "-", starting with a letter or digit (got ${JSON.stringify(value)}).`,
  invalidScopes: (value: unknown) =>
    `scopes must be a comma-separated list of at most 32 scopes without spaces, e.g. "*" or "agent:coder,role:operator" (got ${JSON.stringify(value)}).`,
};
