import { RunningApp, startApp } from '../support/app';
import { RawClient } from '../support/raw-client';
import { waitFor } from '../support/wait-for';

/**
 * The reference app with its log in partitions (`EVENT_PARTITIONS`): what
 * an operator scrapes and probes names the partitions this node reads, and
 * nothing more (a partition no connection needs is not read).
 */
describe('operations of a partitioned log (reference app)', () => {
  let node: RunningApp;

  beforeAll(async () => {
    node = await startApp({
      REDIS_URL: process.env.REDIS_URL!,
      EVENT_BUS_PREFIX: `opp${Date.now().toString(36)}`,
      EVENT_BUS_INSTANCE_ID: 'partitioned-node',
      EVENT_PARTITIONS: '4',
      EVENT_PARTITION_SCOPE: 'tenant:',
    });
  });

  afterAll(async () => {
    await node?.close();
  });

  it('labels reader metrics by partition and is ready with the partitions it reads caught up', async () => {
    const client = new RawClient(node.url, {
      token: node.token('m', ['tenant:a']),
    });
    try {
      await waitFor(() => client.readies.length === 1, 'ready');
      // `tenant:a` reads partition 0 and its own: two readers run.
      const text = await (await fetch(`${node.url}/metrics`)).text();
      expect(text).toMatch(
        /^streamgate_partition_readers\{state="running"\} 2$/m,
      );
      expect(text).toMatch(
        /^streamgate_partition_reader_starts_total\{partition="0"\} 1$/m,
      );
      const labelled = new Set(
        [
          ...text.matchAll(/^streamgate_partition_\w+\{partition="(\w+)"/gm),
        ].map((m) => m[1]),
      );
      expect(labelled.size).toBe(2);
      const ready = await fetch(`${node.url}/health/ready`);
      expect(ready.status).toBe(200);
      expect(JSON.stringify(await ready.json())).toContain('partitions');
    } finally {
      client.close();
    }
  });
});
