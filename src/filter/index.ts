/*
 * pcap_compile() for bpfkit: expression -> classic BPF, optimized or not, for one link type.
 * Browser-safe (no node:* imports). Errors are FilterError with libpcap's message text.
 */
import type { CInsn } from '../cbpf/insn.js';
import { BPF_K, BPF_RET } from '../cbpf/insn.js';
import { FilterError } from './errors.js';
import { wording110 } from './wording.js';
import { CodeGen, DLT, dltValue, LINKTYPE_TO_DLT } from './gencode.js';
import { bpfOptimize, icodeToFcode } from './optimize.js';
import { parseFilter } from './parser.js';

export { FilterError, SYNTAX_ERROR } from './errors.js';
export { parseFilter } from './parser.js';
export { DLT, dltValue } from './gencode.js';

export const PCAP_NETMASK_UNKNOWN = 0xffffffff;

export interface CompileOptions {
  /** DLT_ value (see DLT) or a name (EN10MB, RAW, ...). Default EN10MB. */
  linktype?: number | string;
  /** Default 262144 (tcpdump's). */
  snaplen?: number;
  /** Default true. */
  optimize?: boolean;
  /** Default PCAP_NETMASK_UNKNOWN. */
  netmask?: number;
  /** Compile for reading a savefile (libpcap's rfile != NULL). */
  savefile?: boolean;
  swapped?: boolean;
  /** Compile for a live Linux capture (libpcap's filtertest -l): inbound/outbound/ifindex use SKF_AD_ loads. */
  linuxExtensions?: boolean;
  /**
   * Whose error messages: '1.10' (default) words them as the libpcap 1.10.3 of the local tcpdump,
   * '1.11' as libpcap 1.11 (the libpcap-tests data). Accepted expressions and code are the same.
   */
  wording?: '1.10' | '1.11';
}

/** Resolve a -y name or number (also savefile LINKTYPE_ values) to a DLT_ value. */
export function linktypeFromName(name: string | number): number {
  if (typeof name === 'number') return LINKTYPE_TO_DLT[name] ?? name;
  const up = name.toUpperCase().replace(/^DLT_/, '');
  const v = dltValue(up);
  if (v !== undefined) return v;
  if (/^\d+$/.test(name)) return LINKTYPE_TO_DLT[Number(name)] ?? Number(name);
  throw new FilterError(`invalid data link type ${name}`);
}

export function compileFilter(expr: string, opts: CompileOptions = {}): CInsn[] {
  try {
    return compile(expr, opts);
  } catch (e) {
    if (e instanceof FilterError && (opts.wording ?? '1.10') === '1.10') throw new FilterError(e.legacy ?? wording110(e.message), e.offset);
    throw e;
  }
}

function compile(expr: string, opts: CompileOptions): CInsn[] {
  const linktype = linktypeFromName(opts.linktype ?? DLT.EN10MB);
  const snaplen = opts.snaplen ?? 262144;
  if (snaplen === 0) throw new FilterError('snaplen of 0 rejects all packets');
  const gen = new CodeGen({
    linktype, snaplen, netmask: opts.netmask ?? PCAP_NETMASK_UNKNOWN, savefile: opts.savefile, swapped: opts.swapped, linuxExtensions: opts.linuxExtensions,
  });
  const ast = parseFilter(expr);
  const p = ast ? gen.gen(ast) : undefined;
  const r = gen.finish(p);
  let root = r.root;
  if ((opts.optimize ?? true) && !r.noOptimize) {
    root = bpfOptimize(root);
    if (root.s.code === (BPF_RET | BPF_K) && root.s.k === 0) throw new FilterError('expression rejects all packets');
  }
  return icodeToFcode(root);
}
