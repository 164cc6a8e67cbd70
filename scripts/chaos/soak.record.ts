/**
 * Everything a soak run records, as plain data: the checker reads only this
 * and the log, and the run writes it to disk for inspection. Times are
 * milliseconds since the start of the run.
 */

export interface ReadyRecord {
  readonly recovered: boolean;
  readonly reason?: string;
  readonly replayed: number;
  readonly lastEventId: string | null;
  /** The subscription set the server accepted; `null` unfiltered; absent from servers without channels. */
  readonly channels?: readonly string[] | null;
  /** Channels of `auth.channels` the server refused, with why. */
  readonly refused?: readonly { channel: string; error: string }[];
  /**
   * Set only in a partition's projection of a partitioned run (see
   * partition.checker.ts): this `ready` is one partition's share of a
   * connection's `ready`, named by this key. Not recovered, it moves every
   * partition to its tip, so it needs the reason to hold in one partition.
   */
  readonly vectorNotice?: string;
}

/** A channel switch the client asked for. */
export type SwitchOp = 'subscribe' | 'unsubscribe';

export interface ResyncRecord {
  readonly reason: string;
  readonly lastEventId: string | null;
}

/** One thing that happened on a connection, in the order the client saw it. */
export type ConnectionItem =
  /** A batch as received; `ackAt` is when the client acknowledged it (null: never). */
  | { k: 'batch'; t: number; ids: string[]; ackAt: number | null }
  | { k: 'ready'; t: number; info: ReadyRecord }
  | { k: 'resync'; t: number; info: ResyncRecord }
  | { k: 'evicted'; t: number; reason: string }
  | { k: 'shutdown'; t: number }
  /** The client sent `refresh` with a token holding `scopes`. */
  | { k: 'refresh'; t: number; scopes: string[] }
  /** The server acknowledged the last `refresh`. */
  | { k: 'refreshed'; t: number; ok: boolean; error?: string }
  /**
   * The client sent `subscribe` or `unsubscribe` for `channels`; `before`
   * is the set it knew to be in force. It sends no other switch until this
   * one is answered.
   */
  | {
      k: 'switch';
      t: number;
      op: SwitchOp;
      channels: string[];
      before: string[];
    }
  /**
   * The answer to the last `switch`: the acknowledgement as received, or
   * `ok: false` with error `no_answer` when none came in time (the client
   * then leaves the connection, not knowing which set is in force).
   */
  | {
      k: 'switched';
      t: number;
      ok: boolean;
      channels?: string[];
      position?: string;
      error?: string;
      channel?: string;
    };

export interface ConnectionRecord {
  readonly seq: number;
  readonly node: number;
  /** The cursor sent in the handshake; null starts a new lineage. */
  readonly cursor: string | null;
  /** Scopes of the token the connection opened with. */
  readonly scopes: string[];
  /** `auth.channels` of the handshake; absent or null when the connection asked for no set (protocol v1). */
  readonly channels?: string[] | null;
  readonly openedAt: number;
  connectedAt: number | null;
  connectError: string | null;
  closedAt: number | null;
  /** Socket.IO's disconnect reason, or the harness's reason for closing. */
  closeReason: string | null;
  readonly items: ConnectionItem[];
}

export type ClientKind = 'raw' | 'sdk';

export interface ClientRecord {
  readonly name: string;
  readonly userId: string;
  readonly kind: ClientKind;
  /** How the client behaves: `prompt`, `slow` (acks late) or `stalled` at times. */
  readonly profile: string;
  readonly connections: ConnectionRecord[];
  /** Set when the client failed to catch up with the fence event during the drain. */
  caughtUp: boolean;
}

export type PublishVia = 'http' | 'port';

