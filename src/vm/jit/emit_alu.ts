/*
 * ALU64 / ALU32 instructions and ld_imm64: register-only code (the registers are wasm locals,
 * ALU32 results zero-extended as in the kernel). One small function per kind of operation.
 */
import type { FunctionEmitter } from './emitter.js';
import { ALU32_OPS, ALU64_OPS } from './emit_tables.js';
import { A32, B32, T1 } from './layout.js';
import { Op } from './wasm_writer.js';

/** An ALU instruction (class ALU or ALU64); false when it has no form (the caller traps). */
export function alu(e: FunctionEmitter, o: number, d: number, s: number, k: number): boolean {
  const aop = o & 0xf0;
  if (aop === 0xd0) { endian(e, o, d); return true; }
  if (aop === 0xb0) { mov(e, o, d, s, k); return true; }
  if (aop === 0x80) { neg(e, o, d); return true; }
  const is64 = (o & 7) === 7;
  if (aop === 0x30 || aop === 0x90) {
    if (is64) divMod64(e, o, d, s, k); else divMod32(e, o, d, s, k);
    return true;
  }
  if (o >> 8 !== 0) return false;
  return is64 ? binary64(e, o, d, s, k) : binary32(e, o, d, s, k);
}

/** ld_imm64 (both slots): d = the 64-bit constant. */
export function ldImm64(e: FunctionEmitter, d: number, hi: number, lo: number): void {
  e.i64c(hi, lo); e.set(d);
}

/** le / be / bswap (16, 32, 64 bits: the variant in op bits 8+). */
function endian(e: FunctionEmitter, o: number, d: number): void {
  const variant = o >> 8;
  const bits = variant === 1 ? 16 : variant === 2 ? 32 : 64;
  if ((o & 0xff) === 0xd4) { // to little-endian: a truncation on this (little-endian) machine
    if (bits === 64) return;
    e.get(d); e.zx(bits === 16 ? 0xffff : -1); e.buf[e.pos++] = Op.i64_and; e.set(d);
  } else if (bits === 16) {
    e.get(d); e.buf[e.pos++] = Op.i32_wrap_i64; e.ltee(A32); e.i32c(8); e.buf[e.pos++] = Op.i32_shl; e.i32c(0xff00); e.buf[e.pos++] = Op.i32_and;
    e.lget(A32); e.i32c(8); e.buf[e.pos++] = Op.i32_shr_u; e.i32c(0xff); e.buf[e.pos++] = Op.i32_and; e.buf[e.pos++] = Op.i32_or; e.buf[e.pos++] = Op.i64_extend_i32_u; e.set(d);
  } else if (bits === 32) {
    e.get(d); e.buf[e.pos++] = Op.i32_wrap_i64; e.bswap32(); e.buf[e.pos++] = Op.i64_extend_i32_u; e.set(d);
  } else {
    e.get(d); e.buf[e.pos++] = Op.i32_wrap_i64; e.bswap32(); e.buf[e.pos++] = Op.i64_extend_i32_u; e.i64c(0, 32); e.buf[e.pos++] = Op.i64_shl;
    e.get(d); e.i64c(0, 32); e.buf[e.pos++] = Op.i64_shr_u; e.buf[e.pos++] = Op.i32_wrap_i64; e.bswap32(); e.buf[e.pos++] = Op.i64_extend_i32_u; e.buf[e.pos++] = Op.i64_or; e.set(d);
  }
}

/** mov / movsx (sign extension from 8, 16 or 32 bits: the variant). */
function mov(e: FunctionEmitter, o: number, d: number, s: number, k: number): void {
  const is64 = (o & 7) === 7;
  const variant = o >> 8;
  if ((o & 8) === 0) {
    if (is64) e.sx(k); else e.zx(k);
    e.set(d);
    return;
  }
  e.get(s);
  if (is64) {
    if (variant === 1) e.buf[e.pos++] = Op.i64_extend8_s;
    else if (variant === 2) e.buf[e.pos++] = Op.i64_extend16_s;
    else if (variant === 3) e.buf[e.pos++] = Op.i64_extend32_s;
  } else {
    e.buf[e.pos++] = Op.i32_wrap_i64;
    if (variant === 1) e.buf[e.pos++] = Op.i32_extend8_s;
    else if (variant === 2) e.buf[e.pos++] = Op.i32_extend16_s;
    e.buf[e.pos++] = Op.i64_extend_i32_u;
  }
  e.set(d);
}

