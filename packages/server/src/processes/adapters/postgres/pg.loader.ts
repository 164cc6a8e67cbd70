import type * as pg from 'pg';

/**
 * `pg` is an optional peer: loaded only when a PostgreSQL store is built, so
 * hosts that never use one need not install it.
 */
export function loadPg(): typeof pg {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('pg') as typeof pg;
  } catch (error) {
    throw new Error(
      'The PostgreSQL process store needs the "pg" package: npm install pg',
      { cause: error },
    );
  }
}
