/* Test packets for the progtypes tests: Ethernet + IPv4 + TCP frames with valid checksums. */

function csum(b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += (b[i] << 8) | (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** An Ethernet + IPv4 + TCP frame with correct checksums. */
export function tcpFrame(opts: { dst?: number[]; dport?: number; payload?: number; proto?: number } = {}): Uint8Array {
  const payload = new Uint8Array(opts.payload ?? 12).map((_, i) => 0x41 + (i % 26));
  const tcp = new Uint8Array(20 + payload.length);
  const tv = new DataView(tcp.buffer);
  tv.setUint16(0, 12345); tv.setUint16(2, opts.dport ?? 80); tv.setUint32(4, 1); tcp[12] = 0x50; tcp[13] = 0x18; tv.setUint16(14, 1024);
  tcp.set(payload, 20);
  const src = [192, 168, 1, 1], dst = [10, 0, 0, 1];
  const ph = new Uint8Array(12 + tcp.length);
  ph.set(src, 0); ph.set(dst, 4); ph[9] = 6; new DataView(ph.buffer).setUint16(10, tcp.length); ph.set(tcp, 12);
  tv.setUint16(16, csum(ph));
  const ip = new Uint8Array(20);
  const iv = new DataView(ip.buffer);
  ip[0] = 0x45; iv.setUint16(2, 20 + tcp.length); iv.setUint16(4, 1); ip[8] = 64; ip[9] = opts.proto ?? 6; ip.set(src, 12); ip.set(dst, 16);
  iv.setUint16(10, csum(ip));
  const eth = new Uint8Array(14);
  eth.set(opts.dst ?? [2, 0, 0, 0, 0, 1], 0); eth.set([2, 0, 0, 0, 0, 2], 6); eth[12] = 8;
  const out = new Uint8Array(14 + 20 + tcp.length);
  out.set(eth); out.set(ip, 14); out.set(tcp, 34);
  return out;
}
