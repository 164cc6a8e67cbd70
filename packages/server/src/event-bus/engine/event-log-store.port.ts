/**
 * The storage primitives one event log needs: an append-only stream with
 * consumer groups, in the shape of Redis Streams. The Redis adapter maps them
 * to commands and Lua scripts; the in-memory adapter implements them in
 * process. Publisher and subscription are written once on top of this, so
 * both adapters share their semantics by construction, and the contract suite
 * proves each store keeps its side of the bargain.
 */
export interface RawEntry {
  readonly id: string;
  /** Flat field/value list; `null` when the entry was deleted while pending. */
  readonly fields: readonly string[] | null;
}

export interface Retention {
  readonly maxLen: number;
  /** Entries whose id time is older than this (by the log's own clock) are removed; 0 = no age limit. */
  readonly maxAgeMs: number;
}

export interface LogInfo {
  readonly epoch: string;
  /** Newest id ever generated (`0-0` for a new log). */
  readonly lastId: string;
  /**
   * Newest id removed by trimming or deletion. Exact: trimming records its
   * boundary here, which plain Redis trimming does not.
   */
  readonly maxDeletedId: string;
  readonly length: number;
  /**
   * Where this epoch begins: `0-0` for a new log; the tip at that moment for
   * a log that got a new epoch because it was found behind what had been
   * handed on (see `renewEpoch`).
   */
  readonly epochStart: string;
}

export interface RangeResult extends LogInfo {
  readonly entries: RawEntry[];
}

export interface ClaimedEntry {
  readonly entry: RawEntry;
  /** Deliveries including this one. */
  readonly deliveries: number;
}

export interface GroupInfo {
  readonly name: string;
  /** Milliseconds since the group's reader last reported itself alive (`touch`); `null` if it never did. */
  readonly idleMs: number | null;
  readonly pending: number;
  readonly lastDeliveredId: string;
  /** Entries not yet delivered to the group; `null` when the store cannot tell. */
  readonly lag: number | null;
}

/** Thrown by group operations when the group or the whole stream is gone. */
export class GroupMissingError extends Error {
  constructor(group: string) {
    super(
      `Consumer group "${group}" does not exist (the stream was reset or the group removed).`,
    );
    this.name = 'GroupMissingError';
  }
}

/** One publish inside an append: its entries, and the caller's idempotency key if it gave one. */
export interface AppendGroup {
  /** Flat field/value lists, one per entry, written in this order. */
  readonly entries: readonly (readonly string[])[];
  /**
   * The caller's idempotency key. A group whose key was used within the
   * key window is not written again; it gets the ids written the first time.
   */
  readonly key?: string;
  /** What the group holds; a key reused for different content is refused (`conflict`). */
  readonly fingerprint?: string;
}

export interface AppendRequest {
  readonly groups: readonly AppendGroup[];
  /**
   * Names this append. A retry sends the same request with the same key and
   * gets the outcome of the attempt that ran, without writing again.
   */
  readonly attemptKey: string;
  readonly retention: Retention;
  readonly epochCandidate: string;
  /** How long caller keys are remembered, in milliseconds. */
  readonly keyWindowMs: number;
}

export type AppendOutcome =
  | {
      /** `written` by this append, or a `duplicate` of a group written earlier under the same key. */
      readonly status: 'written' | 'duplicate';
      readonly epoch: string;
      readonly ids: readonly string[];
    }
  | { readonly status: 'conflict' };

export interface AppendResult {
  /** One per group, in order. */
  readonly outcomes: readonly AppendOutcome[];
  /** The append had already run (a retry after a lost reply); nothing was written now. */
  readonly replayed: boolean;
}

/**
 * How long an append's attempt key is remembered: far longer than a
 * publisher keeps retrying one append, short enough that one record per
 * append stays cheap.
 */
export const ATTEMPT_WINDOW_MS = 60_000;

/**
 * What a log carries once the application moved to a partitioned layout
 * (see `EventLogStore.closeLog`).
 */
export interface LayoutRecord {
  /** The id of the layout the log moved to. */
  readonly layout: string;
  /** P of that layout. */
  readonly partitions: number;
  /**
   * The stream id of the marker entry, the last entry the log's own writers
   * wrote; `null` when the log held no stream when it was closed.
   */
  readonly markerId: string | null;
  /**
   * The epoch the log continues under from the marker on (`null` with no
   * marker): its readers tell their connections `epoch_changed`.
   */
  readonly epoch: string | null;
}

