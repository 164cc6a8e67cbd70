import { Logger } from '@nestjs/common';
import type { NodeHub } from './hub/node-hub';

const logger = new Logger('EventBusModule');

/** How long the app's start waits for the hub before it goes on without it. */
const START_GRACE_MS = 2_000;

/**
 * Starts this node's hub, holding up the app's start only briefly: with the
 * log reachable the hub is live when the app starts listening, as before;
 * while it is unreachable the app starts anyway, serves its other routes and
 * reports not ready, and the hub reads the log as soon as it can (see
 * `startupTimeoutMs`). When that wait runs out, the error is logged and
 * thrown outside any call, so that the process ends as a failed start-up
 * would, and an orchestrator restarts it.
 */
export async function startHubInBackground(hub: NodeHub): Promise<void> {
  const started = hub.start();
  started.catch((error: unknown) => {
    logger.error((error as Error)?.message ?? String(error));
    setImmediate(() => {
      throw error;
    });
  });
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    started.catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, START_GRACE_MS);
    }),
  ]);
  clearTimeout(timer);
}
