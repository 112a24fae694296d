#!/usr/bin/env node
// Writes the example packets (Ethernet + IPv4 + UDP, checksums filled in) next to the examples:
//   examples/udp.bin      UDP to port 9 (discard): xdp_udp_drop returns XDP_DROP (1)
//   examples/udp_dns.bin  UDP to port 53: XDP_PASS (2)
//   examples/traffic.pcap 1000 UDP packets to ports 9, 53, 123 and 5353 in turn, 1 ms apart
// Usage: node scripts/make-packets.mjs [OUTDIR]   (default: examples)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

function csum16(bytes) {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i] << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function udpPacket(srcPort, dstPort, payload) {
  const body = new TextEncoder().encode(payload);
  const eth = [0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00];
  const totalLen = 20 + 8 + body.length;
  const ip = [0x45, 0, totalLen >> 8, totalLen & 0xff, 0x12, 0x34, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
  const c = csum16(ip);
  ip[10] = c >> 8;
  ip[11] = c & 0xff;
  const udpLen = 8 + body.length;
  const udp = [srcPort >> 8, srcPort & 0xff, dstPort >> 8, dstPort & 0xff, udpLen >> 8, udpLen & 0xff, 0, 0];
  // UDP checksum over the pseudo header (addresses, protocol, length), header and payload.
  const pseudo = [...ip.slice(12, 20), 0, 17, udpLen >> 8, udpLen & 0xff, ...udp, ...body];
  const u = csum16(pseudo) || 0xffff;
  udp[6] = u >> 8;
  udp[7] = u & 0xff;
  return new Uint8Array([...eth, ...ip, ...udp, ...body]);
}

const dir = process.argv[2] ?? 'examples';
writeFileSync(join(dir, 'udp.bin'), udpPacket(40000, 9, 'discard me, please\n'));
writeFileSync(join(dir, 'udp_dns.bin'), udpPacket(40000, 53, 'not really a DNS query\n'));

// A classic pcap (microseconds, little-endian, LINKTYPE_ETHERNET) of mixed UDP traffic.
function pcap(packets) {
  const parts = [];
  const header = new DataView(new ArrayBuffer(24));
  header.setUint32(0, 0xa1b2c3d4, true);
  header.setUint16(4, 2, true);
  header.setUint16(6, 4, true);
  header.setUint32(16, 262144, true);
  header.setUint32(20, 1, true);
  parts.push(new Uint8Array(header.buffer));
  packets.forEach((data, i) => {
    const rec = new DataView(new ArrayBuffer(16));
    const usec = 1700000000 * 1e6 + i * 1000;
    rec.setUint32(0, Math.floor(usec / 1e6), true);
    rec.setUint32(4, usec % 1e6, true);
    rec.setUint32(8, data.length, true);
    rec.setUint32(12, data.length, true);
    parts.push(new Uint8Array(rec.buffer), data);
  });
  return Buffer.concat(parts);
}

const ports = [9, 53, 123, 5353];
writeFileSync(join(dir, 'traffic.pcap'), pcap(Array.from({ length: 1000 }, (_, i) => udpPacket(40000 + (i % 7), ports[i % 4], `packet ${i}\n`))));
