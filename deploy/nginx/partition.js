// The route of a request for nginx's njs module, when nginx should route by
// partition as deploy/haproxy/ does rather than by key: every key of one
// partition then reaches one node, however many keys a partition holds.
// See streamgate.conf for how to turn it on.

// P: must equal the app's `partitions`; a different value only routes worse.
const PARTITIONS = 64;

// CRC-32 (IEEE, the zlib one) of the key's UTF-8 bytes, mod P: the app's own
// rule, so that the load balancer finds the partition the app uses.
const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function partitionOf(key) {
  const bytes = new TextEncoder().encode(key);
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++)
    crc = TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return ((crc ^ 0xffffffff) >>> 0) % PARTITIONS;
}

// 1. `?partitionKey=<key>`: its partition.
// 2. An Engine.IO request without a key: the client's address, so that the
//    polling requests of one connection reach one node.
// 3. Anything else: empty, which nginx's hash balances round robin.
function route(r) {
  const raw = r.variables.arg_partitionKey;
  if (raw) {
    try {
      return `partition:${partitionOf(decodeURIComponent(raw))}`;
    } catch (e) {
      // Not valid percent-encoding: still one route per key.
      return `key:${raw}`;
    }
  }
  return r.variables.arg_EIO ? `addr:${r.variables.remote_addr}` : '';
}

export default { route };
