/**
 * A node for crash tests, run as its own process: it joins the users of
 * `PRESENT_USERS` (comma-separated) to `PRESENCE_CHANNEL`, prints
 * `PRESENT`, and runs until killed.
 */
import { startChannelsNode } from './channels-node';

async function main(): Promise<void> {
  const env = process.env;
  const channel = env.PRESENCE_CHANNEL!;
  const node = await startChannelsNode(
    {
      driver: 'redis',
      redis: { url: env.REDIS_URL! },
      prefix: env.EVENT_PREFIX!,
      instanceId: 'crashing-node',
    },
    {
      presence: {
        channels: [channel],
        timeoutMs: Number(env.PRESENCE_TIMEOUT_MS),
      },
    },
  );
  for (const userId of env.PRESENT_USERS!.split(','))
    await node.presence.join(channel, `conn-${userId}`, { userId });
  process.stdout.write('PRESENT\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
