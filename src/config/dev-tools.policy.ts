/**
 * When the development helpers (`GET /dev/token`, which signs a token with any
 * scope for anyone who asks, and the demo endpoints) exist. They are safe only
 * while nobody but this machine can reach the app.
 */

const LOOPBACK_ADDRESS = /^(127(\.\d{1,3}){3}|::1|::ffff:127(\.\d{1,3}){3})$/;

/** A listen address that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  return host.toLowerCase() === 'localhost' || LOOPBACK_ADDRESS.test(host);
}

/** A client address (as Express reports it) on this machine. */
export function isLoopbackAddress(address: string | undefined): boolean {
  return address !== undefined && LOOPBACK_ADDRESS.test(address);
}

/**
 * A `Host` header naming this machine: `localhost` (or a name under it),
 * 127.x.x.x or [::1], with any port. A page on another site that rebinds its
 * own DNS name to 127.0.0.1 still sends its own name, and is refused.
 */
export function isLoopbackHostHeader(header: string | undefined): boolean {
  if (!header) return false;
  const match = /^(\[[^\]]+\]|[^:]+)(:\d{1,5})?$/.exec(header.trim());
  if (!match) return false;
  const name = match[1].toLowerCase();
  if (name === '[::1]') return true;
  return (
    name === 'localhost' ||
    name.endsWith('.localhost') ||
    /^127(\.\d{1,3}){3}$/.test(name)
  );
}

export interface DevToolsDecision {
  readonly on: boolean;
  /** Why, in a sentence for the start-up log. */
  readonly reason: string;
}

export function decideDevTools(settings: {
  production: boolean;
  host: string;
  requested: boolean | undefined;
}): DevToolsDecision {
  const { production, host, requested } = settings;
  if (production)
    return {
      on: false,
      reason:
        requested === true
          ? 'DEV_TOOLS=1 is ignored: development tools never run with NODE_ENV=production.'
          : 'they never run with NODE_ENV=production.',
    };
  if (requested === false) return { on: false, reason: 'DEV_TOOLS=0.' };
  if (requested === true)
    return {
      on: true,
      reason: isLoopbackHost(host)
        ? 'DEV_TOOLS=1.'
        : `DEV_TOOLS=1 although HOST=${host} is not loopback: they still answer only requests from this machine addressed to a loopback name.`,
    };
  return isLoopbackHost(host)
    ? {
        on: true,
        reason: `the app listens on loopback only (HOST=${host}). Set DEV_TOOLS=0 to turn them off.`,
      }
    : {
        on: false,
        reason: `HOST=${host} is not a loopback address. Set DEV_TOOLS=1 to turn them on anyway.`,
      };
}
