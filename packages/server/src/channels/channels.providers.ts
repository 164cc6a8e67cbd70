import type { Provider } from '@nestjs/common';
import type { EventBusLink } from '../event-bus/event-bus.link';
import { EVENT_BUS_LINK } from '../event-bus/event-bus.tokens';
import { ClientPublishService } from './ephemeral/client-publish.service';
import { EphemeralDelivery } from './ephemeral/ephemeral-delivery';
import { createPresenceStore } from './presence/presence-store.factory';
import { PresenceStore } from './presence/presence-store.port';
import { PresenceService } from './presence/presence.service';
import { CHANNELS_OBSERVER } from './channels.tokens';
import { RESOLVED_EVENTS_GATEWAY_OPTIONS } from '../gateway/events-gateway.tokens';
import type { ResolvedEventsGatewayOptions } from '../gateway/events-gateway.options';

/**
 * Presence and ephemeral events, for `EventsGatewayModule`: it needs
 * `RESOLVED_EVENTS_GATEWAY_OPTIONS` and the event bus's link. The gateway
 * calls `PresenceService` and `ClientPublishService`; `EphemeralDelivery`
 * hands every node's ephemeral events to this node's hub.
 */
export const CHANNEL_PROVIDERS: Provider[] = [
  {
    provide: CHANNELS_OBSERVER,
    inject: [EVENT_BUS_LINK],
    useFactory: (link: EventBusLink) => link.observers.observer,
  },
  {
    provide: PresenceStore,
    inject: [EVENT_BUS_LINK, RESOLVED_EVENTS_GATEWAY_OPTIONS],
    useFactory: (link: EventBusLink, gateway: ResolvedEventsGatewayOptions) =>
      createPresenceStore(
        // Without presence channels nothing is stored: no Redis connection.
        gateway.presence.channels.length === 0
          ? { ...link.options, driver: 'memory' }
          : link.options,
        link.log.settings.instanceId,
        link.log.ephemeral,
      ),
  },
  PresenceService,
  ClientPublishService,
  EphemeralDelivery,
];
