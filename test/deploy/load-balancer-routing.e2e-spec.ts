import {
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, request, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Server as IoServer } from 'socket.io';
import { io, Socket } from 'socket.io-client';
import { freePort } from '../support/free-port';
import { GuardedChild, spawnGuarded } from '../support/guarded-child';
import { waitFor } from '../support/wait-for';

/**
 * The example load balancer configs in deploy/, run for real in front of
 * three loopback backends that say which of them answered. The configs are
 * the shipped files; the test changes only their listen address, their
 * servers, and for speed and this machine's limits HAProxy's health check
 * interval and maxconn.
 */

const ROOT = join(__dirname, '..', '..');
const BACKENDS = 3;
/** P in deploy/haproxy/haproxy.cfg. */
const PARTITIONS = 64;
const KEY = 'partitionKey';

/**
 * The app's partition of a key, as docs/scaling.md specifies it: CRC-32
 * (IEEE, the zlib one) of the key's UTF-8 bytes, mod P. Written out here
 * rather than imported, as any other implementation (this load balancer's)
 * must find the same partition from the specification alone.
 */
function partitionOf(key: string): number {
  let crc = 0xffffffff;
  for (const byte of Buffer.from(key, 'utf8')) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return ((crc ^ 0xffffffff) >>> 0) % PARTITIONS;
}

function findBinary(name: string): string | null {
  const dirs = [
    ...(process.env.PATH ?? '').split(delimiter),
    '/usr/sbin',
    '/usr/local/sbin',
  ];
  for (const dir of dirs)
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  return null;
}

interface Backend {
  readonly name: string;
  readonly port: number;
  /** What `GET /health/ready` answers: 200 when ready, else 503. */
  ready: boolean;
  readonly http: Server;
  readonly io: IoServer;
}

