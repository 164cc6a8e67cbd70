import type { Socket } from 'socket.io-client';
import {
  ChannelClientEvent,
  ReadyInfo,
  RefusedChannel,
} from '@streamgate/protocol';
import {
  StreamgateChannelError,
  StreamgateClientError,
  StreamgateProtocolError,
  StreamgateRequestError,
} from './client.errors';
import type { ChannelsChange } from './client.types';
import { Parsed, Refusal, parseChannelsAck } from './wire.validation';

type MembershipKind =
  typeof ChannelClientEvent.subscribe | typeof ChannelClientEvent.unsubscribe;

interface Pending<T> {
  readonly request: string;
  readonly resolve: (value: T) => void;
  readonly reject: (error: StreamgateClientError) => void;
  timer: ReturnType<typeof setTimeout> | null;
  settled: boolean;
}

interface MembershipOp extends Pending<ChannelsChange> {
  readonly kind: MembershipKind;
  readonly channels: readonly string[];
  /**
   * - `queued`: to be sent once live;
   * - `handshake`: in the `auth.channels` of the connection being opened, so its `ready` settles it;
   * - `sent`: emitted, waiting for the acknowledgement.
   */
  stage: 'queued' | 'handshake' | 'sent';
}

interface ReadOp<T> extends Pending<T> {
  readonly event: string;
  readonly payload: unknown;
  readonly parse: (raw: unknown) => Parsed<{ ok: true; value: T } | Refusal>;
  readonly channel?: string;
  /** Reads are safe to send again after a reconnect; a publish is not. */
  readonly resend: boolean;
  sent: boolean;
}

/**
 * The client's channel requests and its subscription set.
 *
 * The set the app wants is the server's last confirmed set with every
 * unsettled subscribe and unsubscribe applied in order; it goes out as
 * `auth.channels` on every (re)connect, so a change made offline, or one
 * whose acknowledgement was lost with the connection, takes effect at the
 * next `ready`, which then settles it. Subscribes and unsubscribes go out
 * one at a time, so that each acknowledgement's `channels` is the set after
 * exactly the changes sent so far.
 *
 * Subscribes and unsubscribes made while the client is not live are kept
 * without a deadline: they take effect with the next handshake. Once sent,
 * each must be answered within `timeoutMs`. `history` and `presence` wait
 * for the connection, at most `timeoutMs` in all, and are sent again if the
 * connection drops before they are answered. `publish` fails at once with
 * `offline` when the client is not live, because an ephemeral event is worth
 * nothing later, and with `disconnected` when the connection drops before
 * its answer, because it may have gone out.
 */
export class ChannelRequests {
  private confirmed: readonly string[] | null = null;
  private readonly membership: MembershipOp[] = [];
  private readonly reads: ReadOp<unknown>[] = [];
  private socket: Socket | null = null;

  constructor(
    private readonly timeoutMs: number,
    private readonly report: (error: StreamgateClientError) => void,
  ) {}

  /** The set the app wants, `null` for none (everything visible). */
  get channels(): readonly string[] | null {
    let set: Set<string> | null = this.confirmed && new Set(this.confirmed);
    for (const op of this.membership) {
      if (op.kind === ChannelClientEvent.subscribe) {
        set ??= new Set();
        op.channels.forEach((c) => set!.add(c));
      } else if (set) {
        op.channels.forEach((c) => set!.delete(c));
      }
    }
    return set && [...set];
  }

  get live(): boolean {
    return this.socket !== null;
  }

  /** `auth.channels` for the handshake being sent; the changes it carries are settled by its `ready`. */
  forHandshake(): readonly string[] | undefined {
    for (const op of this.membership) op.stage = 'handshake';
    return this.channels ?? undefined;
  }

  /** Called on `ready`; returns the channels the server refused. */
  goLive(socket: Socket, info: ReadyInfo): readonly RefusedChannel[] {
    this.socket = socket;
    const supported = info.channels !== undefined;
    this.confirmed = info.channels ?? null;
    const refused = info.refused ?? [];
    for (const op of [...this.membership]) {
      if (op.stage !== 'handshake') continue;
      const refusal = refused.find((r) => op.channels.includes(r.channel));
      if (!supported && op.kind === ChannelClientEvent.subscribe) {
        this.fail(op, new StreamgateRequestError(op.kind, 'unsupported'));
      } else if (refusal && op.kind === ChannelClientEvent.subscribe) {
        this.fail(
          op,
          new StreamgateChannelError(op.kind, refusal.error, refusal.channel),
        );
      } else {
        this.succeed(op, {
          channels: this.confirmed ?? [],
          position: info.lastEventId,
        });
      }
    }
    this.sendNextMembership();
    for (const op of this.reads) if (!op.sent) this.sendRead(op);
    return refused;
  }

  /**
   * A `refresh` acknowledgement named the set after it: channels the new
   * token no longer allows are out. Requests are handled in the order sent,
   * so a change sent earlier is already in it, and one sent later answers
   * with a set that includes this one.
   */
  adoptRefresh(channels: readonly string[]): void {
    this.confirmed = channels;
  }