function neg(e: FunctionEmitter, o: number, d: number): void {
  if ((o & 7) === 7) { e.i64c(0, 0); e.get(d); e.buf[e.pos++] = Op.i64_sub; } else { e.i32c(0); e.get(d); e.buf[e.pos++] = Op.i32_wrap_i64; e.buf[e.pos++] = Op.i32_sub; e.buf[e.pos++] = Op.i64_extend_i32_u; }
  e.set(d);
}

/** div / mod, 64-bit (signed: variant 1), with the kernel's rules for 0 and -1 divisors. */
function divMod64(e: FunctionEmitter, o: number, d: number, s: number, k: number): void {
  const isDiv = (o & 0xf0) === 0x30;
  const signed = o >> 8 === 1;
  if ((o & 8) === 0) {
    if (k === 0) { if (isDiv) { e.i64c(0, 0); e.set(d); } return; }
    if (signed && k === -1) { if (isDiv) { e.i64c(0, 0); e.get(d); e.buf[e.pos++] = Op.i64_sub; } else e.i64c(0, 0); e.set(d); return; }
    e.get(d); e.sx(k); e.buf[e.pos++] = isDiv ? (signed ? Op.i64_div_s : Op.i64_div_u) : (signed ? Op.i64_rem_s : Op.i64_rem_u); e.set(d);
    return;
  }
  // Branch-free (selects, no `if`: cheaper for Liftoff to compile): divide by a divisor made
  // safe (0, and -1 when signed, become 1), then fix those cases up as the kernel's rules say:
  // x / 0 = 0, x % 0 = x, x s/ -1 = -x, x s% -1 = 0.
  if (!signed && isDiv) { // A32 = !y; select(0, x, A32) / (y | A32): 0 / 1 when y = 0 (A32 is not kept across the division, where it would be spilled)
    e.i64c(0, 0); e.get(d); e.get(s); e.buf[e.pos++] = Op.i64_eqz; e.ltee(A32); e.buf[e.pos++] = Op.select;
    e.get(s); e.lget(A32); e.buf[e.pos++] = Op.i64_extend_i32_u; e.buf[e.pos++] = Op.i64_or;
    e.buf[e.pos++] = Op.i64_div_u; e.set(d);
    return;
  }
  if (!signed) { // select(x, x % (y | !y), !y) (!y computed twice: a local kept across the division is spilled)
    e.get(d);
    e.get(d); e.get(s); e.get(s); e.buf[e.pos++] = Op.i64_eqz; e.buf[e.pos++] = Op.i64_extend_i32_u; e.buf[e.pos++] = Op.i64_or;
    e.buf[e.pos++] = Op.i64_rem_u;
    e.get(s); e.buf[e.pos++] = Op.i64_eqz; e.buf[e.pos++] = Op.select; e.set(d);
    return;
  }
  e.get(d);
  e.i64c(0, 1); e.get(s); e.get(s); e.i64c(0, 1); e.buf[e.pos++] = Op.i64_add; e.i64c(0, 1); e.buf[e.pos++] = Op.i64_le_u; e.buf[e.pos++] = Op.select;
  e.buf[e.pos++] = isDiv ? Op.i64_div_s : Op.i64_rem_s;
  if (isDiv) { e.lset(T1); e.i64c(0, 0); e.lget(T1); e.buf[e.pos++] = Op.i64_sub; e.lget(T1); e.get(s); e.i64c(-1, -1); e.buf[e.pos++] = Op.i64_eq; e.buf[e.pos++] = Op.select; }
  if (isDiv) e.i64c(0, 0); else e.get(d);
  e.get(s); e.buf[e.pos++] = Op.i64_eqz; e.buf[e.pos++] = Op.i32_eqz; e.buf[e.pos++] = Op.select;
  e.set(d);
}

