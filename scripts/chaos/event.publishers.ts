import { EventLog, NewEvent } from '@streamgate/server';
import {
  AGENT_SCOPES,
  ROLE_SCOPE,
  randomEventScopes,
} from './client.population';
import { SeededRandom } from './seeded.random';
import { PublishRecord, PublishVia } from './soak.record';

export interface PublisherContext {
  readonly nodeCount: number;
  url(node: number): string;
  isUp(node: number): boolean;
  now(): number;
  /** Bearer token with `events:publish`. */
  readonly publishToken: string;
  /** The in-process port on the same log as the nodes. */
  readonly log: EventLog;
  readonly defect: ReadonlySet<string>;
  /**
   * Whether the log honours idempotency keys: then every publish carries its
   * id as the key (the `Idempotency-Key` header, the port's `idempotencyKey`)
   * and a failed one is retried with it, which must never write it twice.
   */
  readonly idempotent: boolean;
  /**
   * With partitions: every event of a batch has the first one's partition
   * key (the smallest `agent:` scope, or none), since a batch across
   * partitions is refused.
   */
  readonly samePartitionBatches?: boolean;
}

/** The port's publish with the idempotency option of logs that have it. */
interface KeyedPublisher {
  publish(
    event: NewEvent,
    options?: { idempotencyKey?: string },
  ): Promise<string>;
  publishMany(
    events: readonly NewEvent[],
    options?: { idempotencyKey?: string },
  ): Promise<string[]>;
}

/** Tries of one publish when the log honours idempotency keys. */
const KEYED_ATTEMPTS = 3;

/** The most publishes of one kind in flight; beyond it a tick is skipped (and counted). */
const MAX_IN_FLIGHT = 400;
/** A request still unanswered after this is given up on, and counted as failed. */
const HTTP_TIMEOUT_MS = 30_000;

/**
 * Publishers at a steady rate: over HTTP (`POST /events`, one event or a
 * batch, to a random node) and through the port in this process
 * (`EventPublisher` of a log made with `createEventLog`). Every publish
 * carries a unique id in its data and is recorded with its outcome.
 */
export class EventPublishers {
  readonly records: PublishRecord[] = [];
  private readonly inFlight = new Map<PublishVia, number>([
    ['http', 0],
    ['port', 0],
  ]);
  private readonly pending = new Set<Promise<void>>();
  private timers: NodeJS.Timeout[] = [];
  private counter = 0;
  private resolvedCount = 0;
  skippedTicks = 0;

  constructor(
    private readonly context: PublisherContext,
    private readonly random: SeededRandom,
  ) {}

  /** Starts both publishers, each at `perSecond` publishes a second. */
  start(perSecond: number): void {
    const every = 1000 / perSecond;
    for (const via of ['http', 'port'] as const) {
      this.timers.push(setInterval(() => this.tick(via), every));
    }
  }

