import type { ByteSource } from '../src/net/pcap.js';

/** A source handing out `bytes` at most `step` bytes per call (chunk boundaries anywhere). */
export function sourceOf(bytes: Uint8Array, step: number): ByteSource {
  let at = 0;
  return (into, to, max) => {
    const n = Math.min(step, max, bytes.length - at);
    into.set(bytes.subarray(at, at + n), to);
    at += n;
    return n;
  };
}
