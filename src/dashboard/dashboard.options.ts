export interface DashboardModuleOptions {
  /**
   * Development helpers: `GET /dev/token` (signs tokens for any user and
   * scopes, without authentication) and the page's demo traffic button. Never
   * enable it in production.
   * @default false
   */
  devTools?: boolean;
  /**
   * Minify the browser bundle.
   * @default false
   */
  minify?: boolean;
  /**
   * Lifetime of tokens from `GET /dev/token`, in seconds.
   * @default 3600
   */
  devTokenTtlSeconds?: number;
}

export type ResolvedDashboardOptions = Required<DashboardModuleOptions>;

export const DEFAULT_DASHBOARD_OPTIONS: ResolvedDashboardOptions = {
  devTools: false,
  minify: false,
  devTokenTtlSeconds: 3600,
};
