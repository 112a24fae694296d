/*
 * Captures for the classic-BPF tests, through net/'s reader: the packets and the first
 * interface's link type.
 */
import { readFileSync } from 'node:fs';
import { readCapture as readCaptureBytes } from '../src/net/pcap.js';

export interface TestPacket { data: Uint8Array; wireLen: number }
export interface TestCapture { linktype: number; packets: TestPacket[] }

export function readCapture(path: string): TestCapture {
  const file = readCaptureBytes(new Uint8Array(readFileSync(path)));
  return { linktype: file.linktype, packets: file.records.map((r) => ({ data: r.data, wireLen: r.len })) };
}