/** A node stand-in: names itself on every HTTP answer and to every socket. */
async function startBackend(name: string): Promise<Backend> {
  const http = createServer();
  const backend = {
    name,
    port: 0,
    ready: true,
    http,
    io: new IoServer(http, { transports: ['polling', 'websocket'] }),
  };
  http.on('request', (req, res) => {
    // Socket.IO answers its own path; everything else is ours.
    if (req.url?.startsWith('/socket.io/')) return;
    if (req.url === '/health/ready') {
      res.writeHead(backend.ready ? 200 : 503).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ backend: name, url: req.url }));
  });
  backend.io.on('connection', (socket) => {
    socket.emit('hello', name);
    socket.on('whoami', (ack: (name: string) => void) => ack(name));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return Object.assign(backend, { port: (http.address() as AddressInfo).port });
}

/** Which backend answered `GET path` through the load balancer. */
function backendOf(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          if (res.statusCode !== 200)
            return reject(new Error(`GET ${path}: ${res.statusCode} ${body}`));
          resolve((JSON.parse(body) as { backend: string }).backend);
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const withKey = (key: string, extra = '') =>
  `/events/history?${KEY}=${encodeURIComponent(key)}${extra}`;

/** A real Socket.IO connection through the load balancer: which backend holds it, and on which transport. */
async function connectThrough(
  port: number,
  transports: ('polling' | 'websocket')[],
  partitionKey?: string,
): Promise<{ backend: string; transport: string }> {
  const socket: Socket = io(`http://127.0.0.1:${port}`, {
    transports,
    reconnection: false,
    forceNew: true,
    timeout: 5_000,
    query: partitionKey === undefined ? {} : { [KEY]: partitionKey },
  });
  try {
    const backend = await new Promise<string>((resolve, reject) => {
      socket.once('hello', resolve);
      socket.once('connect_error', reject);
    });
    if (transports.includes('websocket') && transports[0] === 'polling')
      // Polling first, then the upgrade: its probe must reach the same node.
      await waitFor(
        () => socket.io.engine.transport.name === 'websocket',
        'the upgrade to WebSocket',
        5_000,
      );
    // A round trip on the final transport, so that a broken session shows.
    expect(await socket.timeout(5_000).emitWithAck('whoami')).toBe(backend);
    return { backend, transport: socket.io.engine.transport.name };
  } finally {
    socket.disconnect();
  }
}

interface LoadBalancer {
  readonly port: number;
  readonly child: GuardedChild;
}

type Starter = (backends: Backend[], dir: string) => Promise<LoadBalancer>;

async function startHaproxy(
  backends: Backend[],
  dir: string,
): Promise<LoadBalancer> {
  const port = await freePort();
  const shipped = readFileSync(
    join(ROOT, 'deploy/haproxy/haproxy.cfg'),
    'utf8',
  );
  const servers = backends
    .map((b) => `  server ${b.name} 127.0.0.1:${b.port}`)
    .join('\n');
  const config = shipped
    .replace(/^\s*bind \S+$/m, `  bind 127.0.0.1:${port}`)
    .replace(/(^\s*server \S+ \S+\n?)+/m, `${servers}\n`)
    .replace(/\binter \d+s\b/, 'inter 200ms')
    // A production maxconn needs more file descriptors than a test machine may allow.
    .replace(/^(\s*maxconn) \d+$/m, '$1 1000');
  expect(config).toContain(servers);
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, config);
  const child = await spawnGuarded(
    findBinary('haproxy')!,
    ['-db', '-f', file],
    { reapSignal: 'SIGKILL' },
  );
  return { port, child };
}

/** Where Debian's libnginx-mod-http-js puts the njs module. */
const NJS_MODULE = '/usr/lib/nginx/modules/ngx_http_js_module.so';

/** The nginx example as shipped (hashing the key), or with its njs lines turned on (hashing the partition). */
async function startNginx(
  backends: Backend[],
  dir: string,
  byPartition = false,
): Promise<LoadBalancer> {
  const port = await freePort();
  const shipped = readFileSync(
    join(ROOT, 'deploy/nginx/streamgate.conf'),
    'utf8',
  );
  const servers = backends
    .map((b) => `  server 127.0.0.1:${b.port} max_fails=3 fail_timeout=10s;`)
    .join('\n');
  const site = shipped
    .replace(/^\s*listen \S+;$/m, `  listen 127.0.0.1:${port};`)
    .replace(/(^\s*server \S+:\d+[^;\n]*;\n?)+/m, `${servers}\n`);
  expect(site).toContain(servers);
  writeFileSync(
    join(dir, 'streamgate.conf'),
    byPartition ? withNjs(site) : site,
  );
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `  ${t}_temp_path ${join(dir, t)};`)
    .join('\n');
  writeFileSync(
    join(dir, 'nginx.conf'),
    [
      // Run as root (CI), the workers would otherwise drop to a user that cannot read this directory.
      process.getuid?.() === 0 ? 'user root;' : '',
      byPartition ? `load_module ${NJS_MODULE};` : '',
      'worker_processes 1;',
      'daemon off;',
      `pid ${join(dir, 'nginx.pid')};`,
      'error_log stderr warn;',
      'events { worker_connections 512; }',
      'http {',
      '  access_log off;',
      temp,
      `  include ${join(dir, 'streamgate.conf')};`,
      '}',
    ].join('\n'),
  );
  const child = await spawnGuarded(
    findBinary('nginx')!,
    ['-e', 'stderr', '-p', dir, '-c', join(dir, 'nginx.conf')],
    { reapSignal: 'SIGKILL' },
  );
  return { port, child };
}

