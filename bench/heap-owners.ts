import { readFileSync } from 'node:fs';

/**
 * Who holds the bytes of idle connections: takes the objects of the `after`
 * heap snapshot that the `before` one of the same process does not have
 * (V8 keeps an object's id across snapshots of one process) and gives each
 * to its nearest owner, an instance of one of the classes below, by a
 * breadth-first walk over strong references from all owners at once through
 * new objects only. An owner's own collections that predate the connections
 * (the adapter's rooms Map) are walked too, so that what the connections add
 * to them counts for that owner. What no owner reaches is listed as
 * unattributed (compiled code, Node's histograms: not per connection).
 *
 *   BENCH_CONNECTIONS=2000 BENCH_HEAP_SNAPSHOTS=/tmp/heap npm run bench -- memory
 *   node --max-old-space-size=4096 -r @swc-node/register bench/heap-owners.ts /tmp/heap/app-before.heapsnapshot /tmp/heap/app-after.heapsnapshot 2000
 */
const OWNERS: [label: string, match: RegExp][] = [
  // Matched against `<type>:<constructor>|<property names>`: several classes are named Socket.
  ['hub subscriber', /^object:HubSubscriber\|/],
  ['session (SocketSession)', /^object:SocketSession\|/],
  ['session request budget', /^object:RequestBudget\|/],
  [
    'transport (SocketIoSubscriberTransport)',
    /^object:SocketIoSubscriberTransport\|/,
  ],
  ['access entry (AccessSessions)', /^object:Entry\|/],
  ['access expiry slot', /^object:Slot\|/],
  ['principal + claims', /^object:Object\|.*\buserId\b/],
  ['hub scope index', /^object:ScopeIndex\|/],
  ['hub channel index', /^object:ChannelIndex\|/],
  ['Socket.IO socket', /^object:Socket\|.*\bnsp\b/],
  ['Socket.IO client', /^object:Client\|.*\bconn\b/],
  ['engine.io socket', /^object:Socket\|.*\btransport\b/],
  ['engine.io websocket transport', /^object:WebSocket\|.*\bwritable\b/],
  ['ws WebSocket', /^object:WebSocket\|.*\b_receiver\b/],
  ['ws Receiver', /^object:Receiver\|/],
  ['ws Sender', /^object:Sender\|/],
  ['net.Socket + TCP handle', /^object:Socket\|.*kHandle/],
  ['HTTP upgrade request', /^object:IncomingMessage\|/],
  ['rooms (adapter)', /^object:[A-Za-z]*Adapter\|.*\brooms\b/],
  ['namespace sockets', /^object:Namespace\|/],
  ['engine.io server clients', /^object:Server\|.*\bclients\b/],
];

interface Snapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[], ...unknown[]];
      edge_fields: string[];
      edge_types: [string[], ...unknown[]];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

const load = (path: string) =>
  JSON.parse(readFileSync(path, 'utf8')) as Snapshot;

function main(): void {
  const [beforePath, afterPath, connectionsArg] = process.argv.slice(2);
  if (!beforePath || !afterPath || !connectionsArg)
    throw new Error(
      'Usage: heap-owners.ts <before.heapsnapshot> <after.heapsnapshot> <connections>',
    );
  const connections = Number(connectionsArg);
  const before = load(beforePath);
  const bw = before.snapshot.meta.node_fields.length;
  const bid = before.snapshot.meta.node_fields.indexOf('id');
  const old = new Set<number>();
  for (let i = 0; i < before.nodes.length; i += bw)
    old.add(before.nodes[i + bid]);

  const h = load(afterPath);
  const meta = h.snapshot.meta;
  const w = meta.node_fields.length;
  const ew = meta.edge_fields.length;
  const [T, NM, ID, SZ, EC] = [
    'type',
    'name',
    'id',
    'self_size',
    'edge_count',
  ].map((f) => meta.node_fields.indexOf(f));
  const [ET, EN, ETO] = ['type', 'name_or_index', 'to_node'].map((f) =>
    meta.edge_fields.indexOf(f),
  );
  const count = h.nodes.length / w;
  const firstEdge = new Uint32Array(count + 1);
  for (let n = 0, e = 0; n < count; n++) {
    firstEdge[n] = e;
    e += h.nodes[n * w + EC] * ew;
  }
  firstEdge[count] = h.edges.length;
  const type = (n: number) => meta.node_types[0][h.nodes[n * w + T]];
  const name = (n: number) => h.strings[h.nodes[n * w + NM]];
  const edgeType = (e: number) => meta.edge_types[0][h.edges[e + ET]];
  const isNew = (n: number) => !old.has(h.nodes[n * w + ID]);
  const owner = new Int16Array(count).fill(-1);

  let frontier: number[] = [];
  for (let n = 0; n < count; n++) {
    if (type(n) !== 'object') continue;
    const properties: string[] = [];
    for (let e = firstEdge[n]; e < firstEdge[n + 1]; e += ew)
      if (edgeType(e) === 'property')
        properties.push(h.strings[h.edges[e + EN]]);
    const key = `object:${name(n)}|${properties.join(',')}`;
    const k = OWNERS.findIndex(([, match]) => match.test(key));
    if (k >= 0) {
      owner[n] = k;
      frontier.push(n);
    }
  }
  // An owner's collections that predate the connections, and their backing stores.
  for (const n of [...frontier])
    for (let e = firstEdge[n]; e < firstEdge[n + 1]; e += ew) {
      const to = h.edges[e + ETO] / w;
      if (isNew(to) || owner[to] !== -1) continue;
      if (!/^(Map|Set|Object|Array)$/.test(name(to)) && type(to) !== 'array')
        continue;
      owner[to] = owner[n];
      frontier.push(to);
      for (let e2 = firstEdge[to]; e2 < firstEdge[to + 1]; e2 += ew) {
        const store = h.edges[e2 + ETO] / w;
        if (!isNew(store) && owner[store] === -1 && type(store) === 'array') {
          owner[store] = owner[n];
          frontier.push(store);
        }
      }
    }
  while (frontier.length > 0) {
    const next: number[] = [];
    for (const n of frontier)
      for (let e = firstEdge[n]; e < firstEdge[n + 1]; e += ew) {
        if (edgeType(e) === 'weak' || edgeType(e) === 'shortcut') continue;
        const to = h.edges[e + ETO] / w;
        if (!isNew(to) || owner[to] !== -1) continue;
        owner[to] = owner[n];
        next.push(to);
      }
    frontier = next;
  }

  const totals = new Map<string, number>();
  const unattributed = new Map<string, number>();
  let all = 0;
  for (let n = 0; n < count; n++) {
    if (!isNew(n)) continue;
    const size = h.nodes[n * w + SZ];
    all += size;
    const label = owner[n] === -1 ? 'unattributed' : OWNERS[owner[n]][0];
    totals.set(label, (totals.get(label) ?? 0) + size);
    if (owner[n] === -1) {
      const key = `${type(n)} ${name(n).slice(0, 40)}`;
      unattributed.set(key, (unattributed.get(key) ?? 0) + size);
    }
  }
  const per = (bytes: number) => (bytes / connections).toFixed(0).padStart(6);
  console.log(
    `${per(all)} bytes per connection in new objects (self sizes, ${connections} connections)\n`,
  );
  console.log('bytes/conn\towner');
  for (const [label, bytes] of [...totals].sort((a, b) => b[1] - a[1]))
    console.log(`${per(bytes)}\t${label}`);
  console.log('\nunattributed, largest:');
  for (const [key, bytes] of [...unattributed]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 10))
    console.log(`${per(bytes)}\t${key}`);
}

main();
