import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { RunningApp, startApp } from '../support/app';
import { RedisServerHandle, startRedisServer } from '../support/redis-server';
import { StreamReader } from '../processes/support/stream-reader';
import { delay } from '../support/wait-for';
import {
  CORS_ORIGIN,
  Platform,
  PlatformApp,
  REQUEST_ID,
  startPlatformApp,
  TOKENS,
} from './platform-app';

jest.setTimeout(60_000);

const PLATFORMS: readonly Platform[] = ['express', 'fastify'];
/** Headers whose bytes clients and proxies act on. */
const HEADERS = [
  'access-control-allow-origin',
  'content-type',
  'cache-control',
  'retry-after',
  'x-accel-buffering',
  'x-request-id',
] as const;
const MiB = 1_048_576;

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | null>;
  readonly body: string;
}

async function call(
  app: PlatformApp,
  method: string,
  path: string,
  options: {
    body?: unknown;
    raw?: string;
    token?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<Answer> {
  const hasBody = options.body !== undefined || options.raw !== undefined;
  const res = await fetch(`${app.url}${path}`, {
    method,
    headers: {
      ...(hasBody ? { 'content-type': 'application/json' } : {}),
      authorization: `Bearer ${options.token ?? TOKENS.admin}`,
      origin: CORS_ORIGIN,
      ...options.headers,
    },
    body: hasBody ? (options.raw ?? JSON.stringify(options.body)) : undefined,
  });
  const headers = Object.fromEntries(
    HEADERS.map((name) => [name, res.headers.get(name)]),
  );
  return { status: res.status, headers, body: await res.text() };
}

/** POSTs `size` bytes of JSON without a declared length; resolves with the status. */
function postChunked(app: PlatformApp, path: string, size: number) {
  return new Promise<number>((resolve, reject) => {
    const req = request(`${app.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'transfer-encoding': 'chunked',
        authorization: `Bearer ${TOKENS.admin}`,
      },
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    // The server may answer and close before the whole body is sent.
    req.on('error', reject);
    const chunk = 'x'.repeat(64 * 1024);
    req.write('{"type":"a","data":"');
    for (let sent = 0; sent < size; sent += chunk.length) req.write(chunk);
    req.end('"}');
  });
}

/** Sends the same request to every app; returns the answers by platform. */
async function both(
  apps: readonly PlatformApp[],
  request: (app: PlatformApp) => Promise<Answer>,
): Promise<[Answer, Answer]> {
  const [express, fastify] = await Promise.all(apps.map(request));
  return [express, fastify];
}

describe('The module on Express and on Fastify', () => {
  let apps: PlatformApp[];
  beforeAll(async () => {
    const prefix = `parity-${randomUUID()}`;
    // Both hosts let their own parser take less than the module's 1 MiB.
    apps = await Promise.all(
      PLATFORMS.map((platform) =>
        startPlatformApp({
          platform,
          redisUrl: process.env.REDIS_URL!,
          prefix,
          hostBodyLimit: 10_240,
        }),
      ),
    );
  });
  afterAll(() => Promise.all(apps.map((app) => app.close())));

  describe('when POST /events is sent', () => {
    it('answers 201 { id } with the same headers', async () => {
      const [express, fastify] = await both(apps, (app) =>
        call(app, 'POST', '/events', { body: { type: 'a', data: 1 } }),
      );
      expect(express.status).toBe(201);
      expect(fastify.status).toBe(201);
      expect(fastify.headers).toEqual(express.headers);
      expect(Object.keys(JSON.parse(fastify.body))).toEqual(['id']);
    });

    it('answers 400 with the same bytes', async () => {
      const [express, fastify] = await both(apps, (app) =>
        call(app, 'POST', '/events', { body: { type: '1bad', data: 1 } }),
      );
      expect(express.status).toBe(400);
      expect(fastify).toEqual(express);
      expect(JSON.parse(express.body)).toMatchObject({ field: 'type' });
    });

    it('accepts a body larger than the host parser allows, up to maxBodyBytes', async () => {
      const [express, fastify] = await both(apps, (app) =>
        call(app, 'POST', '/events', {
          body: { type: 'a', data: 'x'.repeat(200_000) },
        }),
      );
      expect(express.status).toBe(201);
      expect(fastify.status).toBe(201);
    });

    it('answers 413 with the same bytes past maxBodyBytes', async () => {
      const raw = JSON.stringify({ type: 'a', data: 'x'.repeat(MiB) });
      const [express, fastify] = await both(apps, (app) =>
        call(app, 'POST', '/events', { raw }),
      );
      expect(express.status).toBe(413);
      expect(fastify).toEqual(express);
      expect(JSON.parse(express.body).message).toMatch(/1048576 bytes/);
    });

    it('answers 413 to a body without a declared length past maxBodyBytes', async () => {
      const statuses = await Promise.all(
        apps.map((app) => postChunked(app, '/events', MiB + 1)),
      );
      expect(statuses).toEqual([413, 413]);
    });
  });

  describe('when a process is written and read', () => {
    const id = 'p-1';
    beforeAll(async () => {
      const [express, fastify] = apps;
      for (const text of ['one', 'two', 'three']) {
        const res = await call(express, 'POST', `/processes/${id}/messages`, {
          body: { type: 'text', payload: { text } },
        });
        expect(res.status).toBe(201);
      }
      const done = await call(fastify, 'PUT', `/processes/${id}/status`, {
        body: { status: 'completed' },
      });
      expect(done.status).toBe(200);
    });

    it('serves the same JSON page', async () => {
      const [express, fastify] = await both(apps, (app) =>
        call(app, 'GET', `/processes/${id}/messages?after=1`, {
          token: TOKENS.reader,
        }),
      );
      expect(express.status).toBe(200);
      expect(fastify).toEqual(express);
      expect(JSON.parse(express.body).messages).toHaveLength(2);
    });

    it('serves the same NDJSON stream', async () => {
      const [express, fastify] = await both(apps, (app) =>
        call(app, 'GET', `/processes/${id}/messages`, {
          token: TOKENS.reader,
          headers: { accept: 'application/x-ndjson' },
        }),
      );
      expect(express.status).toBe(200);
      expect(express.headers['content-type']).toMatch(/ndjson/);
      expect(fastify).toEqual(express);
      expect(express.body.trim().split('\n')).toHaveLength(4);
    });

    it('resumes SSE after Last-Event-ID with the same frames, byte for byte', async () => {
      const [express, fastify] = await both(apps, (app) =>
        call(app, 'GET', `/processes/${id}/messages`, {
          token: TOKENS.reader,
          headers: { accept: 'text/event-stream', 'last-event-id': '1' },
        }),
      );
      expect(express.status).toBe(200);
      expect(express.headers).toMatchObject({
        'access-control-allow-origin': CORS_ORIGIN,
        'x-request-id': REQUEST_ID,
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        'x-accel-buffering': 'no',
      });
      expect(fastify).toEqual(express);
      expect(express.body).toMatch(/^retry: 100\n\n/);
      expect(express.body).not.toContain('id: 1\n');
      expect(express.body).toContain('id: 2\n');
      expect(express.body).toContain('id: 3\n');
      expect(express.body).toMatch(/event: end\n/);
    });

    it('answers 413 with the same bytes past maxBodyBytes', async () => {
      const raw = JSON.stringify({
        type: 'text',
        payload: { text: 'x'.repeat(MiB) },
      });
      const [express, fastify] = await both(apps, (app) =>
        call(app, 'POST', `/processes/p-2/messages`, { raw }),
      );
      expect(express.status).toBe(413);
      expect(fastify).toEqual(express);
    });
  });

  describe('when POST /auth/revocations is sent', () => {
    it('answers 202 { revokedAt } alike, and 400 with the same bytes', async () => {
      const [express, fastify] = await both(apps, (app) =>
        call(app, 'POST', '/auth/revocations', { body: { sub: 'mallory' } }),
      );
      expect(express.status).toBe(202);
      expect(fastify.status).toBe(202);
      expect(fastify.headers).toEqual(express.headers);
      expect(typeof JSON.parse(fastify.body).revokedAt).toBe('number');
      const [badExpress, badFastify] = await both(apps, (app) =>
        call(app, 'POST', '/auth/revocations', { body: {} }),
      );
      expect(badExpress.status).toBe(400);
      expect(badFastify).toEqual(badExpress);
    });
  });

  describe("when a host's own route finds the event log unavailable", () => {
    it('answers 503 with Retry-After through StreamgateExceptionFilter', async () => {
      const [express, fastify] = await both(apps, (app) =>
        call(app, 'GET', '/host/publish'),
      );
      expect(express.status).toBe(503);
      expect(express.headers['retry-after']).toBe('1');
      expect(fastify).toEqual(express);
    });
  });
});

describe('A live SSE stream on Express and on Fastify', () => {
  let apps: PlatformApp[];
  beforeAll(async () => {
    // One node each, so that every message reaches its stream by the node's own path.
    apps = await Promise.all(
      PLATFORMS.map((platform) =>
        startPlatformApp({
          platform,
          redisUrl: process.env.REDIS_URL!,
          prefix: `parity-${randomUUID()}`,
        }),
      ),
    );
  });
  afterAll(() => Promise.all(apps.map((app) => app.close())));

  it("follows a live SSE stream with the same frames and the host's headers", async () => {
    const live = (app: PlatformApp) => `p-live-${app.platform}`;
    const append = async (app: PlatformApp, text: string) => {
      const res = await call(app, 'POST', `/processes/${live(app)}/messages`, {
        body: { type: 'text', payload: { text } },
      });
      expect(res.status).toBe(201);
    };
    await Promise.all(apps.map((app) => append(app, 'zero')));
    const readers = await Promise.all(
      apps.map((app) =>
        StreamReader.open(`${app.url}/processes/${live(app)}/messages`, {
          token: TOKENS.admin,
          lastEventId: '1',
          headers: { origin: CORS_ORIGIN },
        }),
      ),
    );
    try {
      for (const reader of readers) {
        expect(reader.status).toBe(200);
        expect(reader.res.headers).toMatchObject({
          'access-control-allow-origin': CORS_ORIGIN,
          'x-request-id': REQUEST_ID,
        });
      }
      // Appended once the streams are open, after their handlers returned.
      for (const text of ['one', 'two'])
        await Promise.all(apps.map((app) => append(app, text)));
      await Promise.all(readers.map((reader) => reader.untilSeq(3, 20_000)));
      // Heartbeats come at each stream's own pace; the messages are alike
      // but for their process and time.
      const messages = (reader: StreamReader) =>
        reader.frames
          .filter((frame) => frame.event === 'message')
          .map((frame) =>
            frame.data
              ?.replace(/p-live-\w+/, 'p-live')
              .replace(/"createdAt":"[^"]+"/, ''),
          );
      const [express, fastify] = readers;
      expect(messages(fastify)).toEqual(messages(express));
      expect(express.seqs).toEqual([2, 3]);
    } finally {
      for (const reader of readers) reader.close();
    }
  });
});

describe('The module on hosts whose parser allows more than maxBodyBytes', () => {
  let apps: PlatformApp[];
  beforeAll(async () => {
    const prefix = `parity-${randomUUID()}`;
    apps = await Promise.all(
      PLATFORMS.map((platform) =>
        startPlatformApp({
          platform,
          redisUrl: process.env.REDIS_URL!,
          prefix,
          hostBodyLimit: 8 * MiB,
        }),
      ),
    );
  });
  afterAll(() => Promise.all(apps.map((app) => app.close())));

  it('still answers 413 past 1 MiB, with the same bytes', async () => {
    const raw = JSON.stringify({ type: 'a', data: 'x'.repeat(MiB) });
    const [express, fastify] = await both(apps, (app) =>
      call(app, 'POST', '/events', { raw }),
    );
    expect(express.status).toBe(413);
    expect(fastify).toEqual(express);
  });
});

describe('The module on Express and on Fastify while Redis is down', () => {
  let redis: RedisServerHandle;
  let apps: PlatformApp[];
  beforeAll(async () => {
    redis = await startRedisServer();
    const prefix = `parity-${randomUUID()}`;
    apps = await Promise.all(
      PLATFORMS.map((platform) =>
        startPlatformApp({ platform, redisUrl: redis.url, prefix }),
      ),
    );
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await redis.stop();
  });

  it('answers POST /events with 503 and Retry-After, with the same bytes', async () => {
    await redis.kill();
    // Each node checks access from what its reader last read of the log for
    // up to `revocationMaxStalenessMs` (5 s) and then answers that access
    // cannot be checked; past that bound both nodes are in the same state,
    // whichever of them last read the log earlier.
    await delay(5_500);
    const [express, fastify] = await both(apps, (app) =>
      call(app, 'POST', '/events', { body: { type: 'a', data: 1 } }),
    );
    expect(express.status).toBe(503);
    expect(express.headers['retry-after']).toBe('1');
    expect(fastify).toEqual(express);
  });
});

describe('The reference app, which leaves the body limit to the module', () => {
  let node: RunningApp;
  beforeAll(async () => {
    node = await startApp({
      REDIS_URL: process.env.REDIS_URL!,
      EVENT_BUS_PREFIX: `parity-${randomUUID()}`,
    });
  });
  afterAll(() => node.close());

  const publish = (data: string) =>
    fetch(`${node.url}/events`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${node.token('worker', ['events:publish'])}`,
      },
      body: JSON.stringify({ type: 'a', data }),
    });

  it("accepts a body over Express's 100 KB default and answers 413 past 1 MiB", async () => {
    expect((await publish('x'.repeat(200_000))).status).toBe(201);
    expect((await publish('x'.repeat(MiB))).status).toBe(413);
  });
});