  /** Stops publishing and waits for every publish in flight to settle. */
  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    await Promise.allSettled([...this.pending]);
  }

  /** How the fence was published: the port, or HTTP when the port kept failing. */
  fenceVia: PublishVia = 'port';

  /** Publishes one unscoped event through the port, retrying until it lands; every client must reach it. */
  async fence(): Promise<string> {
    const fence = { type: 'soak.fence', data: { pub: 'fence' }, scopes: [] };
    for (let attempt = 1; ; attempt++) {
      try {
        // After five failures of the port, every other try goes over HTTP:
        // a port stuck on a stale view of the cluster must not keep the
        // soak from its verdict (its failed publishes are counted).
        if (attempt > 5 && attempt % 2 === 0) {
          const [id] = await this.overHttp(this.pickNode(), [fence], 'fence');
          this.fenceVia = 'http';
          return id;
        }
        return await this.context.log.publisher.publish(fence);
      } catch (error) {
        if (attempt >= 60) throw error;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private tick(via: PublishVia): void {
    if ((this.inFlight.get(via) ?? 0) >= MAX_IN_FLIGHT) {
      this.skippedTicks++;
      return;
    }
    const count = this.random.chance(0.2) ? this.random.int(2, 5) : 1;
    const scopes = Array.from({ length: count }, () =>
      randomEventScopes(this.random),
    );
    if (this.context.samePartitionBatches)
      for (let i = 1; i < count; i++)
        scopes[i] = samePartition(scopes[0], this.random);
    const node = via === 'http' ? this.pickNode() : -1;
    const record: PublishRecord = {
      pub: `${via === 'http' ? 'h' : 'p'}${++this.counter}`,
      via,
      node,
      count,
      scopes,
      sentAt: this.context.now(),
      settledAt: null,
      outcome: 'pending',
      attempts: 0,
      ids: null,
      error: null,
    };
    this.records.push(record);
    const events = scopes.map((s, part) => ({
      type: 'soak.tick',
      data: { pub: record.pub, part },
      scopes: s,
    }));
    this.inFlight.set(via, (this.inFlight.get(via) ?? 0) + 1);
    const work = this.withRetries(record, events)
      .then(
        (ids) => {
          record.outcome = 'resolved';
          // The `publish` defect records every 100th resolved publish with ids the log never gave.
          record.ids =
            this.context.defect.has('publish') &&
            ++this.resolvedCount % 100 === 0
              ? ids.map((id) => id.replace(/-(\d+)$/, '-9$1'))
              : ids;
        },
        (error: unknown) => {
          record.outcome = 'failed';
          record.error = (error as Error)?.message ?? String(error);
        },
      )
      .finally(() => {
        record.settledAt = this.context.now();
        this.inFlight.set(via, (this.inFlight.get(via) ?? 1) - 1);
        this.pending.delete(work);
      });
    this.pending.add(work);
  }

  /** One try, or with idempotency keys up to three, a second and then two apart, each to a random node. */
  private async withRetries(
    record: PublishRecord,
    events: { type: string; data: unknown; scopes: string[] }[],
  ): Promise<string[]> {
    const tries = this.context.idempotent ? KEYED_ATTEMPTS : 1;
    for (let attempt = 1; ; attempt++) {
      record.attempts = attempt;
      try {
        return record.via === 'http'
          ? await this.overHttp(
              attempt === 1 ? record.node : this.pickNode(),
              events,
              record.pub,
            )
          : await this.overPort(events, record.pub);
      } catch (error) {
        if (attempt >= tries) throw error;
        await new Promise((r) => setTimeout(r, attempt * 1000));
      }
    }
  }

  private pickNode(): number {
    const all = Array.from({ length: this.context.nodeCount }, (_, i) => i);
    const up = all.filter((n) => this.context.isUp(n));
    return this.random.pick(up.length > 0 ? up : all);
  }

  private async overHttp(
    node: number,
    events: { type: string; data: unknown; scopes: string[] }[],
    key: string,
  ): Promise<string[]> {
    const response = await fetch(`${this.context.url(node)}/events`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${this.context.publishToken}`,
        ...(this.context.idempotent ? { 'idempotency-key': key } : {}),
      },
      body: JSON.stringify(events.length === 1 ? events[0] : events),
      signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
    const text = await response.text();
    if (response.status !== 201)
      throw new Error(`HTTP ${response.status}: ${text.slice(0, 200)}`);
    const body = JSON.parse(text) as { id?: string; ids?: string[] };
    const ids = events.length === 1 ? [body.id] : body.ids;
    if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string'))
      throw new Error(`HTTP 201 without ids: ${text.slice(0, 200)}`);
    return ids as string[];
  }

  private async overPort(
    events: { type: string; data: unknown; scopes: string[] }[],
    key: string,
  ): Promise<string[]> {
    const publisher = this.context.log.publisher as unknown as KeyedPublisher;
    const options = this.context.idempotent
      ? { idempotencyKey: key }
      : undefined;
    if (events.length === 1)
      return [await publisher.publish(events[0], options)];
    return publisher.publishMany(events, options);
  }
}

/**
 * Scopes for another event of a batch whose first event has `first`: the
 * same partition key (its smallest agent scope, or none), with or without
 * the role scope.
 */
function samePartition(first: string[], random: SeededRandom): string[] {
  const key = first
    .filter((s) => (AGENT_SCOPES as readonly string[]).includes(s))
    .sort()[0];
  const withRole = random.chance(0.5);
  if (key === undefined) return withRole ? [ROLE_SCOPE] : [];
  return withRole ? [key, ROLE_SCOPE] : [key];
}
