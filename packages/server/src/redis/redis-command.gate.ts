import { ReplyError } from 'ioredis';
import type { RedisClient } from './redis-connection';

/**
 * Replies that mean "not now" rather than "no": the command did not run
 * (a server still loading, a primary just demoted, a primary without the
 * replicas `min-replicas-to-write` asks for, a cluster slot moving), so it
 * may be sent again whatever it does.
 */
const NOT_RUN_REPLIES =
  /^(LOADING|READONLY|MASTERDOWN|NOREPLICAS|TRYAGAIN|CLUSTERDOWN)\b/;

/**
 * How long Redis may take per unit of a command's size (an entry of an
 * append, a message of a batch) beyond the budget, in milliseconds. A
 * single command gets the budget; a batch of 1,000 entries one second more.
 * Generous against what Redis needs (tens of microseconds per entry), so a
 * large batch never fails on a busy but healthy server, and bounded, so a
 * frozen server is reported as fast as the command's size allows.
 */
export const REPLY_ALLOWANCE_PER_UNIT_MS = 1;

/** The next `ready` of each client some gate waits for. */
const readyWaiters = new WeakMap<RedisClient, Promise<void>>();

/** Redis did not become reachable, or did not answer, within the time allowed. */
export class RedisUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RedisUnavailableError';
  }
}

export interface GateOptions {
  /**
   * The command may run twice without harm, so it is sent again after a
   * lost connection. Commands Redis refused without running them
   * (`LOADING`, `READONLY`, ...) are sent again either way.
   * @default true
   */
  readonly idempotent?: boolean;
  /**
   * The command's size in units of work: entries of an append, messages of
   * a batch. Each unit beyond the first adds `REPLY_ALLOWANCE_PER_UNIT_MS`
   * to the time the reply may take.
   * @default 1
   */
  readonly units?: number;
}

/**
 * Runs commands on one client within a time budget: it waits for the
 * connection to be ready instead of queueing behind a reconnect, sends a
 * command again where that is safe, and fails with `RedisUnavailableError`
 * once the budget is spent. So while Redis is down, callers hear so within
 * the budget; and nothing they gave up on is written later from a queue.
 *
 * The rule for a reply: a command may wait for it until the budget is spent,
 * plus `REPLY_ALLOWANCE_PER_UNIT_MS` for each unit of its size beyond the
 * first (`units`). There is no floor: a frozen server (a partition without
 * resets keeps the connection "ready") fails a single command within the
 * budget, as a dead one does, while a batch of N entries keeps the time it
 * needs. A command that timed out may still run once the server answers
 * again; appends carry attempt keys for that, and other retried commands
 * are idempotent.
 */
export class RedisCommandGate {
  private closed = false;

  constructor(
    private readonly client: RedisClient,
    /** Time to get a command through, retries and waiting for a connection included. */
    readonly budgetMs: number,
  ) {}

  /** Stops waiting: pending and later runs fail at once. */
  close(): void {
    this.closed = true;
  }

  async run<T>(
    what: string,
    command: () => Promise<T>,
    options: GateOptions = {},
  ): Promise<T> {
    const idempotent = options.idempotent ?? true;
    const allowance =
      Math.max(0, Math.ceil((options.units ?? 1) - 1)) *
      REPLY_ALLOWANCE_PER_UNIT_MS;
    const deadline = Date.now() + this.budgetMs + allowance;
    let lastError: unknown;
    for (let attempt = 1; ; attempt++) {
      if (!(await this.whenReady(deadline))) {
        throw new RedisUnavailableError(
          `Redis was not reachable within ${this.budgetMs + allowance} ms for ${what} (connection ${this.client.status})${lastError ? `; last error: ${(lastError as Error).message ?? lastError}` : ''}.`,
          { cause: lastError },
        );
      }
      try {
        return await withTimeout(
          command(),
          Math.max(deadline - Date.now(), 1),
          what,
        );
      } catch (error) {
        lastError = error;
        const notRun =
          error instanceof ReplyError &&
          NOT_RUN_REPLIES.test(String((error as Error).message));
        const connectionLost =
          !(error instanceof ReplyError) &&
          !(error instanceof RedisUnavailableError);
        if (
          this.closed ||
          !(notRun || (idempotent && connectionLost)) ||
          Date.now() >= deadline
        )
          throw error;
        await sleep(Math.min(25 * 2 ** attempt, 200));
      }
    }
  }

  private whenReady(deadline: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (this.client.status === 'ready') return Promise.resolve(true);
    const remaining = deadline - Date.now();
    if (remaining <= 0) return Promise.resolve(false);
    let timer: NodeJS.Timeout;
    return Promise.race([
      this.nextReady().then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), remaining);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /**
   * One listener for every waiting command, however many there are, and
   * however many gates share the client (a partitioned log's P stores share
   * one connection, each with its own gate).
   */
  private nextReady(): Promise<void> {
    let waiter = readyWaiters.get(this.client);
    if (!waiter) {
      waiter = new Promise((resolve) =>
        this.client.once('ready', () => {
          readyWaiters.delete(this.client);
          resolve();
        }),
      );
      readyWaiters.set(this.client, waiter);
    }
    return waiter;
  }
}

function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new RedisUnavailableError(
            `Redis did not answer ${what} within ${timeoutMs} ms; it may or may not have run.`,
          ),
        ),
      timeoutMs,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