export interface EventLogStore {
  /**
   * Appends every group that is not a duplicate, all in one atomic step, then
   * applies retention. Starts a new epoch when the stream is new. Running
   * the same request again (same attempt key) writes nothing and returns
   * the first outcome. Refused with `LayoutChangedError`, writing nothing,
   * once the log was closed (`closeLog`).
   */
  append(request: AppendRequest): Promise<AppendResult>;
  /**
   * Closes the log for appends, once: appends `marker` (when the stream
   * exists), gives the log the new epoch `nextEpoch` beginning at the
   * marker (as `renewEpoch` would), and records the layout, in one atomic
   * step; after it every `append` is refused with `LayoutChangedError`. When the log was closed
   * before, writes nothing and returns that first record, so several
   * writers may close it at once and a re-sent call does no harm.
   */
  closeLog(
    layout: { readonly layout: string; readonly partitions: number },
    marker: readonly string[],
    epochCandidate: string,
    nextEpoch: string,
  ): Promise<LayoutRecord>;
  /** The record `closeLog` left, or `null` while the log takes appends. */
  layoutRecord(): Promise<LayoutRecord | null>;
  /** Applies retention without appending. */
  trim(retention: Retention, epochCandidate: string): Promise<void>;
  /** Current metadata; creates the stream and its epoch if missing. */
  info(epochCandidate: string): Promise<LogInfo>;
  /** Entries with `after < id <= until`, at most `count`, read atomically with the metadata. */
  range(
    after: string,
    until: string | null,
    count: number,
    epochCandidate: string,
  ): Promise<RangeResult>;
  /** Creates the group at `$` (the tip), `0` (the origin) or an id; `false` when it already existed. */
  createGroup(
    group: string,
    start: string,
    epochCandidate: string,
  ): Promise<boolean>;
  /**
   * Gives the log a new epoch that begins at its current tip, unless the
   * epoch is no longer `from` (another node did it first), and returns the
   * log's metadata afterwards. For a log found behind what was handed on:
   * cursors of the old epoch can no longer be trusted.
   */
  renewEpoch(from: string, epochCandidate: string): Promise<LogInfo>;
  /** Sets the group's last delivered id (XGROUP SETID). */
  moveGroup(group: string, id: string): Promise<void>;
  /** The group's last delivered id, or `null` when it does not exist. */
  groupPosition(group: string): Promise<string | null>;
  /** A reader for blocking group reads (in Redis, a connection of its own). */
  openReader(): GroupReader;
  ack(group: string, ids: readonly string[]): Promise<void>;
  /** Takes entries pending for at least `minIdleMs` (from any consumer) and counts a delivery. */
  claimIdle(
    group: string,
    consumer: string,
    minIdleMs: number,
    count: number,
  ): Promise<ClaimedEntry[]>;
  /** Records that the reader of `group` is alive; blocking reads alone do not show it. */
  touch(group: string): Promise<void>;
  listGroups(): Promise<GroupInfo[]>;
  destroyGroup(group: string): Promise<void>;
  appendDeadLetter(fields: readonly string[]): Promise<string>;
  readDeadLetters(count: number): Promise<RawEntry[]>;
  close(): Promise<void>;
}

/** New entries of a group together with the log's metadata at the same instant. */
export interface GroupSnapshot {
  /** The log's epoch; `null` when the log has none (it was reset under the group). */
  readonly epoch: string | null;
  readonly lastId: string;
  readonly maxDeletedId: string;
  readonly entries: RawEntry[];
  /**
   * The entry at the reader's position is gone although nothing deleted it
   * (`maxDeletedId` is below it): the log went back, restored from an older
   * snapshot or failed over to a replica that missed writes. Nothing was
   * read.
   */
  readonly rewound: boolean;
}

export interface GroupReader {
  /**
   * New entries (`>`), waiting up to `blockMs`, or this consumer's own pending
   * entries after `pendingAfter` when given. Throws `GroupMissingError`.
   * Resolves with no entries once the reader is closed.
   */
  readGroup(
    group: string,
    consumer: string,
    count: number,
    blockMs: number,
    pendingAfter?: string,
  ): Promise<RawEntry[]>;
  /**
   * New entries (`>`) without waiting, read atomically with the log's
   * metadata: no trim can fall between the two, so comparing
   * `maxDeletedId` with the group's previous position tells exactly whether
   * entries were lost before this read. First checks that the entry at
   * `position` (the last one handed on) is still there. Throws
   * `GroupMissingError`. Resolves with no entries once the reader is closed.
   * `acks`: entries handed on since the last read, acknowledged in the same
   * step (so a live batch costs no acknowledgement command of its own).
   */
  readNew(
    group: string,
    consumer: string,
    count: number,
    position: string,
    acks?: readonly string[],
  ): Promise<GroupSnapshot>;
  /**
   * Resolves once the log holds an entry after `after`, or after `blockMs`,
   * or once the reader is closed. Consumes nothing.
   */
  waitForEntries(after: string, blockMs: number): Promise<void>;
  /** Ends a blocking read in progress and releases the reader. */
  close(): Promise<void>;
}
