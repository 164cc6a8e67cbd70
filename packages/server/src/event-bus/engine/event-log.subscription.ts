import { isControlEvent } from '../domain/control-event';
import { Logger } from '@nestjs/common';
import {
  EVENT_TYPE_PATTERN,
  EventMap,
  StoredEvent,
  StoredEventOf,
} from '../domain/event';
import {
  compareStreamIds,
  EventId,
  formatEventId,
  ORIGIN_STREAM_ID,
  parseEventId,
  previousStreamId,
} from '../domain/event-id';
import {
  CursorNotCoveredError,
  errorText,
  InvalidCursorError,
} from '../domain/errors';
import {
  ConsumeOptions,
  Consumer,
  CursorCheck,
  DeadLetter,
  EventSubscription,
  LiveEventListener,
  LiveReader,
  LiveSource,
  ReplayOptions,
  ReplayPage,
} from '../domain/event-subscription.port';
import { EventLogSettings, nodeGroupName } from './event-log.settings';
import { EventLogObserver } from './event-log.observer';
import { CompetingConsumer } from './competing-consumer';
import { NodeReader } from './node-reader';
import { newEpochCandidate } from './event-log.publisher';
import { decodeEntry } from './stream-entry.codec';
import { RawEntry, EventLogStore } from './event-log-store.port';

function checkConsumeTypes(types: unknown): ReadonlySet<string> | null {
  if (types === undefined) return null;
  if (
    !Array.isArray(types) ||
    types.length === 0 ||
    types.some(
      (type) => typeof type !== 'string' || !EVENT_TYPE_PATTERN.test(type),
    )
  ) {
    throw new TypeError(
      `consume() option "types" must be a non-empty array of event types matching ${EVENT_TYPE_PATTERN} (got ${JSON.stringify(types)}); leave it out to receive every type.`,
    );
  }
  return new Set(types as string[]);
}

export class EventLogSubscription implements EventSubscription, LiveSource {
  private readonly logger = new Logger(EventLogSubscription.name);
  private readonly readers = new Set<NodeReader>();
  private readonly consumers = new Set<CompetingConsumer>();
  /** Whether this node's group may exist: a live reader was started and the group not removed since. */
  private nodeGroupInUse = false;

  constructor(
    private readonly store: EventLogStore,
    private readonly settings: EventLogSettings,
    private readonly observer: EventLogObserver = {},
    /**
     * The epoch the ids of read events carry: the log's own, or
     * `<k>:<epoch>` when this is partition k of a partitioned log (see
     * `PartitionSubscription`), so that the decoder builds the final id and
     * no event is copied to change it.
     */
    private readonly idEpoch: (epoch: string) => string = (epoch) => epoch,
  ) {}

  async head(): Promise<EventId> {
    const info = await this.store.info(newEpochCandidate());
    return formatEventId(info.epoch, info.lastId);
  }

  async oldest(): Promise<EventId> {
    const info = await this.store.info(newEpochCandidate());
    const start =
      compareStreamIds(info.maxDeletedId, info.epochStart) > 0
        ? info.maxDeletedId
        : info.epochStart;
    return formatEventId(info.epoch, start);
  }

  async checkCursor(cursor: unknown): Promise<CursorCheck> {
    const position = parseEventId(cursor);
    if (!position) {
      const info = await this.store.info(newEpochCandidate());
      return { covered: false, reason: 'invalid_cursor', epoch: info.epoch };
    }
    const { streamId } = position;
    // One read gives the log's state and whether it still holds the entry
    // at the cursor (the origin names none).
    const probe = streamId !== ORIGIN_STREAM_ID;
    const info = await this.store.range(
      probe ? previousStreamId(streamId) : ORIGIN_STREAM_ID,
      streamId,
      1,
      newEpochCandidate(),
    );
    const { epoch } = info;
    if (epoch !== position.epoch)
      return { covered: false, reason: 'epoch_changed', epoch };
    if (compareStreamIds(info.maxDeletedId, streamId) > 0)
      return { covered: false, reason: 'trimmed', epoch };
    const held =
      !probe ||
      compareStreamIds(streamId, info.maxDeletedId) === 0 ||
      streamId === info.epochStart ||
      info.entries.some((entry) => entry.id === streamId);
    if (!held)
      return {
        covered: false,
        reason: 'invalid_cursor',
        epoch,
        lost: true,
        logTip: info.lastId,
      };
    return { covered: true };
  }

