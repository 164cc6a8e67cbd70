import { io, Socket } from 'socket.io-client';
import { Ack, AckBatcher } from './ack.batcher';
import { backoffDelay, shutdownReconnectDelay } from './backoff.policy';
import { ChannelRequests } from './channel.requests';
import {
  StreamgateChannelError,
  StreamgateClientError,
  StreamgateConnectError,
  StreamgateCursorStoreError,
  StreamgateHandlerError,
  StreamgateProtocolError,
  StreamgateRefusedError,
  StreamgateTokenError,
  describeCause,
} from './client.errors';
import {
  ResolvedClientOptions,
  StreamgateClientOptions,
  resolveClientOptions,
} from './client.options';
import {
  ChannelsChange,
  ClientState,
  EphemeralEventMeta,
  EventData,
  EventMap,
  EventMeta,
  EventType,
  HistoryOptions,
  HistoryPage,
  MetaOf,
  PresenceSnapshot,
  PublishData,
  PublishType,
} from './client.types';
import { CursorTracker } from './cursor.tracker';
import { ListenerSet, Unsubscribe } from './listener-set';
import {
  ChannelClientEvent,
  ChannelServerEvent,
  ClientEvent,
  Envelope,
  EvictedInfo,
  HandshakeAuth,
  PARTITION_KEY_QUERY,
  ReadyInfo,
  RefreshAck,
  RefusedChannel,
  ResyncInfo,
  ServerEvent,
  UNAUTHORIZED,
  UNAVAILABLE,
} from '@streamgate/protocol';
import { PresenceLists } from './presence.lists';
import { refreshDelay, tokenExpiry } from './token-expiry';
import {
  asCursor,
  parseEnvelope,
  parseEphemeral,
  parseEvictedInfo,
  parseHistoryAck,
  parsePresenceAck,
  parsePresenceChange,
  parsePublishAck,
  parseReadyInfo,
  parseRefreshChannels,
  parseResyncInfo,
} from './wire.validation';

const REFRESH_ACK_TIMEOUT_MS = 10_000;

/**
 * Browser client for streamgate's `/events` namespace: keeps a cursor,
 * resumes from it on every reconnect, drops resent duplicates and reconnects
 * with backoff on its own.
 *
 * `TEvents` maps the types of logged events to their payloads;
 * `TEphemeral` does the same for ephemeral events (delivered live only,
 * without an id), which `on()` handlers then receive with
 * `meta.ephemeral === true`, and which `publish()` accepts. Neither map is
 * checked at run time: they declare what the server sends.
 */
export class StreamgateClient<
  TEvents extends EventMap = EventMap,
  TEphemeral extends EventMap = Record<never, never>,
