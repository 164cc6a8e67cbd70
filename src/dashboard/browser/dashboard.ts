import {
  StreamgateClient,
  Transport,
  sessionStorageCursorStore,
} from '@streamgate/client';
import { ChannelsView } from './channels.view';
import { ConnectionView } from './connection.view';
import { DemoControls } from './demo.controls';
import { byId, byTestId } from './dom';
import { FeedView } from './feed.view';
import { ProcessView } from './process.view';
import { DashboardTokens } from './token.source';

/**
 * Page options, from the query string:
 * - `transport=websocket|polling`: only this Socket.IO transport (default both);
 * - `sub=<user>` and `scopes=a,b`: what to ask `/dev/token` for (default `dashboard`, `*`);
 * - `channels=a,b`: channels to subscribe to at once (default none: unfiltered).
 */
function pageOptions() {
  const query = new URLSearchParams(location.search);
  const transport = query.get('transport');
  return {
    devTools: document.body.dataset.devTools === 'true',
    transports:
      transport === 'websocket' || transport === 'polling'
        ? ([transport] as Transport[])
        : undefined,
    sub: query.get('sub') || 'dashboard',
    scopes: query.get('scopes') || '*',
    channels: (query.get('channels') ?? '')
      .split(',')
      .map((c) => c.trim())
      .filter(Boolean),
  };
}

function main(): void {
  const options = pageOptions();
  const tokens = new DashboardTokens(options.devTools, options);
  const connection = new ConnectionView();
  const feed = new FeedView(
    byTestId<HTMLTableSectionElement>('feed'),
    byTestId('type-filters'),
    byTestId('feed-empty'),
  );
  const client = new StreamgateClient({
    url: location.origin,
    token: () => tokens.get(),
    cursorStore: sessionStorageCursorStore(),
    transports: options.transports,
    // A dashboard should come back quickly; the default 30 s ceiling suits fleets of clients better.
    reconnect: { initialDelayMs: 250, maxDelayMs: 5000 },
  });

  client.onStateChange((state) => {
    connection.setState(state);
    connection.entry(
      'state',
      state === 'connected' ? 'connected, replaying' : state,
    );
  });
  client.onAny((envelope) => {
    feed.add(envelope);
    connection.bump('events');
    connection.setCursor(envelope.id);
  });
  client.onReady((info) => {
    const text = connection.ready(info);
    connection.setCursor(client.lastEventId);
    connection.entry('ready', `ready: ${text}`);
    if (!info.recovered && info.reason !== 'no_cursor') {
      feed.marker(
        `Gap (${info.reason ?? 'unknown'}): events before this line may be missing.`,
        'gap',
      );
    }
  });
  client.onResyncRequired((info) => {
    connection.bump('resyncs');
    connection.setCursor(client.lastEventId);
    connection.entry('resync', `resync required: ${info.reason}`);
    feed.marker(
      `Resync (${info.reason}): events before this line may be missing.`,
      'gap',
    );
  });
  client.onEvicted((info) => {
    connection.bump('evictions');
    connection.entry('evicted', `evicted: ${info.reason}`);
    feed.marker(`Evicted by the server (${info.reason}).`, 'evicted');
    // A revoked token will not be accepted again; retrying would only spin.
    if (info.reason === 'revoked') {
      void client
        .close()
        .then(() =>
          connection.setState('closed', 'access revoked: use another token'),
        );
    }
  });
  client.onError((error) => {
    connection.bump('errors');
    connection.entry('error', error.message);
  });

  const identity = byTestId('identity');
  const showIdentity = () =>
    tokens.describe().then(
      (text) => (identity.textContent = text),
      (error: Error) => (identity.textContent = error.message),
    );

  const tokenForm = byId<HTMLFormElement>('token-form');
  const tokenInput = byId<HTMLTextAreaElement>('token-input');
  const reconnectWithNewToken = async () => {
    await client.close();
    client.connect();
    void showIdentity();
  };
  tokenForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = tokenInput.value.trim();
    if (!token) return;
    tokens.setPasted(token);
    tokenInput.value = '';
    void reconnectWithNewToken();
  });
  const devButton = byId<HTMLButtonElement>('token-dev');
  devButton.hidden = !options.devTools;
  devButton.addEventListener('click', () => {
    tokens.setPasted(null);
    void reconnectWithNewToken();
  });

  byId<HTMLInputElement>('feed-search').addEventListener('input', (event) =>
    feed.setSearch((event.target as HTMLInputElement).value),
  );
  byId<HTMLButtonElement>('feed-clear').addEventListener('click', () =>
    feed.clear(),
  );

  new ChannelsView(client).init(options.channels);
  new ProcessView(() => tokens.get()).init();
  if (options.devTools) void new DemoControls().init();

  connection.setState(client.state);
  connection.setCursor(client.lastEventId);
  client.connect();
  void showIdentity();
  // For poking at the client from the browser's developer console.
  (window as unknown as Record<string, unknown>).streamgateDashboard = {
    client,
  };
}

main();