/** Follows the steps streamgate.conf gives for routing by partition with njs. */
function withNjs(site: string): string {
  const script = join(ROOT, 'deploy/nginx/partition.js');
  const steps: [RegExp, string][] = [
    [/^#(js_import streamgate from )\S+;$/m, `$1${script};`],
    [/^#(js_set \$streamgate_partition_route streamgate\.route;)$/m, '$1'],
    [
      /\bhash \$streamgate_route consistent;/,
      'hash $streamgate_partition_route consistent;',
    ],
  ];
  for (const [pattern, replacement] of steps) {
    expect(site).toMatch(pattern);
    site = site.replace(pattern, replacement);
  }
  return site;
}

function describeLoadBalancer(
  name: string,
  binary: string,
  start: Starter,
  routesByPartition: boolean,
  missing = findBinary(binary)
    ? null
    : `no "${binary}" binary on PATH or in /usr/sbin. Install it with "apt-get install ${binary}"`,
): void {
  const found = missing === null;
  if (!found) console.warn(`Skipping the ${name} routing test: ${missing}.`);
  (found ? describe : describe.skip)(`deploy/ ${name} example`, () => {
    let backends: Backend[] = [];
    let lb: LoadBalancer;
    let dir: string;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), `streamgate-${binary}-`));
      backends = await Promise.all(
        Array.from({ length: BACKENDS }, (_, i) => startBackend(`b${i}`)),
      );
      lb = await start(backends, dir);
      await waitFor(
        async () => {
          if (!lb.child.running)
            throw new Error(`${binary} exited:\n${lb.child.output()}`);
          return backendOf(lb.port, '/').catch(() => false);
        },
        `${name} to answer`,
        10_000,
      );
    });

    afterAll(async () => {
      if (lb?.child.running) {
        lb.child.signal('SIGTERM');
        await lb.child.exited;
      }
      for (const backend of backends) {
        await backend.io.close();
        backend.http.closeAllConnections();
      }
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('sends every request of one key to one backend, whatever else the query holds', async () => {
      for (let i = 0; i < 12; i++) {
        const key = `tenant:t${i}`;
        const seen = new Set<string>();
        // Engine.IO's requests of one connection: the handshake, then
        // polls with a session id and a cache-busting timestamp, the key
        // anywhere in the query.
        seen.add(
          await backendOf(lb.port, withKey(key, '&EIO=4&transport=polling')),
        );
        for (let j = 0; j < 4; j++)
          seen.add(
            await backendOf(
              lb.port,
              `/p?EIO=4&transport=polling&sid=s${j}&t=${Date.now()}${j}&${KEY}=${encodeURIComponent(key)}`,
            ),
          );
        expect([...seen]).toHaveLength(1);
      }
    });

    it('keeps a key that is not valid percent-encoding on one backend too', async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 2 * BACKENDS; i++)
        seen.add(
          await backendOf(
            lb.port,
            `/p?EIO=4&transport=polling&t=${i}&${KEY}=t%zz`,
          ),
        );
      expect(seen.size).toBe(1);
    });

    it('spreads keys over the backends', async () => {
      const counts = new Map<string, number>();
      for (let i = 0; i < 150; i++) {
        const backend = await backendOf(lb.port, withKey(`tenant:k${i}`));
        counts.set(backend, (counts.get(backend) ?? 0) + 1);
      }
      // Consistent hashing over few routes is uneven; each backend still takes a share.
      expect([...counts.keys()].sort()).toEqual(backends.map((b) => b.name));
      for (const count of counts.values())
        expect(count).toBeLessThan(150 * 0.75);
    });

    if (routesByPartition)
      it('sends every key of one partition to one backend: the app’s CRC-32 mod P', async () => {
        const byPartition = new Map<number, Set<string>>();
        // Non-ASCII keys too: the hash is over UTF-8 bytes, after URL decoding.
        const keys = Array.from({ length: 400 }, (_, i) =>
          i % 5 === 0 ? `tenant:é${i}` : `tenant:${i}`,
        );
        for (const key of keys) {
          const partition = partitionOf(key);
          const set = byPartition.get(partition) ?? new Set<string>();
          set.add(await backendOf(lb.port, withKey(key)));
          byPartition.set(partition, set);
        }
        expect(byPartition.size).toBe(PARTITIONS);
        // The partitions themselves spread: hashed without the avalanche
        // step, the 64 small integers all landed on one backend.
        const partitionsPer = new Map<string, number>();
        for (const set of byPartition.values())
          for (const backend of set)
            partitionsPer.set(backend, (partitionsPer.get(backend) ?? 0) + 1);
        expect([...partitionsPer.keys()].sort()).toEqual(
          backends.map((b) => b.name),
        );
        for (const count of partitionsPer.values())
          expect(count).toBeGreaterThanOrEqual(PARTITIONS / BACKENDS / 3);
        for (const [partition, set] of byPartition)
          expect({ partition, backends: [...set] }).toEqual({
            partition,
            backends: [expect.any(String)],
          });
      });

    it('routes a WebSocket connection by its key, to the backend of that key', async () => {
      const reached = new Set<string>();
      for (let i = 0; i < 6; i++) {
        const key = `tenant:w${i}`;
        const expected = await backendOf(lb.port, withKey(key));
        const direct = await connectThrough(lb.port, ['websocket'], key);
        expect(direct).toEqual({ backend: expected, transport: 'websocket' });
        reached.add(direct.backend);
      }
      expect(reached.size).toBeGreaterThan(1);
    });

    it('keeps a long-polling connection, and its upgrade, on the backend of its key', async () => {
      for (let i = 0; i < 4; i++) {
        const key = `tenant:p${i}`;
        const expected = await backendOf(lb.port, withKey(key));
        expect(
          await connectThrough(lb.port, ['polling', 'websocket'], key),
        ).toEqual({ backend: expected, transport: 'websocket' });
        expect(await connectThrough(lb.port, ['polling'], key)).toEqual({
          backend: expected,
          transport: 'polling',
        });
      }
    });

    it('balances requests without a key round robin, but keeps an Engine.IO connection on one backend by address', async () => {
      const names = backends.map((b) => b.name);
      const plain = new Set<string>();
      for (let i = 0; i < 2 * BACKENDS; i++) {
        plain.add(await backendOf(lb.port, '/events/history'));
        plain.add(await backendOf(lb.port, `/events/history?${KEY}=`));
      }
      expect([...plain].sort()).toEqual(names);
      // Every request comes from 127.0.0.1: one address, one backend.
      const engineIo = new Set<string>();
      for (let i = 0; i < 2 * BACKENDS; i++)
        engineIo.add(
          await backendOf(lb.port, `/p?EIO=4&transport=polling&t=${i}&${KEY}=`),
        );
      expect(engineIo.size).toBe(1);
      for (let i = 0; i < 3; i++) {
        expect(await connectThrough(lb.port, ['polling'])).toEqual({
          backend: [...engineIo][0],
          transport: 'polling',
        });
        expect(await connectThrough(lb.port, ['polling', 'websocket'])).toEqual(
          { backend: [...engineIo][0], transport: 'websocket' },
        );
      }
    });

    if (binary === 'haproxy')
      it('moves only the keys of a backend that turns unready, and brings them back', async () => {
        const keys = Array.from({ length: 40 }, (_, i) => `tenant:r${i}`);
        const before = new Map<string, string>();
        for (const key of keys)
          before.set(key, await backendOf(lb.port, withKey(key)));
        const victim = backends.find((b) =>
          [...before.values()].includes(b.name),
        )!;
        victim.ready = false;
        try {
          // fall 3 × inter 200 ms, with room for a loaded machine.
          await waitFor(
            async () =>
              (await backendOf(
                lb.port,
                withKey(keys.find((k) => before.get(k) === victim.name)!),
              )) !== victim.name,
            'the unready backend to be taken out',
            10_000,
          );
          for (const key of keys) {
            const now = await backendOf(lb.port, withKey(key));
            if (before.get(key) === victim.name)
              expect(now).not.toBe(victim.name);
            else expect({ key, now }).toEqual({ key, now: before.get(key) });
          }
        } finally {
          victim.ready = true;
        }
        await waitFor(
          async () => {
            for (const key of keys)
              if ((await backendOf(lb.port, withKey(key))) !== before.get(key))
                return false;
            return true;
          },
          'the keys to come back to the ready backend',
          10_000,
        );
      });
  });
}

describeLoadBalancer('HAProxy', 'haproxy', startHaproxy, true);
describeLoadBalancer('nginx', 'nginx', startNginx, false);
describeLoadBalancer(
  'nginx with njs',
  'nginx',
  (backends, dir) => startNginx(backends, dir, true),
  true,
  !findBinary('nginx')
    ? 'no "nginx" binary on PATH or in /usr/sbin. Install it with "apt-get install nginx libnginx-mod-http-js"'
    : !existsSync(NJS_MODULE)
      ? `no njs module at ${NJS_MODULE}. Install it with "apt-get install libnginx-mod-http-js"`
      : null,
);
