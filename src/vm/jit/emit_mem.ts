/*
 * Memory instructions: ldx, st/stx, atomics and LD_ABS/LD_IND, with the address check each needs
 * (none inside the frame by construction or where the verifier proved it; else a fast path
 * against the frame and the cached regions, the `host` import otherwise).
 */
import { MAX_BPF_STACK } from '../../isa/opcodes.js';
import { guardedFrame } from './emit_segment.js';
import { LOAD_OP, LOAD_SIZE, STORE_OP, STORE_SIZE } from './emit_tables.js';
import type { FunctionEmitter } from './emitter.js';
import {
  A32, A64, ACCESS_ATOMIC, ACCESS_LOAD, ACCESS_STORE, ADDR, B32, DEPTH, FAIL_NO_PACKET, FB, G, G_PB, G_PL, HOST_FINISH, LEFT, T1,
} from './layout.js';
import { Op } from './wasm_writer.js';

/**
 * Check [reg + off, +size) for kind and push the i32 base of the access; returns the memarg
 * offset to use with it. ADDR holds the exact address when `exact` (atomics).
 */
function access(e: FunctionEmitter, pc: number, reg: number, off: number, size: number, kind: number, exact: boolean): number {
  if (e.staticFrame(reg, off, size)) { // inside the current frame by construction: no check
    if (!exact) { e.lget(FB); return off + MAX_BPF_STACK; }
    e.lget(FB); e.i32c(off + MAX_BPF_STACK); e.buf[e.pos++] = Op.i32_add; e.ltee(ADDR);
    return 0;
  }
  if (e.unchecked[pc] === 1) { // proved in bounds by the verifier
    e.get(reg); e.buf[e.pos++] = Op.i32_wrap_i64;
    if (!exact && off >= 0) return off;
    if (off !== 0) { e.i32c(off); e.buf[e.pos++] = Op.i32_add; }
    if (exact) e.ltee(ADDR);
    return 0;
  }
  e.buf[e.pos++] = Op.block; e.buf[e.pos++] = 0x40;
  e.buf[e.pos++] = Op.block; e.buf[e.pos++] = 0x40;
  e.get(reg);
  if (off !== 0) { e.sx(off); e.buf[e.pos++] = Op.i64_add; }
  e.ltee(A64); e.i64c(0, -1); e.buf[e.pos++] = Op.i64_gt_u; e.buf[e.pos++] = Op.br_if; e.u32(0);
  e.lget(A64); e.buf[e.pos++] = Op.i32_wrap_i64; e.ltee(ADDR);
  e.lget(FB); e.buf[e.pos++] = Op.i32_sub; e.i32c(MAX_BPF_STACK - size); e.buf[e.pos++] = Op.i32_le_u; e.buf[e.pos++] = Op.br_if; e.u32(1);
  if (kind === ACCESS_LOAD) { cachedRegion(e, G.rb, G.rl, size); cachedRegion(e, G.qb, G.ql, size); } else cachedRegion(e, G.wb, G.wl, size);
  cachedRegion(e, G_PB, G_PL, size);
  e.buf[e.pos++] = Op.end;
  e.i32c(kind); e.i32c(pc); e.lget(A64); e.i32c(size); e.callHost();
  e.lget(A64); e.buf[e.pos++] = Op.i32_wrap_i64; e.lset(ADDR);
  e.buf[e.pos++] = Op.end;
  e.lget(ADDR);
  return 0;
}

/** Inside access()'s blocks: out to the access when ADDR's `size` bytes lie in the region of globals gb (base), gl (length - 8). */
function cachedRegion(e: FunctionEmitter, gb: number, gl: number, size: number): void {
  e.lget(ADDR); e.buf[e.pos++] = Op.global_get; e.u32(gb); e.buf[e.pos++] = Op.i32_sub;
  e.buf[e.pos++] = Op.global_get; e.u32(gl);
  if (size !== 8) { e.i32c(8 - size); e.buf[e.pos++] = Op.i32_add; }
  e.buf[e.pos++] = Op.i32_le_u; e.buf[e.pos++] = Op.br_if; e.u32(1);
}

/** ldx at slot pc (LOAD_SIZE[o] > 0): d = *(size *)(s + off). */
export function load(e: FunctionEmitter, pc: number, o: number, d: number, s: number, off: number): void {
  e.mem(LOAD_OP[o], access(e, pc, s, off, LOAD_SIZE[o], ACCESS_LOAD, false)); e.set(d);
}

/** st / stx at slot pc, position x of the current block: *(size *)(d + off) = k or s. */
export function store(e: FunctionEmitter, pc: number, x: number, o: number, d: number, s: number, off: number, k: number): void {
  const size = STORE_SIZE[o & 0x18];
  const at0 = access(e, pc, d, off, size, ACCESS_STORE, false);
  if (e.guardTo > x) guardedFrame(e, x - e.segFrom); // (a silent store: access() pushed the frame base)
  if ((o & 7) === 2) e.sx(k); else e.get(s);
  e.mem(STORE_OP[size], at0);
}

/** An atomic at slot pc (the operation in k): plain when memory is not shared (or the address is misaligned), else wasm atomics. */
export function atomic(e: FunctionEmitter, pc: number, o: number, d: number, s: number, off: number, k: number): void {
  const size = STORE_SIZE[o & 0x18];
  access(e, pc, d, off, size, ACCESS_ATOMIC, true); e.buf[e.pos++] = Op.drop;
  if (e.shared) {
    e.lget(ADDR); e.i32c(size - 1); e.buf[e.pos++] = Op.i32_and;
    e.buf[e.pos++] = Op.if; e.buf[e.pos++] = 0x40; atomicPlain(e, s, k, size); e.buf[e.pos++] = Op.else; atomicShared(e, s, k, size); e.buf[e.pos++] = Op.end;
  } else {
    atomicPlain(e, s, k, size);
  }
}

