import { isValidScope, WILDCARD_SCOPE } from './scope';

/**
 * What a connection asked to receive: its channels (scopes it subscribes
 * to) and those of them that the host's channel authorizer granted beyond
 * its token's scopes. `null` (or no selection at all) means unfiltered:
 * everything visible, as in protocol v1.
 */
export interface ChannelSelection {
  readonly channels: readonly string[];
  /** Channels granted by the authorizer; they count as scopes only while subscribed. */
  readonly grants: readonly string[];
}

/**
 * What one connection receives at a time: the events it may see (every
 * scope of the event among its token's scopes and its grants, or `*`)
 * that are in its set (one of their scopes is a subscribed channel, or
 * they are unscoped), or everything visible when unfiltered.
 */
export interface ChannelAccess {
  readonly scopes: readonly string[];
  readonly grants: readonly string[];
  /** `null`: unfiltered. */
  readonly channels: ReadonlySet<string> | null;
  /** The token's scopes and the grants: what the connection may see. */
  readonly held: ReadonlySet<string>;
}

/**
 * Builds a connection's access. Grants count only for channels in the set:
 * a grant outside it would widen what the connection sees beyond what it
 * subscribes to, so it is dropped (fail closed).
 */
export function channelAccess(
  scopes: readonly string[],
  selection: ChannelSelection | null | undefined,
): ChannelAccess {
  if (selection == null)
    return { scopes, grants: NO_GRANTS, channels: null, held: new Set(scopes) };
  const channels = new Set(selection.channels);
  const grants = [...new Set(selection.grants)].filter((grant) =>
    channels.has(grant),
  );
  return {
    scopes,
    grants: grants.length === 0 ? NO_GRANTS : grants,
    channels,
    held: new Set([...scopes, ...grants]),
  };
}

const NO_GRANTS: readonly string[] = Object.freeze([]);

/** Whether `access` may see an event naming `scopes` (malformed scopes: no). */
export function isVisibleWith(
  scopes: readonly string[],
  access: ChannelAccess,
): boolean {
  if (!Array.isArray(scopes)) return false;
  const all = access.held.has(WILDCARD_SCOPE);
  for (const scope of scopes) {
    if (!isValidScope(scope)) return false;
    if (!all && !access.held.has(scope)) return false;
  }
  return true;
}

/** Whether an event naming `scopes` is in the set (`null`: every event is). */
export function isInChannels(
  scopes: readonly string[],
  channels: ReadonlySet<string> | null,
): boolean {
  if (channels === null || scopes.length === 0) return true;
  for (const scope of scopes) if (channels.has(scope)) return true;
  return false;
}

/** Whether `access` receives an event naming `scopes`. */
export function receives(
  scopes: readonly string[],
  access: ChannelAccess,
): boolean {
  return isVisibleWith(scopes, access) && isInChannels(scopes, access.channels);
}

/**
 * Whether everything `next` receives, `previous` received too: then a
 * switch from `previous` to `next` needs no memory of `previous`, since
 * judging an earlier event by `next` alone is at least as strict.
 */
export function isNarrowing(
  previous: ChannelAccess,
  next: ChannelAccess,
): boolean {
  if (!previous.held.has(WILDCARD_SCOPE)) {
    for (const scope of next.held) if (!previous.held.has(scope)) return false;
  }
  if (previous.channels === null) return true;
  if (next.channels === null) return false;
  for (const channel of next.channels)
    if (!previous.channels.has(channel)) return false;
  return true;
}

/** The same subscription set and grants, with the token's new scopes. */
export function withScopes(
  access: ChannelAccess,
  scopes: readonly string[],
): ChannelAccess {
  return channelAccess(
    scopes,
    access.channels === null
      ? null
      : { channels: [...access.channels], grants: access.grants },
  );
}
