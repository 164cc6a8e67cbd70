/*
 * The part of a `pg` pool the PostgreSQL store uses. A `pg.Pool` has all of
 * it. Declaring it here keeps `pg`, an optional peer, out of the package's
 * public types: a host that does not install `pg` (or `@types/pg`) still
 * type-checks with `skipLibCheck: false`.
 */

export interface PgQueryResult<R> {
  readonly rows: R[];
}

/** A client checked out of the pool, for a transaction. */
export interface PgPoolClient {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- pg's own default row type
  query<R extends object = any>(
    text: string,
    values?: unknown[],
  ): Promise<PgQueryResult<R>>;
  /** Back to the pool; with an error, the connection is destroyed instead. */
  release(error?: Error | boolean): void;
}

/** A `pg.Pool`, or anything with the same methods. */
export interface PgPool {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- pg's own default row type
  query<R extends object = any>(
    text: string,
    values?: unknown[],
  ): Promise<PgQueryResult<R>>;
  connect(): Promise<PgPoolClient>;
  end(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): unknown;
}
