import { INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { EphemeralEnvelope, PresenceChange } from '@streamgate/protocol';
import { CHANNEL_PROVIDERS } from '../../src/channels/channels.providers';
import { ClientPublishService } from '../../src/channels/ephemeral/client-publish.service';
import { PresenceService } from '../../src/channels/presence/presence.service';
import { EventPublisher } from '../../src/event-bus/domain/event-publisher.port';
import { EventBusModule } from '../../src/event-bus/event-bus.module';
import type { EventBusModuleOptions } from '../../src/event-bus/event-bus.options';
import { DeliveryHub } from '../../src/event-bus/hub/delivery-hub';
import type { SubscriberTransport } from '../../src/event-bus/hub/hub.types';
import {
  EventsGatewayModuleOptions,
  resolveEventsGatewayOptions,
} from '../../src/gateway/events-gateway.options';
import { RESOLVED_EVENTS_GATEWAY_OPTIONS } from '../../src/gateway/events-gateway.tokens';

/**
 * One node with the event bus and the channel services the gateway uses,
 * without Socket.IO: tests drive `PresenceService` and watch what this
 * node's hub hands to a connection.
 */
export interface ChannelsNode {
  readonly app: INestApplicationContext;
  readonly presence: PresenceService;
  readonly clientPublish: ClientPublishService;
  readonly publisher: EventPublisher;
  readonly hub: DeliveryHub;
  /** Attaches a connection subscribed to `channels` that records what it gets. */
  connect(
    id: string,
    userId: string,
    channels: readonly string[],
  ): Promise<RecordingConnection>;
  close(): Promise<void>;
}

export interface RecordingConnection {
  readonly ephemeral: EphemeralEnvelope[];
  readonly presence: PresenceChange[];
}

export async function startChannelsNode(
  bus: EventBusModuleOptions,
  gateway: EventsGatewayModuleOptions,
): Promise<ChannelsNode> {
  @Module({
    providers: [
      {
        provide: RESOLVED_EVENTS_GATEWAY_OPTIONS,
        useValue: resolveEventsGatewayOptions(gateway),
      },
      ...CHANNEL_PROVIDERS,
    ],
    exports: [PresenceService, ClientPublishService],
  })
  class ChannelsTestModule {}

  @Module({
    imports: [
      EventBusModule.forRoot({ ...bus, isGlobal: true }),
      ChannelsTestModule,
    ],
  })
  class NodeModule {}

  const app = await NestFactory.createApplicationContext(NodeModule, {
    logger: ['error', 'warn'],
  });
  await app.init();
  const hub = app.get(DeliveryHub);
  return {
    app,
    hub,
    presence: app.get(PresenceService),
    clientPublish: app.get(ClientPublishService),
    publisher: app.get<EventPublisher>(EventPublisher),
    async connect(id, userId, channels) {
      const recording: RecordingConnection = { ephemeral: [], presence: [] };
      const transport: SubscriberTransport = {
        id,
        send: async () => undefined,
        ready: () => undefined,
        resync: () => undefined,
        evict: () => undefined,
        ephemeral: (event) => recording.ephemeral.push(event),
        presenceChanged: (change) => recording.presence.push(change),
      };
      await hub.attach(transport, { userId }, ['*'], undefined, {
        channels,
        grants: [],
      });
      return recording;
    },
    close: () => app.close(),
  };
}
