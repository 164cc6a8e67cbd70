/** The resolved `ActivityModule` options. */
export const ACTIVITY_OPTIONS = 'ACTIVITY:OPTIONS';
