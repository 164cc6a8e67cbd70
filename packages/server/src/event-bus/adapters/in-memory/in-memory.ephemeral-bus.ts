import type {
  EphemeralBus,
  EphemeralEvent,
} from '../../domain/ephemeral-event';

type Listener = (event: EphemeralEvent) => void;

/**
 * Ephemeral events within one process: every app built on the same
 * `InMemoryEventLog` (tests that run two nodes in one process) shares one.
 * Listeners hear an event on a later tick, as they would from Redis, so a
 * publisher never runs delivery code inside its own call.
 */
export class InMemoryEphemeralBus implements EphemeralBus {
  private readonly listeners = new Set<Listener>();

  publish(events: readonly EphemeralEvent[]): Promise<void> {
    if (events.length === 0 || this.listeners.size === 0)
      return Promise.resolve();
    // Each listener gets its own copy, as listeners on other nodes would.
    const copies = events.map((event) => JSON.stringify(event));
    setImmediate(() => {
      for (const listener of [...this.listeners]) {
        for (const copy of copies) {
          try {
            listener(JSON.parse(copy) as EphemeralEvent);
          } catch {
            // A listener's failure is its own (the hub logs and counts it);
            // the other listeners still hear the event.
          }
        }
      }
    });
    return Promise.resolve();
  }

  subscribe(listener: Listener): Promise<() => Promise<void>> {
    // A function identity per subscription, so one listener may subscribe twice.
    const own: Listener = (event) => listener(event);
    this.listeners.add(own);
    return Promise.resolve(async () => {
      this.listeners.delete(own);
    });
  }
}

const shared = new WeakMap<object, InMemoryEphemeralBus>();

/** The bus of the apps that share `log`. */
export function inMemoryEphemeralBusOf(log: object): InMemoryEphemeralBus {
  let bus = shared.get(log);
  if (!bus) {
    bus = new InMemoryEphemeralBus();
    shared.set(log, bus);
  }
  return bus;
}
