/*
 * Classic filters compiled to JavaScript for packets that sit inside a larger buffer (a capture
 * file's read buffer, CaptureReader in net/pcap.ts): fn(buf, offset, caplen, wireLen) with the
 * results of runCbpf(prog, buf.subarray(offset, offset + caplen), wireLen) -- libpcap's
 * bpf_filter() semantics: loads past caplen reject (0), division or modulo by zero returns 0,
 * `len` is the wire length -- without creating a view per packet.
 *
 * The code generator is compile.ts' (cbpfToJs, offset form); runCbpf() stays the reference.
 * Where `new Function` is refused (a strict Content-Security-Policy), the interpreter runs
 * instead, over a view per packet.
 */
import { cachedFilter, cbpfToJs } from './compile.js';
import { type CInsn } from './insn.js';
import { cbpfRuns, runCbpf } from './interp.js';

/** A compiled filter over buf[offset, offset + caplen); the return value is unsigned 32-bit. */
export type CbpfBufferFilterFn = (buf: Uint8Array, offset: number, caplen: number, wireLen: number) => number;

const compiled = new WeakMap<readonly CInsn[], CbpfBufferFilterFn>();
const rejectAll: CbpfBufferFilterFn = () => 0;

/** The filter function for `prog`, cached per program array. */
export function compileCbpfAt(prog: readonly CInsn[]): CbpfBufferFilterFn {
  return cachedFilter(compiled, prog, () => new Function('p', 'b', 'n', 'len', cbpfToJs(prog, true)) as CbpfBufferFilterFn, rejectAll,
    (prepared) => (buf, off, caplen, len) => runCbpf(prepared, buf.subarray(off, off + caplen), len));
}

/**
 * The filter as JavaScript statements for inlining into a caller's loop (net/pcap.ts'
 * compileRecordScan(): the record walk and the filter as one function, no call per packet):
 * cbpfToJs()'s inline mode. The statements read the packet at p[b .. b + n) (16- and 32-bit
 * loads through `dv`, a DataView over p's bytes) and the wire length `len` (names the caller
 * binds), declare their own registers, and leave the result, as compileCbpfAt() returns it, in
 * the caller's `verdict` by `break filter` from their labelled block. Undefined for a program
 * that rejects everything without running (empty or too long: cachedFilter()'s rules).
 */
export function cbpfInlineAt(prog: readonly CInsn[]): string | undefined {
  return cbpfRuns(prog.length) ? cbpfToJs(prog, true, true) : undefined;
}
