import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { errorText } from '../../event-bus/domain/errors';
import type { EventBusLink } from '../../event-bus/event-bus.link';
import { EVENT_BUS_LINK } from '../../event-bus/event-bus.tokens';

/**
 * Hands every ephemeral event any node publishes to this node's hub, which
 * sends it to the connections that see it and subscribe to one of its
 * channels (or are unfiltered).
 */
@Injectable()
export class EphemeralDelivery
  implements OnApplicationBootstrap, BeforeApplicationShutdown
{
  private readonly logger = new Logger(EphemeralDelivery.name);
  private stop: (() => Promise<void>) | null = null;
  private stopped = false;

  constructor(@Inject(EVENT_BUS_LINK) private readonly link: EventBusLink) {}

  onApplicationBootstrap(): void {
    const { hub, log } = this.link;
    // Listening waits for Redis, which the node does not wait for at start.
    log.ephemeral
      .subscribe((event) => {
        try {
          hub.deliverEphemeral(event);
        } catch (error) {
          this.logger.error(
            `An ephemeral event of type "${String(event.type).slice(0, 128)}" could not be delivered: ${errorText(error)}`,
          );
        }
      })
      .then(
        (stop) => {
          if (this.stopped) void stop();
          else this.stop = stop;
        },
        (error: unknown) =>
          this.logger.error(
            `Could not listen for ephemeral events: ${errorText(error)}`,
          ),
      );
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.stop?.();
    this.stop = null;
  }
}
