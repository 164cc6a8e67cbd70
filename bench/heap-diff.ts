import { readFileSync } from 'node:fs';

/**
 * Where the bytes of idle connections go: compares two heap snapshots of
 * one server (before and after opening `connections` connections) and lists
 * the growth per connection by node type and constructor or function name,
 * largest first.
 *
 *   BENCH_CONNECTIONS=2000 BENCH_HEAP_SNAPSHOTS=/tmp/heap npm run bench -- memory
 *   node -r @swc-node/register bench/heap-diff.ts /tmp/heap/app-before.heapsnapshot /tmp/heap/app-after.heapsnapshot 2000
 */
interface Snapshot {
  snapshot: {
    meta: { node_fields: string[]; node_types: [string[], ...unknown[]] };
  };
  nodes: number[];
  strings: string[];
}

type Totals = Map<string, { count: number; bytes: number }>;

function totals(path: string): Totals {
  const heap = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const fields = heap.snapshot.meta.node_fields;
  const types = heap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const result: Totals = new Map();
  for (let i = 0; i < heap.nodes.length; i += width) {
    const type = types[heap.nodes[i + typeAt]];
    let name = heap.strings[heap.nodes[i + nameAt]];
    // Strings and numbers are named by their content: group them by type only.
    if (
      type === 'string' ||
      type === 'concatenated string' ||
      type === 'sliced string' ||
      type === 'number'
    )
      name = '';
    else if (name.length > 60) name = `${name.slice(0, 57)}...`;
    const key = `${type}\t${name}`;
    const entry = result.get(key) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += heap.nodes[i + sizeAt];
    result.set(key, entry);
  }
  return result;
}

function main(): void {
  const [beforePath, afterPath, connectionsArg, topArg] = process.argv.slice(2);
  if (!beforePath || !afterPath || !connectionsArg)
    throw new Error(
      'Usage: heap-diff.ts <before.heapsnapshot> <after.heapsnapshot> <connections> [top]',
    );
  const connections = Number(connectionsArg);
  const top = Number(topArg ?? 40);
  const before = totals(beforePath);
  const after = totals(afterPath);
  const rows = [...after].map(([key, a]) => {
    const b = before.get(key) ?? { count: 0, bytes: 0 };
    return {
      key,
      count: (a.count - b.count) / connections,
      bytes: (a.bytes - b.bytes) / connections,
    };
  });
  rows.sort((x, y) => y.bytes - x.bytes);
  const total = rows.reduce((sum, row) => sum + row.bytes, 0);
  console.log(
    `${fmt(total)} bytes per connection in all (self sizes, ${connections} connections)\n`,
  );
  console.log('bytes/conn\tobjects/conn\ttype\tname');
  for (const row of rows.slice(0, top))
    console.log(`${fmt(row.bytes)}\t${row.count.toFixed(2)}\t${row.key}`);
}

function fmt(n: number): string {
  return n.toFixed(0).padStart(6);
}

main();
