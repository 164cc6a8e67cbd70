import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import { EventPublisher } from '../event-bus/domain/event-publisher.port';
import { INTERNAL_EVENT_PUBLISHER } from '../event-bus/event-bus.tokens';
import { ProcessMessageStore } from './domain/process-message-store.port';
import type { AnnouncementRelaySettings } from './engine/announcement.relay';
import { ProcessMessagesEngine } from './engine/process-messages.engine';
import { ANNOUNCEMENT_RELAY_SETTINGS } from './processes.tokens';

export type { ProcessMessagePage } from './engine/process-messages.engine';

/**
 * Writes process messages and statuses and reads pages of them: the
 * `ProcessMessagesEngine` of this node, with its outbox relay running from
 * bootstrap to shutdown.
 */
@Injectable()
export class ProcessMessagesService
  extends ProcessMessagesEngine
  implements OnApplicationBootstrap, BeforeApplicationShutdown
{
  constructor(
    @Inject(ProcessMessageStore) store: ProcessMessageStore,
    // Announces reserved types, which the public publisher refuses.
    @Inject(INTERNAL_EVENT_PUBLISHER) publisher: EventPublisher,
    @Optional()
    @Inject(ANNOUNCEMENT_RELAY_SETTINGS)
    relaySettings?: AnnouncementRelaySettings,
  ) {
    super(store, publisher, relaySettings);
  }

  onApplicationBootstrap(): void {
    this.relay.start();
  }

  /** Before the store closes: a relay pass in progress finishes first. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.relay.stop();
  }
}