> {
  private readonly options: ResolvedClientOptions;
  private readonly cursor: CursorTracker;
  private readonly requests: ChannelRequests;
  private readonly anyHandlers = new ListenerSet<[Envelope]>();
  private readonly typeHandlers = new Map<
    string,
    ListenerSet<[unknown, EventMeta | EphemeralEventMeta]>
  >();
  private readonly presenceLists: PresenceLists;
  private readonly refusedHandlers = new ListenerSet<
    [readonly RefusedChannel[]]
  >();
  private readonly readyHandlers = new ListenerSet<[ReadyInfo]>();
  private readonly resyncHandlers = new ListenerSet<[ResyncInfo]>();
  private readonly evictedHandlers = new ListenerSet<[EvictedInfo]>();
  private readonly stateHandlers = new ListenerSet<[ClientState]>();
  private readonly errorHandlers = new ListenerSet<[StreamgateClientError]>();
  private readonly startupErrors: StreamgateClientError[] = [];
  private currentState: ClientState = 'idle';
  private socket: Socket | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private failedAttempts = 0;
  // Consecutive `unauthorized` handshakes; `maxRefusals` of them end in `failed`.
  private refusals = 0;
  // A token the server could not check (`unavailable`): tried again as is, not fetched anew.
  private keptToken: string | null = null;
  private shutdownAnnounced = false;
  // Bumped by connect() and close(); async work from an older run sees the change and stops.
  private run = 0;

  constructor(options: StreamgateClientOptions) {
    this.options = resolveClientOptions(options);
    this.cursor = new CursorTracker(this.loadCursor());
    this.requests = new ChannelRequests(this.options.requestTimeoutMs, (e) =>
      this.report(e),
    );
    this.presenceLists = new PresenceLists(
      (channel) => this.presence(channel),
      (e) => this.report(e),
      this.handlerFailed('onPresence'),
    );
  }

  get state(): ClientState {
    return this.currentState;
  }

  /**
   * The cursor: where a reconnect resumes, or `null` before the first event.
   * Opaque: with a single log it is the id of the last event delivered; with
   * a partitioned log it is a vector of one position per partition the
   * connection reads (`v2.…`, up to a few KiB), which it is also when the
   * cursor store holds it. Store it as is; never compare or parse it.
   */
  get lastEventId(): string | null {
    return this.cursor.position;
  }

  /**
   * The subscription set: the server's last confirmed set with the changes
   * not yet acknowledged applied. `null` when nothing was ever subscribed:
   * the connection then receives every event its token sees.
   */
  get channels(): readonly string[] | null {
    return this.requests.channels;
  }

  /**
   * Starts connecting; does nothing while already started. Allowed again
   * after `close()`, and from `failed` once the token can pass again.
   */
  connect(): void {
    if (
      this.currentState !== 'idle' &&
      this.currentState !== 'closed' &&
      this.currentState !== 'failed'
    )
      return;
    const run = ++this.run;
    this.failedAttempts = 0;
    this.refusals = 0;
    this.keptToken = null;
    this.setState('connecting');
    this.startupErrors.splice(0).forEach((error) => this.report(error));
    this.startAttempt(run);
  }

  /**
   * Stops reconnecting and disconnects. Resolves once the disconnect is sent
   * and the connection is closing; events still in flight are not delivered.
   */
  async close(): Promise<void> {
    this.run++;
    this.clearReconnectTimer();
    this.clearRefreshTimer();
    const socket = this.socket;
    this.socket = null;
    this.requests.close();
    this.setState('closed');
    if (socket) await disconnect(socket);
  }

  /**
   * Handles events of one type, in order. Handlers for a type run after
   * `onAny` handlers. Ephemeral events of the type come here too, with
   * `meta.ephemeral === true` and no id: they never move the cursor, are
   * never replayed and are never checked for duplicates.
   */
  on<K extends EventType<TEvents, TEphemeral>>(
    type: K,
    handler: (
      data: EventData<TEvents, TEphemeral, K>,
      meta: MetaOf<TEvents, TEphemeral, K>,
    ) => unknown,
  ): Unsubscribe {
    let handlers = this.typeHandlers.get(type);
    if (!handlers) {
      handlers = new ListenerSet();
      this.typeHandlers.set(type, handlers);
    }
    const set = handlers;
    const remove = set.add(
      handler as (
        data: unknown,
        meta: EventMeta | EphemeralEventMeta,
      ) => unknown,
    );
    return () => {
      remove();
      if (set.size === 0 && this.typeHandlers.get(type) === set) {
        this.typeHandlers.delete(type);
      }
    };
  }

  /**
   * Adds channels to the subscription set and resolves with the
   * acknowledgement: the whole set after the change and the log position at
   * the switch. Every event after `position` in the new set is delivered;
   * fetch what came before with `history(channel, { after, until: position })`.
   * Rejects with `StreamgateChannelError` (`error`, `channel`) when the
   * server refuses, and leaves the set as it was.
   *
   * The set is kept across reconnects and sent with every handshake. Called
   * while the client is not live, the change waits, without a deadline, for
   * the next connection, whose `ready` settles it.
   */
  subscribe(channels: string | readonly string[]): Promise<ChannelsChange> {
    return this.changeChannels(ChannelClientEvent.subscribe, channels);
  }

  /** Takes channels out of the subscription set; as `subscribe()` otherwise. */
  unsubscribe(channels: string | readonly string[]): Promise<ChannelsChange> {
    return this.changeChannels(ChannelClientEvent.unsubscribe, channels);
  }

  /**
   * One page of a channel's events in log order, those visible to this
   * connection, after `after` (exclusive) and up to `until` (inclusive). Pass
   * the page's `next` as `after` for the next page. History never touches the
   * cursor and never reaches `on()` handlers. Waits for the connection for at
   * most `requestTimeoutMs`.
   */
  history<K extends keyof TEvents & string = keyof TEvents & string>(
    channel: string,
    options: HistoryOptions = {},
  ): Promise<HistoryPage<TEvents[K]>> {
    const payload = {
      channel,
      ...(options.after !== undefined && { after: options.after }),
      ...(options.until !== undefined && { until: options.until }),
      ...(options.limit !== undefined && { limit: options.limit }),
    };
    return this.requests.read(
      {
        event: ChannelClientEvent.history,
        payload,
        channel,
        parse: parseHistoryAck,
      },
      { resend: true },
    ) as Promise<HistoryPage<TEvents[K]>>;
  }

  /** Every page of `history()`, one after the other, until `next` is `null`. */
  async *historyPages<
    K extends keyof TEvents & string = keyof TEvents & string,
  >(
    channel: string,
    options: HistoryOptions = {},
  ): AsyncGenerator<HistoryPage<TEvents[K]>, void, undefined> {
    let after = options.after;
    for (;;) {
      const page = await this.history<K>(channel, {
        ...options,
        ...(after !== undefined && { after }),
      });
      yield page;
      if (page.next === null || page.next === after) return;
      after = page.next;
    }
  }

  /** Who is present in a channel now. Waits for the connection for at most `requestTimeoutMs`. */
  async presence(channel: string): Promise<PresenceSnapshot> {
    const answer = await this.requests.read(
      {
        event: ChannelClientEvent.presence,
        payload: { channel },
        channel,
        parse: parsePresenceAck,
      },
      { resend: true },
    );
    return Object.freeze({ channel, ...answer });
  }

  /**
   * Keeps the member list of a presence channel and calls `handler` with it
   * whenever it changes: fetched first, then updated by `presence_changed`,
   * and fetched again after every reconnect and every subscribe that adds
   * the channel. Changes arrive only while the channel is subscribed;
   * failures to fetch go to `onError`.
   */
  onPresence(
    channel: string,
    handler: (snapshot: PresenceSnapshot) => unknown,
  ): Unsubscribe {
    return this.presenceLists.listen(channel, handler, this.requests.live);
  }

  /**
   * Sends an ephemeral event to the other subscribers of a channel this
   * connection subscribes to (typing indicators and the like): the server
   * allows it only for channels its `clientPublish.channels` names, up to
   * 4 KiB of data. Rejects at once with `StreamgateRequestError` (`offline`)
   * when the client is not live: ephemeral events are never queued.
   */
  publish<K extends PublishType<TEphemeral>>(
    channel: string,
    type: K,
    data: PublishData<TEphemeral, K>,
  ): Promise<void> {
    return this.requests
      .read(
        {
          event: ChannelClientEvent.publish,
          payload: { channel, type, data },
          channel,
          parse: parsePublishAck,
        },
        { resend: false },
      )
      .then(() => undefined);
  }

  /**
   * Called when the server took channels out of the set: on `ready`, those
   * of the set sent at connect that it refused (`forbidden` after a token
   * change, `too_many_channels`, `unavailable` while its channel authorizer
   * fails, ...), and on a token refresh, those the new token no longer
   * allows. They are out of the set from then on; subscribe again to retry
   * an `unavailable` one.
   */
  onRefused(
    handler: (refused: readonly RefusedChannel[]) => unknown,
  ): Unsubscribe {
    return this.refusedHandlers.add(handler);
  }

  /** Handles every delivered event, in order. */
  onAny(handler: (envelope: Envelope) => unknown): Unsubscribe {
    return this.anyHandlers.add(handler);
  }

  /** Called on every (re)connect once replay is over; refetch app state when `recovered` is false. */
  onReady(handler: (info: ReadyInfo) => unknown): Unsubscribe {
    return this.readyHandlers.add(handler);
  }

  /** Called when the server lost continuity mid-connection; refetch app state. */
  onResyncRequired(handler: (info: ResyncInfo) => unknown): Unsubscribe {
    return this.resyncHandlers.add(handler);
  }

  /**
   * Called when the server drops this client. The client reconnects with
   * backoff afterwards; call `close()` here to stop it (e.g. on `revoked`).
   */
  onEvicted(handler: (info: EvictedInfo) => unknown): Unsubscribe {
    return this.evictedHandlers.add(handler);
  }

  onStateChange(handler: (state: ClientState) => unknown): Unsubscribe {
    return this.stateHandlers.add(handler);
  }

  /**
   * Connect failures, protocol violations by the server, failing handlers
   * and cursor store failures. None of them stops the client.
   */
  onError(handler: (error: StreamgateClientError) => unknown): Unsubscribe {
    return this.errorHandlers.add(handler);
  }

  private startAttempt(run: number): void {
    // Nobody awaits the attempt; it reports its own failures and schedules the retry.
    this.attempt(run).catch((error: unknown) => {
      if (run !== this.run) return;
      this.report(
        new StreamgateClientError(
          `Connection attempt failed: ${describeCause(error)}`,
          { cause: error },
        ),
      );
      this.dropSocket();
      this.scheduleReconnect(run, false);
    });
  }

  private async attempt(run: number): Promise<void> {
    let token: string;
    try {
      token = this.takeKeptToken() ?? (await this.fetchToken());
    } catch (error) {
      if (run !== this.run) return;
      this.report(
        error instanceof StreamgateTokenError
          ? error
          : new StreamgateTokenError(describeCause(error), error),
      );
      this.scheduleReconnect(run, false);
      return;
    }
    if (run !== this.run) return;
    const socket = io(this.options.namespaceUrl, {
      path: this.options.path,
      transports: this.options.transports,
      reconnection: false,
      autoConnect: false,
      // One engine per client: a shared one would mix our reconnects with other sockets' lifetimes.
      forceNew: true,
      // For the load balancer only; the cursor never goes in the query.
      ...(this.options.partitionKey !== undefined && {
        query: { [PARTITION_KEY_QUERY]: this.options.partitionKey },
      }),
      // Read at handshake time so that a cursor moved by a late batch is what the server sees.
      auth: (send) => send(this.handshakeAuth(token)),
    });
    this.socket = socket;
    this.shutdownAnnounced = false;
    this.listen(socket, run, token);
    socket.connect();
    this.scheduleRefresh(socket, run, tokenExpiry(token));
  }

  /**
   * Swaps the connection's token in band before it expires, so the
   * connection and its cursor carry on; only a token function can supply a
   * new one. Opaque tokens are never refreshed early: the server's
   * `evicted { reason: 'token_expired' }` then makes the client reconnect
   * with a fresh token, and the cursor makes that lossless too.
   */
  private scheduleRefresh(
    socket: Socket,
    run: number,
    expiresAt: number | null,
  ): void {
    this.clearRefreshTimer();
    if (expiresAt === null || typeof this.options.token !== 'function') return;
    this.refreshTimer = setTimeout(
      () => {
        this.refreshTimer = null;
        void this.refresh(socket, run);
      },
      Math.min(refreshDelay(expiresAt, Date.now()), 2 ** 31 - 1),
    );
  }

  private async refresh(socket: Socket, run: number): Promise<void> {
    const current = () => this.socket === socket && this.run === run;
    let token: string;
    try {
      token = await this.fetchToken();
    } catch (error) {
      if (!current()) return;
      this.report(
        error instanceof StreamgateTokenError
          ? error
          : new StreamgateTokenError(describeCause(error), error),
      );
      // Tried again shortly; the server evicts at expiry if it never works.
      this.scheduleRefresh(socket, run, Date.now() + 6_000);
      return;
    }
    if (!current()) return;
    socket
      .timeout(REFRESH_ACK_TIMEOUT_MS)
      .emit(
        ClientEvent.refresh,
        { token },
        (error: Error | null, ack: RefreshAck | undefined) => {
          if (!current()) return;
          if (!error && ack?.ok === true) {
            this.refreshedChannels(ack);
            this.scheduleRefresh(
              socket,
              run,
              typeof ack.expiresAt === 'number'
                ? ack.expiresAt
                : tokenExpiry(token),
            );
            return;
          }
          const refusal = (ack as { error?: unknown } | undefined)?.error;
          if (!error && refusal === UNAVAILABLE) {
            // The server could not check the new token and keeps the old one; try again shortly.
            this.report(
              new StreamgateClientError(
                'The server could not check the refreshed token right now (unavailable); the connection keeps its current token and the refresh is tried again shortly.',
              ),
            );
            this.scheduleRefresh(socket, run, Date.now() + 6_000);
            return;
          }
          const reason = error
            ? 'no answer'
            : `refused: ${String(refusal ?? 'no reason')}`;
          this.report(
            new StreamgateClientError(
              `The server did not take the refreshed token (${reason}); reconnecting with a fresh one.`,
            ),
          );
          // Reconnecting resumes from the cursor, so nothing is lost.
          this.dropSocket();
          this.clearReconnectTimer();
          this.setState('reconnecting');
          this.startAttempt(run);
        },
      );
  }

  /** A refresh may take channels away: they leave the set, and `onRefused` hears of them. */
  private refreshedChannels(ack: RefreshAck): void {
    const parsed = parseRefreshChannels(ack as Record<string, unknown>);
    if (!parsed.ok) {
      this.report(
        new StreamgateProtocolError(
          `${ClientEvent.refresh} acknowledgement`,
          parsed.problem,
          ack,
        ),
      );
      return;
    }
    const { channels, refused } = parsed.value;
    if (channels !== undefined) this.requests.adoptRefresh(channels);
    if (refused !== undefined && refused.length > 0) {
      this.refusedHandlers.emit([refused], this.handlerFailed('onRefused'));
    }
  }

  /** The token kept through an outage, unless it has expired meanwhile. */
  private takeKeptToken(): string | null {
    const token = this.keptToken;
    this.keptToken = null;
    if (token === null) return null;
    const expiresAt = tokenExpiry(token);
    return expiresAt === null || expiresAt > Date.now() ? token : null;
  }

  private async fetchToken(): Promise<string> {
    const source = this.options.token;
    const token = typeof source === 'function' ? await source() : source;
    if (typeof token !== 'string' || token.length === 0) {
      throw new StreamgateTokenError(
        `it returned ${token === '' ? 'an empty string' : typeof token}, not a token`,
      );
    }
    return token;
  }

  private handshakeAuth(token: string): HandshakeAuth {
    // In the auth payload, never the query string: a vector cursor of a
    // partitioned log runs to KiBs, past what URLs and proxy logs should hold.
    const lastEventId = this.cursor.position;
    const channels = this.requests.forHandshake();
    return {
      token,
      ...(lastEventId !== null && { lastEventId }),
      ...(channels !== undefined && { channels }),
    };
  }

  private changeChannels(
    kind:
      | typeof ChannelClientEvent.subscribe
      | typeof ChannelClientEvent.unsubscribe,
    channels: string | readonly string[],
  ): Promise<ChannelsChange> {
    const list = typeof channels === 'string' ? [channels] : channels;
    if (
      !Array.isArray(list) ||
      list.length === 0 ||
      list.some((c) => typeof c !== 'string' || c.length === 0)
    ) {
      return Promise.reject(new StreamgateChannelError(kind, 'invalid'));
    }
    const change = this.requests.change(kind, [...new Set(list)]);
    if (kind === ChannelClientEvent.subscribe) {
      // Diffs reach this connection only from the switch on; what happened before is fetched.
      change.then(
        () => this.presenceLists.refetch(list),
        () => undefined,
      );
    }
    return change;
  }

  private receivePresenceChange(raw: unknown): void {
    const parsed = parsePresenceChange(raw);
    if (!parsed.ok) {
      this.report(
        new StreamgateProtocolError(
          ChannelServerEvent.presenceChanged,
          parsed.problem,
          raw,
        ),
      );
      return;
    }
    this.presenceLists.changed(parsed.value);
  }

  private receiveEphemeral(raw: unknown): void {
    const parsed = parseEphemeral(raw);
    if (!parsed.ok) {
      this.report(
        new StreamgateProtocolError(
          ChannelServerEvent.ephemeral,
          parsed.problem,
          raw,
        ),
      );
      return;
    }
    const event = parsed.value;
    const handlers = this.typeHandlers.get(event.type);
    if (!handlers) return;
    const meta: EphemeralEventMeta = Object.freeze({
      ephemeral: true,
      type: event.type,
      ts: event.ts,
      ...(event.from !== undefined && { from: event.from }),
      ...(event.channel !== undefined && { channel: event.channel }),
    });
    handlers.emit(
      [event.data, meta],
      this.handlerFailed(`on(${JSON.stringify(event.type)})`),
    );
  }

  private listen(socket: Socket, run: number, token: string): void {
    const current = () => this.socket === socket && this.run === run;
    const acks = new AckBatcher();
    socket.on('connect', () => {
      if (!current()) return;
      this.refusals = 0;
      this.setState('connected');
    });
    socket.on('connect_error', (error: Error) => {
      if (!current()) return;
      const reason = error?.message || 'unknown error';
      this.report(new StreamgateConnectError(reason, error));
      this.dropSocket();
      if (
        reason === UNAUTHORIZED &&
        ++this.refusals >= this.options.maxRefusals
      ) {
        this.fail(run);
        return;
      }
      // An outage says nothing about the token, so a token function is not asked for another one.
      if (reason === UNAVAILABLE) this.keptToken = token;
      this.scheduleReconnect(run, false);
    });
    socket.on('disconnect', (reason: string) => {
      acks.dispose();
      if (!current() || reason === 'io client disconnect') return;
      const quick = this.shutdownAnnounced;
      this.dropSocket();
      this.scheduleReconnect(run, quick);
    });
    socket.on(ServerEvent.events, (batch: unknown, ack: unknown) => {
      if (!current()) return;
      const reply = typeof ack === 'function' ? (ack as Ack) : null;
      this.receiveBatch(batch, reply, current, acks);
    });
    socket.on(ServerEvent.ready, (raw: unknown) => {
      if (current()) this.receiveReady(raw, acks, socket);
    });
    socket.on(ChannelServerEvent.presenceChanged, (raw: unknown) => {
      if (current()) this.receivePresenceChange(raw);
    });
    socket.on(ChannelServerEvent.ephemeral, (raw: unknown) => {
      if (current()) this.receiveEphemeral(raw);
    });
    socket.on(ServerEvent.resyncRequired, (raw: unknown) => {
      if (current()) this.receiveResync(raw);
    });
    socket.on(ServerEvent.evicted, (raw: unknown) => {
      if (!current()) return;
      const info = parseEvictedInfo(raw);
      if (!info.ok) {
        this.report(
          new StreamgateProtocolError(ServerEvent.evicted, info.problem, raw),
        );
        return;
      }
      // An expired token is routine: reconnect at once with a fresh one.
      if (info.value.reason === 'token_expired') this.shutdownAnnounced = true;
      this.evictedHandlers.emit([info.value], this.handlerFailed('onEvicted'));
    });
    socket.on(ServerEvent.shutdown, () => {
      if (current()) this.shutdownAnnounced = true;
    });
  }

  private receiveBatch(
    batch: unknown,
    ack: Ack | null,
    current: () => boolean,
    acks: AckBatcher,
  ): void {
    if (!Array.isArray(batch)) {
      this.report(
        new StreamgateProtocolError(
          ServerEvent.events,
          'the batch is not an array; it was not acknowledged.',
          batch,
        ),
      );
      return;
    }
    const before = this.cursor.version;
    let lastId: string | null = null;
    for (const raw of batch) {
      // The app may close the client from a handler; the rest of the batch is then not its business.
      if (!current()) break;
      const rawId = (raw as { id?: unknown } | null)?.id;
      if (typeof rawId === 'string') lastId = rawId;
      const parsed = parseEnvelope(raw);
      if (!parsed.ok) {
        this.report(
          new StreamgateProtocolError(ServerEvent.events, parsed.problem, raw),
        );
        continue;
      }
      const envelope = parsed.value;
      const admission = this.cursor.offer(envelope.id);
      if (admission === 'duplicate') continue;
      if (admission !== 'new') {
        this.report(
          new StreamgateProtocolError(
            ServerEvent.events,
            foreignEventProblem(envelope.id, admission, this.cursor.position),
            raw,
          ),
        );
        continue;
      }
      this.deliver(envelope);
    }
    if (this.cursor.version !== before) this.saveCursor();
    if (!current()) return;
    if (lastId === null) {
      if (batch.length > 0) {
        this.report(
          new StreamgateProtocolError(
            ServerEvent.events,
            'no event in the batch has an id; it was not acknowledged.',
            batch,
          ),
        );
      }
      return;
    }
    if (ack) acks.handled(ack, lastId);
  }

  private deliver(envelope: Envelope): void {
    this.anyHandlers.emit([envelope], this.handlerFailed('onAny', envelope.id));
    const handlers = this.typeHandlers.get(envelope.type);
    if (!handlers) return;
    const meta: EventMeta = Object.freeze({
      id: envelope.id,
      type: envelope.type,
      ts: envelope.ts,
    });
    handlers.emit(
      [envelope.data, meta],
      this.handlerFailed(`on(${JSON.stringify(envelope.type)})`, envelope.id),
    );
  }

  private receiveReady(raw: unknown, acks: AckBatcher, socket: Socket): void {
    const parsed = parseReadyInfo(raw);
    if (!parsed.ok) {
      this.report(
        new StreamgateProtocolError(ServerEvent.ready, parsed.problem, raw),
      );
      return;
    }
    const info = parsed.value;
    acks.setEvery(info.ackEvery);
    const before = this.cursor.position;
    if (info.lastEventId === null) {
      // The server refused our cursor without naming a new one; kept, it would make every event of a new epoch look foreign.
      if (!info.recovered) this.cursor.moveTo(null);
    } else if (info.recovered) {
      // Replay ended at or after our cursor; a lower id would only re-deliver what the app has seen.
      this.cursor.advanceTo(info.lastEventId);
    } else {
      this.cursor.moveTo(info.lastEventId);
    }
    if (this.cursor.position !== before) this.saveCursor();
    this.failedAttempts = 0;
    const refused = this.requests.goLive(socket, info);
    this.setState('live');
    this.readyHandlers.emit([info], this.handlerFailed('onReady'));
    if (refused.length > 0) {
      this.refusedHandlers.emit([refused], this.handlerFailed('onRefused'));
    }
    // Diffs sent while the connection was down are lost; the list is fetched anew.
    this.presenceLists.refetchAll();
  }

  private receiveResync(raw: unknown): void {
    const parsed = parseResyncInfo(raw);
    if (!parsed.ok) {
      this.report(
        new StreamgateProtocolError(
          ServerEvent.resyncRequired,
          parsed.problem,
          raw,
        ),
      );
      return;
    }
    const before = this.cursor.position;
    this.cursor.moveTo(parsed.value.lastEventId);
    if (this.cursor.position !== before) this.saveCursor();
    this.resyncHandlers.emit(
      [parsed.value],
      this.handlerFailed('onResyncRequired'),
    );
  }

  /** Stops retrying a token the server keeps refusing; `connect()` starts over. */
  private fail(run: number): void {
    if (run !== this.run) return;
    this.run++;
    this.clearReconnectTimer();
    this.dropSocket();
    this.setState('failed');
    this.report(new StreamgateRefusedError(this.refusals));
  }

  private scheduleReconnect(run: number, afterShutdown: boolean): void {
    if (run !== this.run) return;
    this.clearReconnectTimer();
    const delay = afterShutdown
      ? shutdownReconnectDelay()
      : backoffDelay(this.failedAttempts++, this.options.reconnect);
    this.setState('reconnecting');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (run === this.run) this.startAttempt(run);
    }, delay);
  }

  private clearReconnectTimer(): void {
    if (this.reconnectTimer === null) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
  }

  private clearRefreshTimer(): void {
    if (this.refreshTimer === null) return;
    clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
  }

  private dropSocket(): void {
    this.clearRefreshTimer();
    const socket = this.socket;
    this.socket = null;
    this.requests.goOffline();
    if (socket) void disconnect(socket);
  }

  private loadCursor(): string | null {
    let stored: unknown;
    try {
      stored = this.options.cursorStore.load();
    } catch (error) {
      this.startupErrors.push(
        new StreamgateCursorStoreError(
          `failed to load (${describeCause(error)}); starting without a cursor.`,
          error,
        ),
      );
      return null;
    }
    if (stored === null || stored === undefined) return null;
    const cursor = asCursor(stored);
    if (cursor === null) {
      const shown = JSON.stringify(stored) ?? String(stored);
      this.startupErrors.push(
        new StreamgateCursorStoreError(
          `held ${shown.length > 60 ? `${shown.slice(0, 60)}…` : shown}, which is not a cursor; starting without a cursor.`,
        ),
      );
    }
    return cursor;
  }

  private saveCursor(): void {
    try {
      this.options.cursorStore.save(this.cursor.position);
    } catch (error) {
      this.report(
        new StreamgateCursorStoreError(
          `failed to save (${describeCause(error)}); the cursor is kept in memory, so only a reload would lose it.`,
          error,
        ),
      );
    }
  }

  private setState(state: ClientState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.stateHandlers.emit([state], this.handlerFailed('onStateChange'));
  }

  private handlerFailed(
    listener: string,
    eventId?: string,
  ): (error: unknown) => void {
    return (error) =>
      this.report(new StreamgateHandlerError(listener, error, eventId));
  }

  private report(error: StreamgateClientError): void {
    if (this.errorHandlers.size === 0) return logUnhandled(error);
    this.errorHandlers.emit([error], logUnhandled);
  }
}

