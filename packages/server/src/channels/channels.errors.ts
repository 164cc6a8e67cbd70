import { EventLogUnavailableError } from '../event-bus/domain/errors';

/**
 * Presence could not be read or written (Redis down). A transport answers
 * `unavailable`, as for the log, whose error it extends.
 */
export class PresenceUnavailableError extends EventLogUnavailableError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PresenceUnavailableError';
  }
}

/** A presence or client-publish call for a channel where it is not on; the transport answers `not_enabled`. */
export class ChannelFeatureNotEnabledError extends Error {
  constructor(
    readonly feature: 'presence' | 'clientPublish',
    readonly channel: string,
  ) {
    super(
      `${feature === 'presence' ? 'Presence' : 'Client publish'} is not on for the channel "${channel.slice(0, 80)}"; add it (or a prefix pattern such as "room:*") to the gateway's ${feature}.channels option.`,
    );
    this.name = 'ChannelFeatureNotEnabledError';
  }
}
