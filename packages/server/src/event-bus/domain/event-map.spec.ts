import { EventPublisher } from './event-publisher.port';
import { EventSubscription } from './event-subscription.port';
import { NewEvent } from './event';

type Events = {
  agent_activity: { agent: string };
  invoice_due: { amount: number };
};

/*
 * The type checks are the test: `tsc` (run by lint) fails on an unused
 * `@ts-expect-error`, so each line below holds one rule of the event map.
 */
/** Ephemeral events resolve with no id, durable ones with one. */
async function deliveries(publisher: EventPublisher<Events>): Promise<void> {
  const id: string = await publisher.publish({
    type: 'agent_activity',
    data: { agent: 'a' },
  });
  const none: null = await publisher.publish({
    type: 'agent_activity',
    data: { agent: 'a' },
    delivery: 'ephemeral',
  });
  const nones: null[] = await publisher.publishMany([
    { type: 'invoice_due', data: { amount: 1 }, delivery: 'ephemeral' },
  ]);
  // @ts-expect-error an ephemeral event has no id
  const wrong: string = await publisher.publish({
    type: 'agent_activity',
    data: { agent: 'a' },
    delivery: 'ephemeral',
  });
  // @ts-expect-error data must match its type when ephemeral too
  void publisher.publish({
    type: 'agent_activity',
    data: { amount: 3 },
    delivery: 'ephemeral',
  });
  void [id, none, nones, wrong];
}
void deliveries;

function typed(
  publisher: EventPublisher<Events>,
  subscription: EventSubscription<Events>,
  untyped: EventPublisher,
): void {
  void publisher.publish({ type: 'agent_activity', data: { agent: 'a' } });
  void publisher.publishMany([
    { type: 'agent_activity', data: { agent: 'a' }, scopes: ['agent:a'] },
    { type: 'invoice_due', data: { amount: 3 } },
  ]);
  // @ts-expect-error data must match its type
  void publisher.publish({ type: 'agent_activity', data: { amount: 3 } });
  // @ts-expect-error an unknown type
  void publisher.publish({ type: 'agent_activty', data: { agent: 'a' } });
  void publisher.publishMany([
    // @ts-expect-error data must match its type in a batch too
    { type: 'invoice_due', data: { agent: 'a' } },
  ]);
  void subscription.consume(
    'billing',
    async (event) => {
      const amount: number = event.data.amount;
      // @ts-expect-error only the filtered type reaches the handler
      const agent: string = event.data.agent;
      void amount;
      void agent;
    },
    { types: ['invoice_due'] },
  );
  // The default keeps the untyped API.
  const event: NewEvent = { type: 'anything', data: [1, 'x'] };
  void untyped.publish(event);
}

describe('an event map', () => {
  it('types publishing and consuming (checked by tsc)', () => {
    expect(typeof typed).toBe('function');
  });
});
