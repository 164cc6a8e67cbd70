import { randomUUID } from 'node:crypto';
import { RunningApp, startApp } from '../support/app';
import { AppProcess, spawnApp } from '../support/app-process';
import {
  PostgresServerHandle,
  startPostgresServer,
} from '../support/postgres-server';
import { HoldingProxy } from './support/holding-proxy';
import { StreamReader } from './support/stream-reader';

jest.setTimeout(120_000);

/**
 * A node that stored a message and died before announcing it: node A's
 * publish of `process_message` is held on its way to Redis (by a proxy that
 * only node A talks through), then node A gets SIGKILL. The open stream on
 * node B must still receive the message, from the outbox, within seconds.
 */
describe.each(['postgres', 'redis'] as const)(
  'An announcement whose node was killed before it (%s store)',
  (store) => {
    let postgres: PostgresServerHandle | undefined;
    let proxy: HoldingProxy;
    let nodeA: AppProcess | undefined;
    let nodeB: RunningApp | undefined;
    let reader: StreamReader | undefined;

    beforeAll(async () => {
      if (store === 'postgres') postgres = await startPostgresServer();
      proxy = await HoldingProxy.start(process.env.REDIS_URL!);
      const env = {
        EVENT_BUS_PREFIX: `sgtest-${randomUUID()}`,
        PROCESS_STORE: store,
        ...(postgres ? { DATABASE_URL: postgres.url } : {}),
      };
      nodeB = await startApp({
        ...env,
        REDIS_URL: process.env.REDIS_URL!,
        EVENT_BUS_INSTANCE_ID: 'node-b',
      });
      nodeA = await spawnApp({
        ...env,
        REDIS_URL: proxy.url,
        EVENT_BUS_INSTANCE_ID: 'node-a',
      });
    });

    afterAll(async () => {
      reader?.close();
      await nodeA?.kill('SIGKILL');
      await nodeB?.close();
      await proxy?.close();
      await postgres?.stop();
    });

    it('reaches the open stream on another node through the outbox', async () => {
      const id = `run-${randomUUID()}`;
      const writer = nodeB!.token('agent', [
        'processes:write',
        `process:${id}`,
      ]);
      const post = (url: string, payload: string) =>
        fetch(`${url}/processes/${id}/messages`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${writer}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify({ type: 'text', payload }),
        });

      expect((await post(nodeB!.url, 'first')).status).toBe(201);
      reader = await StreamReader.open(
        `${nodeB!.url}/processes/${id}/messages`,
        {
          token: nodeB!.token('reader', [`process:${id}`]),
        },
      );
      expect(reader.status).toBe(200);
      await reader.untilSeq(1, 10_000);

      const held = proxy.holdWhen('process_message');
      // Never answered: node A waits for its publish, which the proxy holds.
      const stuck = post(nodeA!.url, 'second').catch((error: Error) => error);
      await held;
      expect(await nodeA!.kill('SIGKILL')).toBe('SIGKILL');
      // The request died with its node: no answer, no status.
      expect(await stuck).not.toHaveProperty('status');

      // The grace (2 s) plus one relay interval (1 s), with room for a slow machine.
      const killedAt = Date.now();
      await reader.untilSeq(2, 10_000);
      const page = await fetch(
        `${nodeB!.url}/processes/${id}/messages?after=1`,
        { headers: { authorization: `Bearer ${writer}` } },
      ).then((response) => response.json());
      expect(page.messages.map((m: { payload: string }) => m.payload)).toEqual([
        'second',
      ]);
      expect(reader.seqs).toEqual([1, 2]);
      expect(Date.now() - killedAt).toBeLessThan(10_000);
    });
  },
);
