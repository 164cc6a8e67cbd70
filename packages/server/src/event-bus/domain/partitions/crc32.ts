import * as zlib from 'node:zlib';

/**
 * CRC-32 (IEEE 802.3, the zlib/PNG one) of a string's UTF-8 bytes, as an
 * unsigned 32-bit integer.
 *
 * Why CRC-32: an event's partition is part of the data's layout, so the hash
 * must never change between versions, runtimes or languages: any
 * implementation (a Lua script, another service, a migration tool) must find
 * the same partition. CRC-32 is specified, everywhere, and fast. It is not a
 * defence against chosen keys, which only skew load: partition keys come
 * from the application's own scopes.
 *
 * Node has `zlib.crc32` from 20.15 and 22.2; the package supports every Node
 * 20, so older ones use the table below, which the tests hold to the same
 * results.
 */
export function crc32(text: string): number {
  return nativeCrc32 !== undefined ? nativeCrc32(text) : tableCrc32(text);
}

type Crc32Function = (data: string | Uint8Array, value?: number) => number;
const nativeCrc32 = (zlib as { crc32?: Crc32Function }).crc32;

let table: Uint32Array | null = null;
const encoder = new TextEncoder();

/** The portable implementation `crc32` falls back to. */
export function tableCrc32(text: string): number {
  table ??= buildTable();
  const bytes = encoder.encode(text);
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++)
    crc = table[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function buildTable(): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}
