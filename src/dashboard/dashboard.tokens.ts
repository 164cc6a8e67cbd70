/** The resolved `DashboardModule` options. */
export const DASHBOARD_OPTIONS = 'DASHBOARD:OPTIONS';
