import { Inject, Injectable } from '@nestjs/common';
import { MAX_CLIENT_PUBLISH_BYTES } from '@streamgate/protocol';
import {
  InvalidEventError,
  rejectReservedType,
  validateNewEvent,
} from '../../event-bus/domain/event';
import type { EphemeralEvent } from '../../event-bus/domain/ephemeral-event';
import {
  errorText,
  EventLogUnavailableError,
} from '../../event-bus/domain/errors';
import type { EventBusLink } from '../../event-bus/event-bus.link';
import { EVENT_BUS_LINK } from '../../event-bus/event-bus.tokens';
import { RESOLVED_EVENTS_GATEWAY_OPTIONS } from '../../gateway/events-gateway.tokens';
import { matchesChannelPattern } from '../channel-patterns';
import { ChannelFeatureNotEnabledError } from '../channels.errors';

/** A client's `publish`, with who sent it. */
export interface ClientPublish {
  readonly channel: string;
  readonly type: string;
  readonly data: unknown;
  /** The publishing user's id, delivered as `from`. */
  readonly from: string;
  /** The publishing connection's id, which does not receive the event back. */
  readonly origin: string;
}

/**
 * Client publish (typing indicators): an ephemeral event to one channel,
 * delivered with `from` to the channel's other subscribers on every node.
 * Whether the connection may publish there (it subscribes to the channel)
 * and how often is the gateway's to check; this service checks that client
 * publish is on for the channel and the event itself.
 */
@Injectable()
export class ClientPublishService {
  private readonly channels: readonly string[];

  constructor(
    @Inject(RESOLVED_EVENTS_GATEWAY_OPTIONS)
    gateway: {
      readonly clientPublish: { readonly channels: readonly string[] };
    },
    @Inject(EVENT_BUS_LINK) private readonly link: EventBusLink,
  ) {
    this.channels = gateway.clientPublish.channels;
  }

  /** Whether clients may publish to `channel` (`clientPublish.channels`). */
  enabledFor(channel: string): boolean {
    return matchesChannelPattern(this.channels, channel);
  }

  /**
   * Rejects with `ChannelFeatureNotEnabledError` (`not_enabled`),
   * `InvalidEventError` naming the field (`invalid`: a bad type, a reserved
   * one, data that is not JSON or is over `MAX_CLIENT_PUBLISH_BYTES`), or
   * `EventLogUnavailableError` (`unavailable`).
   */
  async publishFromClient(publish: ClientPublish): Promise<void> {
    if (
      typeof publish.channel !== 'string' ||
      !this.enabledFor(publish.channel)
    )
      throw new ChannelFeatureNotEnabledError(
        'clientPublish',
        String(publish.channel),
      );
    const valid = validateNewEvent({
      type: publish.type,
      data: publish.data,
      scopes: [publish.channel],
    });
    rejectReservedType(valid.type, 'type');
    const bytes = Buffer.byteLength(JSON.stringify(valid.data), 'utf8');
    if (bytes > MAX_CLIENT_PUBLISH_BYTES)
      throw new InvalidEventError(
        `data is ${bytes} bytes as JSON; a client publish may hold at most ${MAX_CLIENT_PUBLISH_BYTES}.`,
        'data',
      );
    const event: EphemeralEvent = {
      type: valid.type,
      data: valid.data,
      scopes: [publish.channel],
      ts: Date.now(),
      from: publish.from,
      channel: publish.channel,
      origin: publish.origin,
    };
    const { log, observers } = this.link;
    try {
      await log.ephemeral.publish([event]);
    } catch (error) {
      observers.observer.ephemeralDropped?.(1, 'publish_failed');
      throw new EventLogUnavailableError(
        `Could not hand a client's ephemeral event to the nodes: ${errorText(error)}.`,
        { cause: error },
      );
    }
    observers.observer.ephemeralPublished?.(1);
  }
}
