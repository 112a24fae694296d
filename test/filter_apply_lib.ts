/*
 * pcap_offline_filter() over a savefile, as libpcap's filtertest -r does: compile for the file's
 * link type (as a savefile), run every record, collect the return values.
 */
import { readFileSync } from 'node:fs';
import { prepareCbpf, runCbpf } from '../src/cbpf/interp.js';
import { compileFilter } from '../src/filter/index.js';
import { readCapture } from '../src/net/pcap.js';

export function applyFilterToSavefile(path: string, expr: string, optimize: boolean, netmask: number): number[] {
  const f = readCapture(readFileSync(path));
  const prog = prepareCbpf(compileFilter(expr, {
    linktype: f.linktype, snaplen: f.snaplen || 262144, optimize, netmask, savefile: true,
    swapped: f.bigEndian,
  }));
  return f.records.map((r) => runCbpf(prog, r.data, r.len));
}