export interface PublishRecord {
  /** Unique id carried in each event's data as `pub`. */
  readonly pub: string;
  readonly via: PublishVia;
  /** Target node for HTTP; -1 for the in-process port. */
  readonly node: number;
  readonly count: number;
  readonly scopes: string[][];
  readonly sentAt: number;
  settledAt: number | null;
  outcome: 'pending' | 'resolved' | 'failed';
  /** Tries, counting the first; retries carry the same idempotency key. */
  attempts: number;
  /** Ids the publish resolved with, in order. */
  ids: string[] | null;
  /** HTTP status, or the error message. */
  error: string | null;
}

export interface FaultRecord {
  readonly kind: FaultKind;
  target: string;
  readonly startedAt: number;
  endedAt: number | null;
  detail: string;
}

export const FAULT_KINDS = [
  'node_kill',
  'redis_pause',
  'redis_restart',
  'failover',
  'shard_failover',
  'postgres_restart',
  'ack_stall',
  'scope_narrow',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface ProcessWriteRecord {
  readonly w: string;
  readonly sentAt: number;
  readonly node: number;
  settledAt: number | null;
  status: number | null;
  seq: number | null;
  error: string | null;
}

export interface SseConnectionRecord {
  readonly node: number;
  readonly lastEventId: number;
  readonly openedAt: number;
  status: number | null;
  /** `seq` of every message frame, as received. */
  readonly seqs: number[];
  readonly statuses: string[];
  end: string | null;
  closedAt: number | null;
}

export interface SseReaderRecord {
  readonly name: string;
  readonly processId: string;
  /** Seqs the reader delivered to the app (after its own duplicate filter). */
  readonly delivered: number[];
  ended: string | null;
  readonly connections: SseConnectionRecord[];
  readonly errors: string[];
}

export interface ProcessRecord {
  readonly id: string;
  readonly startedAt: number;
  readonly writes: ProcessWriteRecord[];
  endStatus: string | null;
  endedAt: number | null;
  readonly readers: SseReaderRecord[];
  /** The store's content at the end: seq and write id of each message. */
  stored: { seq: number; w: string | null }[] | null;
}

export interface RssSample {
  readonly t: number;
  /** Resident set size per node in bytes; null while the node is down. */
  readonly rss: (number | null)[];
}

export interface NodeLifeRecord {
  readonly node: number;
  readonly startedAt: number;
  readonly pid: number;
  endedAt: number | null;
}

/** A node process that ended without the harness ending it. */
export interface CrashRecord {
  readonly node: number;
  readonly at: number;
  /** Exit code or signal. */
  readonly exit: string;
  /** The last lines the node wrote. */
  readonly output: string;
}

export interface SoakSettings {
  readonly seed: number;
  readonly minutes: number;
  readonly clients: number;
  readonly sentinel: boolean;
  /** Whether Redis was a Cluster of 3 primaries and 3 replicas (absent in older records). */
  readonly cluster?: boolean;
  /** The nodes' EVENT_PARTITIONS (absent in older records: 1). */
  readonly partitions?: number;
  readonly durability: 'leader' | 'replicated' | null;
  readonly prefix: string;
  readonly ackTimeoutMs: number;
  readonly publishRate: number;
  readonly defect: string | null;
}

export interface SoakRecord {
  readonly settings: SoakSettings;
  readonly startedAtIso: string;
  /** When the fault phase ended and the drain began. */
  faultPhaseEnd: number;
  finishedAt: number;
  readonly notes: string[];
  readonly clients: ClientRecord[];
  readonly publishes: PublishRecord[];
  readonly faults: FaultRecord[];
  readonly processes: ProcessRecord[];
  readonly rss: RssSample[];
  readonly nodeLives: NodeLifeRecord[];
  readonly crashes: CrashRecord[];
  /** Id of the unscoped event published after the fault phase, which every client must reach. */
  fenceId: string | null;
  /**
   * When the log was read for the check (ms into the run), or null when it
   * was not. Writes may still land after it (an outbox relay announcing
   * what a killed writer could not), and a delivery of such an entry after
   * this time cannot be judged against the log that was read.
   */
  logReadAt?: number | null;
}
