import type { AppConfig } from './app.config';

/** What the app says about its settings when it starts, in one place. */
export const StartupMessages = {
  eventBus: (config: AppConfig) =>
    config.redisUrl
      ? `Starting node "${config.instanceId}" on Redis (${new URL(config.redisUrl).host}), prefix "${config.eventBusPrefix}".`
      : 'Starting with the in-memory event bus (REDIS_URL is not set): events stay in this process. Set REDIS_URL to use Redis Streams.',
  generatedSecret: () =>
    'JWT_SECRET is not set: tokens are signed with a random secret that changes at every start. Set JWT_SECRET to keep them valid across restarts.',
  listening: (config: AppConfig, port: number) => {
    const everywhere = config.host === '0.0.0.0' || config.host === '::';
    const shown = everywhere
      ? '127.0.0.1'
      : config.host.includes(':')
        ? `[${config.host}]`
        : config.host;
    const scope = everywhere
      ? 'every interface: other machines can connect'
      : 'only this address';
    return `Listening on http://${shown}:${port} (HOST=${config.host}: ${scope}).`;
  },
  trustedProxies: (trust: number | string[]) =>
    typeof trust === 'number'
      ? `Taking client addresses from X-Forwarded-For through ${trust} proxy hop(s) (TRUST_PROXY=${trust}).`
      : `Taking client addresses from X-Forwarded-For when sent by ${trust.join(', ')} (TRUST_PROXY).`,
  devToolsOn: (config: AppConfig) =>
    `Development tools are on (GET /dev/token signs tokens with any scope; /demo starts demo traffic), for requests from this machine only: ${config.devToolsReason}`,
  devToolsOff: (config: AppConfig) =>
    `Development tools (GET /dev/token, /demo) are off: ${config.devToolsReason}`,
};
