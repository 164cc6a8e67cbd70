/** Keys of one log. The `{prefix}` hash tag puts them all in one Redis Cluster slot. */
export interface StreamKeys {
  readonly stream: string;
  readonly epoch: string;
  /** Where the current epoch begins, when not at the origin (written with the epoch). */
  readonly epochStart: string;
  readonly deadLetter: string;
  readonly heartbeats: string;
  /** Set once the log is closed for a partitioned layout (`closeLog`); appends read it. */
  readonly layout: string;
  /** Record of one append, by its attempt key: what a retry of it gets back. */
  attempt(attemptKey: string): string;
  /** Record of a caller's idempotency key. */
  idempotency(key: string): string;
}

const PREFIX_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

export function streamKeys(prefix: string): StreamKeys {
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new Error(
      `EventBusModule: prefix "${prefix}" is invalid: use 1-64 characters from A-Z, a-z, 0-9, "_", ".", ":" and "-" (braces are added as the cluster hash tag).`,
    );
  }
  const tag = `{${prefix}}`;
  return {
    stream: `${tag}:events`,
    epoch: `${tag}:epoch`,
    epochStart: `${tag}:epoch-start`,
    deadLetter: `${tag}:dead-letter`,
    heartbeats: `${tag}:heartbeats`,
    layout: `${tag}:layout`,
    attempt: (attemptKey) => `${tag}:attempt:${attemptKey}`,
    idempotency: (key) => `${tag}:idempotency:${key}`,
  };
}
