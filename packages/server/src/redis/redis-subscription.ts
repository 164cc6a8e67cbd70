import { Logger } from '@nestjs/common';
import type { RedisClient } from './redis-connection';

/** What a subscriber connection says of itself in the log, by what it listens for. */
export interface SubscriptionNotices {
  /** e.g. `presence changes`. */
  readonly what: string;
  /** Said when listening works again after a lost connection: what was missed meanwhile. */
  readonly missed: string;
}

/**
 * Keeps `subscriber` subscribed to `channel`: logs each loss of the
 * connection once, and its return; retries the first SUBSCRIBE until Redis
 * answers (Redis may be down when the node starts), after which ioredis
 * subscribes again by itself after every reconnect. Resolves once
 * subscribed, or once `closed()` says to stop.
 */
export function keepSubscribed(
  subscriber: RedisClient,
  channel: string,
  logger: Logger,
  notices: SubscriptionNotices,
  closed: () => boolean,
): Promise<void> {
  let lost = false;
  subscriber.on('close', () => {
    if (lost || closed()) return;
    lost = true;
    logger.warn(
      `Lost the connection that listens for ${notices.what}; reconnecting.`,
    );
  });
  subscriber.on('ready', () => {
    if (!lost) return;
    lost = false;
    logger.log(`Listening for ${notices.what} again. ${notices.missed}`);
  });
  return subscribeUntilDone(subscriber, channel, logger, notices, closed);
}

async function subscribeUntilDone(
  subscriber: RedisClient,
  channel: string,
  logger: Logger,
  notices: SubscriptionNotices,
  closed: () => boolean,
): Promise<void> {
  for (let attempt = 0; !closed(); attempt++) {
    try {
      await subscriber.subscribe(channel);
      if (attempt > 0) logger.log(`Listening for ${notices.what} again.`);
      return;
    } catch (error) {
      if (attempt === 0)
        logger.warn(
          `Could not listen for ${notices.what} yet; retrying until Redis answers: ${(error as Error).message}`,
        );
      // Unref'd: a node that stops while Redis is down need not wait for it.
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(100 * 2 ** attempt, 2_000)).unref(),
      );
    }
  }
}
