import { INestApplication } from '@nestjs/common';
import { EventBusMessages } from '../event-bus/event-bus.messages';
import { EVENT_BUS_LINK } from '../event-bus/event-bus.tokens';
import type { EventBusLink } from '../event-bus/event-bus.link';
import { StreamgateIoAdapter } from '../gateway/socket-io/streamgate-io.adapter';

/** `setupStreamgate` options. */
export interface StreamgateSetupOptions {
  /**
   * Install `StreamgateIoAdapter` as the app's Socket.IO adapter, on the
   * event bus's own Redis: rooms (`user:<sub>`, `scope:<scope>`) then span
   * every node, and gateways without message handlers keep no per-socket
   * observables. `false` keeps an adapter the app set itself.
   * @default true
   */
  socketIoAdapter?: boolean;
  /**
   * Call `app.enableShutdownHooks()`, so that SIGTERM tells clients to
   * reconnect elsewhere, stops the node reader and closes connections
   * before the process ends. `false` when the app handles signals itself
   * and calls `app.close()`.
   * @default true
   */
  shutdownHooks?: boolean;
}

/**
 * What a host's `main.ts` does for streamgate, in one call between
 * `NestFactory.create` and `app.listen`:
 *
 * ```ts
 * const app = await NestFactory.create(AppModule);
 * setupStreamgate(app);
 * await app.listen(3000);
 * ```
 *
 * Both parts are app-wide, which is why a module cannot do them on its own:
 * Nest takes the Socket.IO adapter from the app (and it serves the host's
 * gateways too), and signal handling belongs to the process.
 */
export function setupStreamgate<T extends INestApplication>(
  app: T,
  options: StreamgateSetupOptions = {},
): T {
  let bus: EventBusLink;
  try {
    bus = app.get<EventBusLink>(EVENT_BUS_LINK, { strict: false });
  } catch {
    throw new Error(EventBusMessages.missingModule('setupStreamgate'));
  }
  if (options.socketIoAdapter ?? true) {
    const { driver, redis, prefix } = bus.options;
    app.useWebSocketAdapter(
      new StreamgateIoAdapter(app, {
        redis: driver === 'redis' ? redis : undefined,
        prefix,
      }),
    );
  }
  if (options.shutdownHooks ?? true) app.enableShutdownHooks();
  return app;
}
