import { Logger } from '@nestjs/common';
import { StoredEvent } from '../domain/event';
import { ConsumeOptions } from '../domain/event-subscription.port';
import { backoffDelay, sleep } from './backoff';
import { EventLogStartupError } from './event-log.errors';
import { EventLogSettings } from './event-log.settings';
import { EventLogObserver } from './event-log.observer';
import { newEpochCandidate } from './event-log.publisher';
import {
  GroupMissingError,
  GroupReader,
  RawEntry,
  EventLogStore,
} from './event-log-store.port';

export const DEFAULT_CONSUME_OPTIONS = {
  claimIdleMs: 30_000,
  maxDeliveries: 5,
  batchSize: 100,
  startAt: 'latest' as const,
};

/**
 * One member of a competing-consumer group: at-least-once, acknowledged after
 * the handler resolves, idle pending entries of dead members are claimed, and
 * an entry that failed `maxDeliveries` times goes to the dead-letter stream.
 */
export class CompetingConsumer {
  private readonly logger = new Logger(CompetingConsumer.name);
  private readonly options: Required<ConsumeOptions>;
  private reader: GroupReader | null = null;
  private epoch = '';
  private stopped = false;
  private loop: Promise<void> | null = null;
  private lastClaimAt = 0;

  constructor(
    private readonly store: EventLogStore,
    private readonly settings: EventLogSettings,
    private readonly group: string,
    private readonly handler: (event: StoredEvent) => Promise<void>,
    options: ConsumeOptions,
    private readonly observer: EventLogObserver,
    private readonly decode: (
      epoch: string,
      entry: RawEntry,
    ) => StoredEvent | null,
  ) {
    if (
      !/^[A-Za-z0-9_.:-]{1,128}$/.test(group) ||
      group.startsWith('node:') ||
      group.startsWith('streamgate:')
    ) {
      throw new Error(
        `Consumer group name "${group}" is invalid: use 1-128 characters from A-Z, a-z, 0-9, "_", ".", ":" and "-", not starting with "node:" or "streamgate:" (reserved).`,
      );
    }
    this.options = {
      ...DEFAULT_CONSUME_OPTIONS,
      consumer: `${settings.instanceId}:${Math.random().toString(36).slice(2, 8)}`,
      ...Object.fromEntries(
        Object.entries(options).filter(([, v]) => v !== undefined),
      ),
    } as Required<ConsumeOptions>;
    this.blockMs = Math.max(
      10,
      Math.min(settings.blockMs, Math.floor(this.options.claimIdleMs / 2)),
    );
  }

  private readonly blockMs: number;

  /**
   * Resolves once the group exists, so that every event published after it
   * reaches the group. While the log is unreachable it retries with backoff
   * for `startupTimeoutMs`, then rejects with `EventLogStartupError`.
   */
  async start(): Promise<void> {
    this.reader = this.store.openReader();
    const startedAt = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        await this.ensureGroup();
        break;
      } catch (error) {
        const waited = Date.now() - startedAt;
        if (this.stopped || waited >= this.settings.startupTimeoutMs) {
          await this.reader.close();
          throw new EventLogStartupError(waited, error);
        }
        if (attempt === 1)
          this.logger.warn(
            `Consumer group "${this.group}" waits for the event log (${String((error as Error)?.message ?? error).replace(/\.$/, '')}).`,
          );
        await sleep(
          Math.min(
            backoffDelay(attempt),
            Math.max(1, this.settings.startupTimeoutMs - waited),
          ),
        );
      }
    }
    // Runs until stop(); errors inside are caught per entry or retried with backoff.
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.reader?.close();
    await this.loop;
  }

  private async ensureGroup(): Promise<void> {
    await this.store.createGroup(
      this.group,
      this.options.startAt === 'earliest' ? '0' : '$',
      newEpochCandidate(),
    );
    this.epoch = (await this.store.info(newEpochCandidate())).epoch;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        if (Date.now() - this.lastClaimAt >= this.blockMs)
          await this.claimIdle();
        const entries = await this.reader!.readGroup(
          this.group,
          this.options.consumer,
          this.options.batchSize,
          this.blockMs,
        );
        for (const entry of entries) {
          if (this.stopped) break;
          await this.handle(entry, 1);
        }
        failures = 0;
      } catch (error) {
        if (this.stopped) break;
        if (error instanceof GroupMissingError) {
          this.logger.warn(
            `Consumer group "${this.group}" disappeared (log reset?); recreating it.`,
          );
          await this.ensureGroup().catch(() => undefined);
          continue;
        }
        if (++failures === 1) {
          this.logger.warn(
            `Consumer "${this.options.consumer}" of group "${this.group}" failed to read (${(error as Error)?.message ?? error}); retrying.`,
          );
        }
        await sleep(backoffDelay(failures));
      }
    }
  }

  private async claimIdle(): Promise<void> {
    this.lastClaimAt = Date.now();
    const claimed = await this.store.claimIdle(
      this.group,
      this.options.consumer,
      this.options.claimIdleMs,
      this.options.batchSize,
    );
    for (const { entry, deliveries } of claimed) {
      if (this.stopped) return;
      if (!entry.fields) {
        this.logger.warn(
          `Event ${entry.id} of group "${this.group}" was trimmed before any consumer acknowledged it.`,
        );
        this.observer.lostWhilePending?.(this.group, entry.id);
        continue;
      }
      await this.handle(entry, deliveries);
    }
  }

  private async handle(entry: RawEntry, deliveries: number): Promise<void> {
    const event = this.decode(this.epoch, entry);
    if (!event) {
      await this.deadLetter(entry, deliveries, 'malformed entry');
      return;
    }
    if (deliveries > this.options.maxDeliveries) {
      await this.deadLetter(
        entry,
        deliveries - 1,
        `failed ${deliveries - 1} deliveries`,
      );
      return;
    }
    try {
      await this.handler(event);
    } catch (error) {
      this.logger.warn(
        `Handler of group "${this.group}" failed on event ${event.id} (delivery ${deliveries} of ${this.options.maxDeliveries}): ${(error as Error)?.message ?? error}`,
      );
      if (deliveries >= this.options.maxDeliveries) {
        await this.deadLetter(
          entry,
          deliveries,
          (error as Error)?.message ?? String(error),
        );
      }
      return;
    }
    await this.store.ack(this.group, [entry.id]);
  }

  private async deadLetter(
    entry: RawEntry,
    deliveries: number,
    reason: string,
  ): Promise<void> {
    await this.store.appendDeadLetter([
      ...(entry.fields ?? []),
      'dl-group',
      this.group,
      'dl-id',
      entry.id,
      'dl-epoch',
      this.epoch,
      'dl-deliveries',
      String(deliveries),
      'dl-error',
      reason,
    ]);
    await this.store.ack(this.group, [entry.id]);
    this.logger.warn(
      `Moved event ${entry.id} of group "${this.group}" to the dead-letter stream after ${deliveries} deliveries: ${reason}.`,
    );
    this.observer.deadLettered?.(this.group, entry.id);
  }
}
