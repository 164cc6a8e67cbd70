import { Logger } from '@nestjs/common';
import { DeliveryHub } from './hub/delivery-hub';

const logger = new Logger('EventBusModule');

/**
 * Starts this node's hub without holding up the app's start: while the log
 * is unreachable the app serves its other routes and reports not ready, and
 * the hub reads the log as soon as it can (see `startupTimeoutMs`). When the
 * wait runs out, the error is logged and thrown outside any call, so that
 * the process ends as a failed start-up would, and an orchestrator restarts
 * it.
 */
export function startHubInBackground(hub: DeliveryHub): void {
  hub.start().catch((error: unknown) => {
    logger.error((error as Error)?.message ?? String(error));
    setImmediate(() => {
      throw error;
    });
  });
}