  /** The connection is gone: what was sent is either sent again or, for a publish, failed. */
  goOffline(): void {
    this.socket = null;
    for (const op of this.membership) {
      // Still in the wanted set, so the next handshake carries it.
      if (op.stage === 'sent') {
        op.stage = 'queued';
        this.stopTimer(op);
      }
    }
    for (const op of [...this.reads]) {
      if (!op.sent) continue;
      if (op.resend) op.sent = false;
      else
        this.fail(op, new StreamgateRequestError(op.request, 'disconnected'));
    }
  }

  /** `close()`: nothing will be answered any more. */
  close(): void {
    this.socket = null;
    for (const op of [...this.membership, ...this.reads]) {
      this.fail(op, new StreamgateRequestError(op.request, 'closed'));
    }
  }

  change(
    kind: MembershipKind,
    channels: readonly string[],
  ): Promise<ChannelsChange> {
    return new Promise((resolve, reject) => {
      // As the server does: a connection without a set has none to take channels from.
      if (kind === ChannelClientEvent.unsubscribe && this.channels === null) {
        reject(new StreamgateChannelError(kind, 'invalid'));
        return;
      }
      const op: MembershipOp = {
        kind,
        request: kind,
        channels: [...channels],
        stage: 'queued',
        resolve,
        reject,
        timer: null,
        settled: false,
      };
      // No deadline while it waits for a connection: kept, it goes out with the next handshake.
      this.membership.push(op);
      this.sendNextMembership();
    });
  }

  read<T>(
    request: {
      event: string;
      payload: unknown;
      channel?: string;
      parse: ReadOp<T>['parse'];
    },
    options: { resend: boolean },
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      if (!options.resend && !this.live) {
        reject(new StreamgateRequestError(request.event, 'offline'));
        return;
      }
      const op: ReadOp<T> = {
        ...request,
        request: request.event,
        resend: options.resend,
        resolve,
        reject,
        timer: null,
        settled: false,
        sent: false,
      };
      this.reads.push(op as ReadOp<unknown>);
      this.startTimer(op);
      if (this.live) this.sendRead(op);
    });
  }

  private sendNextMembership(): void {
    const socket = this.socket;
    if (!socket || this.membership.some((op) => op.stage === 'sent')) return;
    const op = this.membership.find((o) => o.stage === 'queued');
    if (!op) return;
    op.stage = 'sent';
    this.startTimer(op, () => this.sendNextMembership());
    socket.emit(op.kind, { channels: op.channels }, (raw: unknown) => {
      if (this.socket !== socket || op.settled) return;
      const parsed = parseChannelsAck(raw);
      if (!parsed.ok) {
        this.fail(op, this.protocolError(op.kind, parsed.problem, raw));
      } else if (!parsed.value.ok) {
        this.fail(
          op,
          new StreamgateChannelError(
            op.kind,
            parsed.value.error,
            parsed.value.channel,
          ),
        );
      } else {
        this.confirmed = parsed.value.value.channels;
        this.succeed(op, parsed.value.value);
      }
      this.sendNextMembership();
    });
  }

  private sendRead<T>(op: ReadOp<T>): void {
    const socket = this.socket!;
    op.sent = true;
    socket.emit(op.event, op.payload, (raw: unknown) => {
      if (this.socket !== socket || op.settled) return;
      const parsed = op.parse(raw);
      if (!parsed.ok) {
        this.fail(op, this.protocolError(op.event, parsed.problem, raw));
      } else if (!parsed.value.ok) {
        this.fail(
          op,
          new StreamgateChannelError(
            op.event,
            parsed.value.error,
            parsed.value.channel ?? op.channel,
          ),
        );
      } else {
        this.succeed(op, parsed.value.value);
      }
    });
  }

  private protocolError(
    event: string,
    problem: string,
    raw: unknown,
  ): StreamgateProtocolError {
    const error = new StreamgateProtocolError(
      `${event} acknowledgement`,
      problem,
      raw,
    );
    this.report(error);
    return error;
  }

  private startTimer(op: Pending<never>, then?: () => void): void {
    op.timer = setTimeout(() => {
      op.timer = null;
      this.fail(op, new StreamgateRequestError(op.request, 'timeout'));
      then?.();
    }, this.timeoutMs);
  }

  private stopTimer(op: Pending<never>): void {
    if (op.timer !== null) clearTimeout(op.timer);
    op.timer = null;
  }

  private succeed<T>(op: Pending<T>, value: T): void {
    if (!this.settle(op)) return;
    op.resolve(value);
  }

  private fail(op: Pending<never>, error: StreamgateClientError): void {
    if (!this.settle(op)) return;
    op.reject(error);
  }

  private settle(op: Pending<never>): boolean {
    if (op.settled) return false;
    op.settled = true;
    this.stopTimer(op);
    remove(this.membership, op);
    remove(this.reads, op);
    return true;
  }
}

function remove<T>(list: T[], item: unknown): void {
  const index = list.indexOf(item as T);
  if (index >= 0) list.splice(index, 1);
}