/** The plain (non-atomic) read-modify-write of an atomic instruction at ADDR. */
function atomicPlain(e: FunctionEmitter, s: number, k: number, size: number): void {
  const st = STORE_OP[size];
  e.lget(ADDR); e.mem(size === 8 ? Op.i64_load : Op.i64_load32_u, 0); e.lset(T1);
  if (k === 0xf1) { // cmpxchg: if (old == r0) store src; r0 = old
    e.lget(T1); e.get(0); if (size === 4) { e.zx(-1); e.buf[e.pos++] = Op.i64_and; } e.buf[e.pos++] = Op.i64_eq;
    e.buf[e.pos++] = Op.if; e.buf[e.pos++] = 0x40; e.lget(ADDR); e.get(s); e.mem(st, 0); e.buf[e.pos++] = Op.end;
    e.lget(T1); e.set(0);
    return;
  }
  e.lget(ADDR);
  if (k === 0xe1) e.get(s);
  else {
    e.lget(T1); e.get(s);
    const o = k & ~1;
    e.buf[e.pos++] = o === 0x00 ? Op.i64_add : o === 0x40 ? Op.i64_or : o === 0x50 ? Op.i64_and : Op.i64_xor;
  }
  e.mem(st, 0);
  if ((k & 1) !== 0) { e.lget(T1); e.set(s); }
}

/** The same with wasm's atomic read-modify-write instructions (0xfe prefix: the i64 form, or the 32-bit one zero-extending). */
function atomicShared(e: FunctionEmitter, s: number, k: number, size: number): void {
  e.lget(ADDR);
  if (k === 0xf1) { e.get(0); e.get(s); atomicRmw(e, 0x48, size); e.set(0); return; }
  e.get(s);
  const o = k & ~1;
  atomicRmw(e, k === 0xe1 ? 0x41 : o === 0x00 ? 0x1e : o === 0x40 ? 0x33 : o === 0x50 ? 0x2c : 0x3a, size);
  if ((k & 1) !== 0) e.set(s); else e.buf[e.pos++] = Op.drop;
}

function atomicRmw(e: FunctionEmitter, base: number, size: number): void {
  e.buf[e.pos++] = 0xfe; e.u32(size === 8 ? base + 1 : base + 6); e.u32(size === 8 ? 3 : 2); e.u32(0);
}

/** LD_ABS / LD_IND at slot pc into r0, big-endian; out of the packet, the program ends with r0 = 0. */
export function ldAbs(e: FunctionEmitter, pc: number, o: number, s: number, k: number): void {
  const size = STORE_SIZE[o & 0x18];
  e.buf[e.pos++] = Op.global_get; e.u32(G.pLen); e.i32c(0); e.buf[e.pos++] = Op.i32_lt_s;
  e.buf[e.pos++] = Op.if; e.buf[e.pos++] = 0x40; e.fail(FAIL_NO_PACKET, pc, 0); e.buf[e.pos++] = Op.end;
  if ((o & 0xe0) === 0x40) { e.get(s); e.buf[e.pos++] = Op.i32_wrap_i64; e.i32c(k); e.buf[e.pos++] = Op.i32_add; } else e.i32c(k);
  e.ltee(A32); e.i32c(0); e.buf[e.pos++] = Op.i32_lt_s;
  e.lget(A32); e.buf[e.pos++] = Op.global_get; e.u32(G.pLen); e.i32c(size); e.buf[e.pos++] = Op.i32_sub; e.buf[e.pos++] = Op.i32_gt_s;
  e.buf[e.pos++] = Op.i32_or;
  // out of the packet: the program ends with r0 = 0 (a plain return from the main function; from
  // a subprogram through the host, which unwinds)
  e.buf[e.pos++] = Op.if; e.buf[e.pos++] = 0x40;
  e.lget(DEPTH); e.buf[e.pos++] = Op.i32_eqz;
  e.buf[e.pos++] = Op.if; e.buf[e.pos++] = 0x40; e.leave(true); e.buf[e.pos++] = Op.end;
  e.lget(LEFT); e.buf[e.pos++] = Op.global_set; e.u32(G.left); e.i32c(HOST_FINISH); e.i32c(0); e.i64c(0, 0); e.i32c(0); e.callHost(); e.buf[e.pos++] = Op.unreachable;
  e.buf[e.pos++] = Op.end;
  e.buf[e.pos++] = Op.global_get; e.u32(G.pAddr); e.lget(A32); e.buf[e.pos++] = Op.i32_add;
  if (size === 1) e.mem(Op.i32_load8_u, 0);
  else if (size === 2) {
    e.mem(Op.i32_load16_u, 0); e.ltee(B32); e.i32c(8); e.buf[e.pos++] = Op.i32_shl; e.i32c(0xff00); e.buf[e.pos++] = Op.i32_and;
    e.lget(B32); e.i32c(8); e.buf[e.pos++] = Op.i32_shr_u; e.buf[e.pos++] = Op.i32_or;
  } else { e.mem(Op.i32_load, 0); e.bswap32(); }
  e.buf[e.pos++] = Op.i64_extend_i32_u; e.set(0);
}