/** div / mod, 32-bit (the result zero-extended), as divMod64(). */
function divMod32(e: FunctionEmitter, o: number, d: number, s: number, k: number): void {
  const isDiv = (o & 0xf0) === 0x30;
  const signed = o >> 8 === 1;
  if ((o & 8) === 0) {
    if (k === 0) { if (isDiv) e.i64c(0, 0); else { e.get(d); e.zx(-1); e.buf[e.pos++] = Op.i64_and; } e.set(d); return; }
    if (signed && k === -1) {
      if (isDiv) { e.i32c(0); e.get(d); e.buf[e.pos++] = Op.i32_wrap_i64; e.buf[e.pos++] = Op.i32_sub; e.buf[e.pos++] = Op.i64_extend_i32_u; } else e.i64c(0, 0);
      e.set(d);
      return;
    }
    e.get(d); e.buf[e.pos++] = Op.i32_wrap_i64; e.i32c(k); e.buf[e.pos++] = isDiv ? (signed ? Op.i32_div_s : Op.i32_div_u) : (signed ? Op.i32_rem_s : Op.i32_rem_u);
    e.buf[e.pos++] = Op.i64_extend_i32_u; e.set(d);
    return;
  }
  // branch-free, as the 64-bit form
  e.get(s); e.buf[e.pos++] = Op.i32_wrap_i64; e.lset(B32);
  e.get(d); e.buf[e.pos++] = Op.i32_wrap_i64; e.ltee(A32);
  if (signed) { e.i32c(1); e.lget(B32); e.lget(B32); e.i32c(1); e.buf[e.pos++] = Op.i32_add; e.i32c(1); e.buf[e.pos++] = Op.i32_le_u; e.buf[e.pos++] = Op.select; } else { e.lget(B32); e.lget(B32); e.buf[e.pos++] = Op.i32_eqz; e.buf[e.pos++] = Op.i32_or; }
  e.buf[e.pos++] = isDiv ? (signed ? Op.i32_div_s : Op.i32_div_u) : (signed ? Op.i32_rem_s : Op.i32_rem_u);
  if (isDiv && signed) { e.ltee(A32); e.i32c(0); e.lget(A32); e.buf[e.pos++] = Op.i32_sub; e.lget(B32); e.i32c(-1); e.buf[e.pos++] = Op.i32_ne; e.buf[e.pos++] = Op.select; } // (A32 = the quotient)
  if (isDiv) e.i32c(0); else e.lget(A32);
  e.lget(B32); e.buf[e.pos++] = Op.select;
  e.buf[e.pos++] = Op.i64_extend_i32_u; e.set(d);
}

/** A binary operation with a one-instruction wasm form, 64-bit. */
function binary64(e: FunctionEmitter, o: number, d: number, s: number, k: number): boolean {
  const wop = ALU64_OPS[o & 0xf0];
  if (wop === 0) return false;
  e.get(d);
  if ((o & 8) !== 0) e.get(s);
  else if (wop === Op.i64_sub) { // d + -k: Liftoff has an immediate form for add, not for sub (mov, neg, add)
    if (k === -0x80000000) e.i64c(0, 0x80000000); else e.sx(-k);
    e.buf[e.pos++] = Op.i64_add; e.set(d);
    return true;
  } else e.sx(k);
  e.buf[e.pos++] = wop; e.set(d);
  return true;
}

/** A binary operation with a one-instruction wasm form, 32-bit (the result zero-extended). */
function binary32(e: FunctionEmitter, o: number, d: number, s: number, k: number): boolean {
  const wop = ALU32_OPS[o & 0xf0];
  if (wop === 0) return false;
  e.get(d); e.buf[e.pos++] = Op.i32_wrap_i64;
  if ((o & 8) !== 0) { e.get(s); e.buf[e.pos++] = Op.i32_wrap_i64; e.buf[e.pos++] = wop; }
  else if (wop === Op.i32_sub) { e.i32c(-k | 0); e.buf[e.pos++] = Op.i32_add; } // (as binary64)
  else { e.i32c(k); e.buf[e.pos++] = wop; }
  e.buf[e.pos++] = Op.i64_extend_i32_u; e.set(d);
  return true;
}
