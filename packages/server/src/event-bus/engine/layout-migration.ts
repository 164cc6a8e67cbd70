import { formatVectorCursor } from '@streamgate/protocol';
import { CONTROL_EVENT_TYPE, CONTROL_SCOPE } from '../domain/control-event';
import { validateNewEvent } from '../domain/event';
import { previousStreamId } from '../domain/event-id';
import { errorText, EventLogUnavailableError } from '../domain/errors';
import { PartitionLayout } from '../domain/partitions';
import { backoffDelay, sleep } from './backoff';
import { EventLogStartupError } from './event-log.errors';
import { newEpochCandidate } from './event-log.publisher';
import { EventLogStore, LayoutRecord } from './event-log-store.port';
import { decodeEntry, encodeEntry } from './stream-entry.codec';

/**
 * The `kind` of the control entry that closes the single log: the last
 * entry its writers wrote before the application moved to partitions.
 *
 * Why a control entry: every reader of the log already passes control
 * entries over (clients never see them, competing consumers acknowledge
 * them unhandled, access listeners ignore kinds they do not know), nodes
 * of older versions included. What readers act on is the new epoch the log
 * gets with it (see `EventLogStore.closeLog`).
 *
 * Its data: `layout` and `partitions` of the new layout, and `resumeAt`, a
 * vector cursor of the new layout at the partitions' tips before any of
 * its events was written. A client that held every event of the single log
 * up to the marker misses nothing from `resumeAt` on; it is recorded so
 * that the switch point is known exactly, in the log itself.
 */
export const LAYOUT_MARKER_KIND = 'streamgate.layout';

/** The marker's stream entry fields, in the format every reader decodes. */
export function layoutMarkerEntry(
  layout: PartitionLayout,
  resumeAt: string,
  now: number = Date.now(),
): string[] {
  return encodeEntry(
    validateNewEvent({
      type: CONTROL_EVENT_TYPE,
      data: {
        kind: LAYOUT_MARKER_KIND,
        layout: layout.id,
        partitions: layout.partitions,
        resumeAt,
      },
      scopes: [CONTROL_SCOPE],
    }),
    now,
  );
}

/**
 * The single log under the prefix was already closed for another layout:
 * two partitioned layouts must not write at once, nor one follow another
 * without its own migration.
 */
export class LayoutConflictError extends Error {
  constructor(
    readonly recorded: LayoutRecord,
    readonly layout: PartitionLayout,
  ) {
    super(
      `The single event log under this prefix was moved to layout ${recorded.layout} with ${recorded.partitions} partitions; this node runs layout ${layout.id} with ${layout.partitions}. Run every node with the same partitions and partitionScope. (Changing a partitioned layout is not supported; the record is the key "{<prefix>}:layout".)`,
    );
    this.name = 'LayoutConflictError';
  }
}

/**
 * Moves one application from its single log (P = 1) to a partitioned
 * layout (P > 1) under the same prefix, from the writers' side: before any
 * writer of the new layout appends, the single log receives a marker entry
 * and a layout record, in one atomic step (`EventLogStore.closeLog`).
 * From then on the single log's own writers are refused
 * (`LayoutChangedError`, checked inside their append), so every event they
 * had acknowledged lies before the marker, and every event of the new
 * layout after `resumeAt`.
 *
 * Readers need nothing from here: the single log continues under a new
 * epoch from the marker on, which every reader of the old layout already
 * turns into `epoch_changed` for its connections, once each (live ones,
 * ones catching up, ones attaching with a cursor of the old epoch); its
 * competing consumers read on to the marker, which they skip as a control
 * entry. A node of the new layout answers a cursor of the single log with
 * `epoch_changed` (`planCursor`), after which the client holds a vector.
 *
 * Idempotent and safe to run on every node of the new layout at start-up,
 * all at once: the first record wins, and later runs only read it.
 */
export class LayoutMigration {
  private settled: LayoutRecord | null = null;
  private running: Promise<LayoutRecord> | null = null;
  private resumeRead: Promise<string | null> | null = null;

  constructor(
    /** The single log's store: today's keys under the prefix (a layout with P = 1). */
    private readonly single: EventLogStore,
    private readonly layout: PartitionLayout,
    /** The new layout's stores, index = partition, whose tips make `resumeAt`. */
    private readonly partitions: readonly EventLogStore[],
  ) {
    if (!layout.partitioned)
      throw new Error(
        'A layout migration moves the single log to several partitions; this layout has one.',
      );
    if (partitions.length !== layout.partitions)
      throw new Error(
        `A layout migration needs the ${layout.partitions} partition stores, got ${partitions.length}.`,
      );
  }

  /** Whether the single log is known to be closed for this layout. */
  get done(): boolean {
    return this.settled !== null;
  }

  /** The record, once `done`. */
  get record(): LayoutRecord | null {
    return this.settled;
  }