  async replay(after: EventId, options: ReplayOptions): Promise<ReplayPage> {
    const from = parseEventId(after);
    if (!from) throw new InvalidCursorError(after);
    let until: string | null = null;
    if (options.until !== undefined) {
      const to = parseEventId(options.until);
      if (!to) throw new InvalidCursorError(options.until);
      if (to.epoch !== from.epoch)
        throw new CursorNotCoveredError('epoch_changed');
      until = to.streamId;
    }
    const limit = Math.max(1, Math.floor(options.limit));
    const result = await this.store.range(
      from.streamId,
      until,
      limit,
      newEpochCandidate(),
    );
    if (result.epoch !== from.epoch)
      throw new CursorNotCoveredError('epoch_changed');
    if (compareStreamIds(result.maxDeletedId, from.streamId) > 0)
      throw new CursorNotCoveredError('trimmed');
    const events = this.decodeAll(result.epoch, result.entries);
    const last =
      result.entries.length > 0
        ? result.entries[result.entries.length - 1].id
        : from.streamId;
    const reachedEnd =
      result.entries.length < limit ||
      (until !== null && compareStreamIds(last, until) >= 0) ||
      compareStreamIds(last, result.lastId) >= 0;
    return {
      events,
      position: formatEventId(result.epoch, last),
      done: reachedEnd,
    };
  }

  async live(listener: LiveEventListener): Promise<LiveReader> {
    const reader = new NodeReader(
      this.store,
      this.settings,
      listener,
      this.observer,
      (epoch, entries) => this.decodeAll(epoch, entries, true),
    );
    this.readers.add(reader);
    this.nodeGroupInUse = true;
    await reader.start();
    return {
      get position() {
        return reader.position;
      },
      get caughtUpAt() {
        return reader.caughtUpAt;
      },
      stop: async () => {
        this.readers.delete(reader);
        await reader.stop();
      },
    };
  }

  async consume<K extends string = string>(
    group: string,
    handler: (event: StoredEventOf<EventMap, K>) => Promise<void>,
    options: ConsumeOptions<K> = {},
  ): Promise<Consumer> {
    const types = checkConsumeTypes(options.types);
    const consumer = new CompetingConsumer(
      this.store,
      this.settings,
      group,
      // Control entries are notices between nodes, not work for consumers.
      // Skipped entries resolve, so the group acknowledges them like handled ones.
      (event) =>
        isControlEvent(event) || (types !== null && !types.has(event.type))
          ? Promise.resolve()
          : handler(event as StoredEventOf<EventMap, K>),
      options,
      this.observer,
      (epoch, entry) => this.decodeAll(epoch, [entry], true)[0] ?? null,
    );
    this.consumers.add(consumer);
    await consumer.start();
    return {
      stop: async () => {
        this.consumers.delete(consumer);
        await consumer.stop();
      },
    };
  }

  async deadLetters(limit = 100): Promise<DeadLetter[]> {
    const entries = await this.store.readDeadLetters(limit);
    const letters: DeadLetter[] = [];
    for (const entry of entries) {
      if (!entry.fields) continue;
      const fields = [...entry.fields];
      const meta = new Map<string, string>();
      for (let i = 0; i + 1 < fields.length; i += 2)
        meta.set(fields[i], fields[i + 1]);
      const decoded = decodeEntry(
        meta.get('dl-epoch') ?? '',
        meta.get('dl-id') ?? '0-0',
        fields,
      );
      letters.push({
        event: decoded.ok
          ? decoded.event
          : {
              id: formatEventId(
                meta.get('dl-epoch') ?? '',
                meta.get('dl-id') ?? '0-0',
              ),
              type: 'malformed',
              data: null,
              scopes: [],
              ts: 0,
            },
        group: meta.get('dl-group') ?? '',
        deliveries: Number(meta.get('dl-deliveries') ?? 0),
        error: meta.get('dl-error') ?? '',
      });
    }
    return letters;
  }

  /** Stops every reader and consumer this subscription started. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.readers].map((reader) => reader.stop()));
    await Promise.all([...this.consumers].map((consumer) => consumer.stop()));
    this.readers.clear();
    this.consumers.clear();
    if (!this.settings.keepNodeGroup && this.nodeGroupInUse) {
      this.nodeGroupInUse = false;
      await this.removeNodeGroup();
    }
  }

  /**
   * A node with the default instance id leaves no group behind: no later
   * process resumes as it, and clients resume from their own cursors.
   */
  private async removeNodeGroup(): Promise<void> {
    const group = nodeGroupName(this.settings.instanceId);
    try {
      await this.store.destroyGroup(group);
    } catch (error) {
      this.logger.warn(
        `Could not remove this node's consumer group "${group}" at shutdown: ${errorText(error)}. Another node removes it once it has been idle for ${this.settings.staleGroupMs} ms.`,
      );
    }
  }

  /** Only live readers report malformed entries: replays would repeat the report once per client. */
  private decodeAll(
    epoch: string,
    entries: readonly RawEntry[],
    report = false,
  ): StoredEvent[] {
    const events: StoredEvent[] = [];
    for (const entry of entries) {
      if (!entry.fields) continue;
      const decoded = decodeEntry(this.idEpoch(epoch), entry.id, entry.fields);
      if (decoded.ok) {
        events.push(decoded.event);
      } else if (report) {
        this.logger.warn(
          `Skipped malformed log entry ${entry.id}: ${decoded.error}.`,
        );
        this.observer.malformedEntry?.(entry.id, decoded.error);
      }
    }
    return events;
  }
}
