import { SetMetadata } from '@nestjs/common';

export const REQUIRED_SCOPE = 'streamgate:required-scope';

/** A scope, or a function of the request that computes it (e.g. `process:<id>`). */
export type RequiredScope =
  string | ((request: { params: Record<string, string> }) => string);

/**
 * The scope a route guarded by `BearerAuthGuard` requires. Holders of `*`
 * pass.
 */
export const RequireScope = (scope: RequiredScope) =>
  SetMetadata(REQUIRED_SCOPE, scope);