function foreignEventProblem(
  id: string,
  admission: 'foreign_epoch' | 'foreign_layout' | 'foreign_format',
  cursor: string | null,
): string {
  const shown =
    cursor !== null && cursor.length > 60 ? `${cursor.slice(0, 60)}…` : cursor;
  switch (admission) {
    case 'foreign_epoch':
      return `event ${id} belongs to another log epoch than the cursor ${shown}; only "ready" or "resync_required" may move the cursor into a new epoch.`;
    case 'foreign_layout':
      return `event ${id} names a partition the cursor's layout does not have (${shown}); only "ready" or "resync_required" may change the layout.`;
    case 'foreign_format':
      return `event ${id} is not of the cursor's format (${shown ?? 'no cursor'}): partitioned ids come only after a vector cursor, and single-log ids only without one; only "ready" or "resync_required" may switch.`;
  }
}

function disconnect(socket: Socket): Promise<void> {
  socket.off();
  socket.disconnect();
  // The engine closes its transport in the background; one macrotask lets its close frame go out.
  return new Promise((resolve) => setTimeout(resolve, 0));
}

// Errors nobody listens for, and errors thrown by onError handlers, would otherwise vanish.
function logUnhandled(error: unknown): void {
  globalThis.console?.error('[streamgate]', error);
}
