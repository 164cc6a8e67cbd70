import { EventPublisher } from '@streamgate/server';
import { RunningApp, startApp } from '../support/app';
import { RawClient } from '../support/raw-client';
import { waitFor } from '../support/wait-for';

describe('operations endpoints', () => {
  let node: RunningApp;
  beforeAll(async () => {
    node = await startApp({
      REDIS_URL: process.env.REDIS_URL!,
      EVENT_BUS_PREFIX: `ops${Date.now().toString(36)}`,
      EVENT_BUS_INSTANCE_ID: 'ops-node',
    });
  });
  afterAll(() => node.close());

  describe('when the node is healthy', () => {
    it('answers liveness and readiness with the checks that passed', async () => {
      const live = await fetch(`${node.url}/health`);
      expect(live.status).toBe(200);
      const ready = await fetch(`${node.url}/health/ready`);
      expect(ready.status).toBe(200);
      const body = await ready.json();
      expect(body.status).toBe('ok');
      expect(Object.keys(body.info).sort()).toEqual(['lag', 'reader', 'redis']);
    });
  });

  describe('when events flow', () => {
    it('exposes Prometheus counters for publishing, delivery and recovery', async () => {
      const client = new RawClient(node.url, {
        token: node.token('m', ['*']),
        lastEventId: 'garbage',
      });
      await waitFor(() => client.readies.length === 1, 'ready');
      await node.app.get<EventPublisher>(EventPublisher).publishMany([
        { type: 'x', data: 1 },
        { type: 'x', data: 2 },
      ]);
      await waitFor(() => client.events.length === 2, 'delivery');
      const text = await waitFor(async () => {
        const body = await (await fetch(`${node.url}/metrics`)).text();
        return /streamgate_events_delivered_total 2/.test(body) ? body : null;
      }, 'the delivered counter');
      expect(text).toMatch(/streamgate_events_published_total 2/);
      expect(text).toMatch(
        /streamgate_ready_total\{recovered="false",reason="invalid_cursor"\} 1/,
      );
      expect(text).toMatch(/streamgate_connected_clients 1/);
      expect(text).toMatch(/streamgate_reader_lag_entries \d+/);
      expect(text).toMatch(
        /streamgate_consumer_group_pending\{group="node:ops-node"\} \d+/,
      );
      expect(text).toMatch(/streamgate_delivery_latency_seconds_bucket/);
      client.close();
    });
  });
});