  /**
   * Makes sure the single log is closed for this layout, in one attempt
   * (concurrent callers share it; a failed one is forgotten, so the next
   * call tries again). Rejects with `LayoutConflictError` when the log was
   * closed for another layout.
   */
  ensure(): Promise<LayoutRecord> {
    if (this.settled) return Promise.resolve(this.settled);
    this.running ??= this.attempt().then(
      (record) => {
        this.settled = record;
        this.running = null;
        return record;
      },
      (error: unknown) => {
        this.running = null;
        throw error;
      },
    );
    return this.running;
  }

  /**
   * Where a client resumes in the partitions when it holds the position a
   * node of the single log handed on as the log closed: `<epoch>:<marker>`,
   * with the epoch the log continues under (its `epoch_changed` at the
   * marker). That client reloaded its state at the marker, so it resumes at
   * the marker's `resumeAt`, before every event of the new layout, and is
   * not told `epoch_changed` a second time. `null` for any other cursor, or
   * while the record is not known here; the marker is read once.
   */
  resumeAt(cursor: unknown): Promise<string | null> {
    const record = this.settled;
    if (
      record === null ||
      record.epoch === null ||
      record.markerId === null ||
      cursor !== `${record.epoch}:${record.markerId}`
    )
      return Promise.resolve(null);
    this.resumeRead ??= this.readResumeAt(record.markerId).catch(
      (error: unknown) => {
        // Read again next time: an outage is no answer.
        this.resumeRead = null;
        throw error;
      },
    );
    return this.resumeRead;
  }

  private async readResumeAt(markerId: string): Promise<string | null> {
    const { epoch, entries } = await this.single.range(
      previousStreamId(markerId),
      markerId,
      1,
      newEpochCandidate(),
    );
    const entry = entries.find((e) => e.id === markerId);
    if (entry?.fields == null) return null;
    const decoded = decodeEntry(epoch, entry.id, entry.fields);
    if (!decoded.ok) return null;
    const data = decoded.event.data as { kind?: unknown; resumeAt?: unknown };
    return data?.kind === LAYOUT_MARKER_KIND &&
      typeof data.resumeAt === 'string'
      ? data.resumeAt
      : null;
  }

  private async attempt(): Promise<LayoutRecord> {
    // A node of the new layout that restarts finds the record: one GET.
    const existing = await this.single.layoutRecord();
    const record =
      existing ??
      (await this.single.closeLog(
        { layout: this.layout.id, partitions: this.layout.partitions },
        layoutMarkerEntry(this.layout, await this.tips()),
        newEpochCandidate(),
        newEpochCandidate(),
      ));
    if (
      record.layout !== this.layout.id ||
      record.partitions !== this.layout.partitions
    )
      throw new LayoutConflictError(record, this.layout);
    return record;
  }

  /**
   * The partitions' tips, read before the marker is written. No writer of
   * the new layout appends before the record exists (it waits for `ensure`),
   * so whichever writer's marker wins, every event of the new layout lies
   * after the tips it names.
   */
  private async tips(): Promise<string> {
    const infos = await Promise.all(
      this.partitions.map((store) => store.info(newEpochCandidate())),
    );
    return formatVectorCursor({
      layout: this.layout.id,
      partitions: this.layout.partitions,
      elements: infos.map((info, partition) => ({
        partition,
        epoch: info.epoch,
        streamId: info.lastId,
      })),
    });
  }
}

/**
 * Runs a `LayoutMigration` at start-up: retries while the log is
 * unreachable, with backoff, for up to `startupTimeoutMs`, then rejects
 * with `EventLogStartupError`. A `LayoutConflictError` rejects at once.
 *
 * The module calls this when P > 1, before the partitioned publisher takes
 * its first append, and hands the migration to the publisher
 * (`PartitionedEventLogPublisher.holdUntilMigrated`), which then refuses to
 * append until it is done should start-up order ever let a publish through
 * first.
 */
export async function migrateToPartitions(
  single: EventLogStore,
  layout: PartitionLayout,
  partitions: readonly EventLogStore[],
  options: { readonly startupTimeoutMs: number },
): Promise<LayoutMigration> {
  const migration = new LayoutMigration(single, layout, partitions);
  await completeMigration(migration, options);
  return migration;
}

/**
 * `migrateToPartitions` for a migration built beforehand, e.g. one the
 * publishers already hold (`holdUntilMigrated`), so that they see it done.
 */
export async function completeMigration(
  migration: LayoutMigration,
  options: { readonly startupTimeoutMs: number },
): Promise<LayoutRecord> {
  const startedAt = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await migration.ensure();
    } catch (error) {
      if (error instanceof LayoutConflictError) throw error;
      const waited = Date.now() - startedAt;
      if (waited >= options.startupTimeoutMs)
        throw new EventLogStartupError(waited, error);
      await sleep(
        Math.min(
          backoffDelay(attempt),
          Math.max(1, options.startupTimeoutMs - waited),
        ),
      );
    }
  }
}

/** A publish that found the migration not done and could not do it. */
export function migrationUnavailable(error: unknown): Error {
  if (error instanceof LayoutConflictError) return error;
  return new EventLogUnavailableError(
    `Could not close the single event log before the first append to the partitions: ${errorText(error)}. Nothing was written.`,
    { cause: error },
  );
}
