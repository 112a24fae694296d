/*
 * Calls: helper calls (with bpf_map_lookup_elem inlined on known ARRAY maps and IPv4 LPM tries,
 * a helper's number form tried first, and bpf_tail_call's hand-over) and local calls.
 */
import { MAX_BPF_STACK, MAX_CALL_FRAMES } from '../../isa/opcodes.js';
import type { ArrayLayout } from '../helpers.js';
import type { FunctionEmitter } from './emitter.js';
import { A32, A64, ADDR, B32, BPF_FUNC_TAIL_CALL, DEPTH, FAIL_TAIL_SUB, FB, G, G_CPU, G_PB, G_PL, LEFT, MAP_LOOKUP, PC, T1, TAIL_REGS_AT } from './layout.js';
import { I64, Op } from './wasm_writer.js';

/** The cached load regions a lookup key may lie in: globals (base, length - 8) in pairs. */
const KEY_REGIONS = [G.rb, G.rl, G.qb, G.ql, G_PB, G_PL] as const;

/** A helper call (0x85, id k) or callx (0x8d, id in register d) at slot pc. */
export function helperCall(e: FunctionEmitter, pc: number, o: number, d: number, k: number): void {
  const opts = e.options;
  const isLookup = o === 0x85 && k === MAP_LOOKUP;
  const layout = isLookup && opts.arrayLookups !== undefined ? opts.arrayLookups.get(pc) : undefined;
  const lpm = isLookup && opts.lpmLookups !== undefined ? opts.lpmLookups.get(pc) : undefined;
  const fast = o === 0x85 && opts.fastHelpers !== undefined && opts.fastHelpers.has(k);
  // block $done { block $generic { inline or fast path; br $done } generic call }
  const inline = layout !== undefined || lpm !== undefined || fast;
  if (inline) { e.buf[e.pos++] = Op.block; e.buf[e.pos++] = 0x40; e.buf[e.pos++] = Op.block; e.buf[e.pos++] = 0x40; e.inner += 2; }
  if (layout !== undefined) inlineArrayLookup(e, layout);
  else if (lpm !== undefined) inlineLpmLookup(e, lpm);
  else if (fast) fastCall(e, k, pc);
  if (inline) { e.buf[e.pos++] = Op.end; e.inner--; }
  if (o === 0x85) e.sx(k); else e.get(d);
  e.i32c(pc);
  for (let r = 1; r <= 5; r++) e.get(r);
  e.callHelper();
  if (o === 0x8d || k === BPF_FUNC_TAIL_CALL) tailCallCheck(e, pc); // (no other helper may tail call: jit.ts refuses)
  e.set(0);
  if (inline) { e.buf[e.pos++] = Op.end; e.inner--; }
}

/**
 * After a call that may tail call (r0 on the stack): bpf_tail_call scheduled by the helper:
 * hand the registers over and leave; the host continues in the target program (its result is
 * dropped, as the interpreter does).
 */
function tailCallCheck(e: FunctionEmitter, pc: number): void {
  e.lset(T1);
  e.buf[e.pos++] = Op.global_get; e.u32(G.tail); e.buf[e.pos++] = Op.if; e.buf[e.pos++] = 0x40; e.inner++;
  e.lget(DEPTH); e.buf[e.pos++] = Op.if; e.buf[e.pos++] = 0x40; e.fail(FAIL_TAIL_SUB, pc, 0); e.buf[e.pos++] = Op.end;
  for (let r = 0; r <= 10; r++) { e.i32c(0); e.get(r); e.mem(Op.i64_store, TAIL_REGS_AT + 8 * r); }
  e.leave(false);
  e.buf[e.pos++] = Op.end; e.inner--;
  e.lget(T1);
}

/** A local call at slot pc to the function at slot `target`. */
export function localCall(e: FunctionEmitter, pc: number, target: number): void {
  // frames exhausted: to the out-of-line handler with $pc = -1 - pc (the verified tier has none:
  // the verifier bounds the call depth, as check_max_stack_depth())
  if (!e.isVerified) {
    e.i32c(-1 - pc); e.lset(PC);
    e.lget(DEPTH); e.i32c(MAX_CALL_FRAMES - 1); e.buf[e.pos++] = Op.i32_ge_u; e.buf[e.pos++] = Op.br_if; e.u32(e.depthL() + 1);
  }
  // (verified tier: the callee cannot read r0 or r6-r9 before writing them, which the verifier
  // marks not initialised in a new frame (init_func_state()): zeros, not the caller's values,
  // which Liftoff would load from their spill slots)
  for (let r = 0; r <= 9; r++) if (e.isVerified && (r === 0 || r >= 6)) e.i64c(0, 0); else e.get(r);
  e.lget(DEPTH); e.i32c(1); e.buf[e.pos++] = Op.i32_add; e.lget(LEFT); e.i32c(0);
  e.buf[e.pos++] = Op.call; e.u32(e.funcOf(target));
  e.lset(LEFT);
  if (!e.isVerified) for (let r = 5; r >= 0; r--) e.set(r); else e.set(0);
}

/**
 * Inside `block $done { block $generic {`: ADDR = the lookup key (r2) of `size` bytes, when it
 * lies in the frame or a cached load region (verified tier: as the verifier proved); anything
 * else takes the helper call, which faults as the interpreter does.
 */
function lookupKey(e: FunctionEmitter, size: number): void {
  if (e.isVerified) {
    e.get(2); e.buf[e.pos++] = Op.i32_wrap_i64; e.lset(ADDR);
    return;
  }
  e.buf[e.pos++] = Op.block; e.buf[e.pos++] = 0x40; e.inner++; // $ok
  e.get(2); e.ltee(A64); e.i64c(0, -1); e.buf[e.pos++] = Op.i64_gt_u; e.buf[e.pos++] = Op.br_if; e.u32(1);
  e.lget(A64); e.buf[e.pos++] = Op.i32_wrap_i64; e.ltee(ADDR);
  e.lget(FB); e.buf[e.pos++] = Op.i32_sub; e.i32c(MAX_BPF_STACK - size); e.buf[e.pos++] = Op.i32_le_u; e.buf[e.pos++] = Op.br_if; e.u32(0);
  for (let i = 0; i < KEY_REGIONS.length; i += 2) {
    e.lget(ADDR); e.buf[e.pos++] = Op.global_get; e.u32(KEY_REGIONS[i]); e.buf[e.pos++] = Op.i32_sub;
    e.buf[e.pos++] = Op.global_get; e.u32(KEY_REGIONS[i + 1]); e.i32c(8 - size); e.buf[e.pos++] = Op.i32_add;
    e.buf[e.pos++] = Op.i32_le_u; e.buf[e.pos++] = Op.br_if; e.u32(0);
  }
  e.buf[e.pos++] = Op.br; e.u32(1);
  e.buf[e.pos++] = Op.end; e.inner--;
}

/**
 * bpf_map_lookup_elem on a known ARRAY map as the kernel's array_map_gen_lookup() emits it:
 * r0 = index < max_entries ? values + index * elem_size : 0 (PERCPU_ARRAY: this CPU's slot, as
 * array_map_lookup_elem's this_cpu_ptr()). Registers other than r0 are left as they are.
 */
function inlineArrayLookup(e: FunctionEmitter, m: ArrayLayout): void {
  lookupKey(e, 4);
  e.lget(ADDR); e.mem(Op.i32_load, 0); e.ltee(A32); e.i32c(m.maxEntries | 0); e.buf[e.pos++] = Op.i32_lt_u;
  e.buf[e.pos++] = Op.if; e.buf[e.pos++] = I64;
  e.lget(A32); e.buf[e.pos++] = Op.i64_extend_i32_u;
  if (m.percpu) {
    e.i64c(0, m.nrCpus); e.buf[e.pos++] = Op.i64_mul; e.buf[e.pos++] = Op.global_get; e.u32(G_CPU); e.buf[e.pos++] = Op.i64_extend_i32_s; e.buf[e.pos++] = Op.i64_add;
  }
  e.i64c(0, m.elemSize); e.buf[e.pos++] = Op.i64_mul; e.i64c(Math.floor(m.valuesAddr / 4294967296), m.valuesAddr | 0); e.buf[e.pos++] = Op.i64_add;
  e.buf[e.pos++] = Op.else; e.i64c(0, 0); e.buf[e.pos++] = Op.end;
  e.set(0);
  e.buf[e.pos++] = Op.br; e.u32(1); // $done
}

/**
 * bpf_map_lookup_elem on a known IPv4 LPM trie with a /32 key: the map's stride table (maps/
 * lpm_table.ts) at `l1`, three loads at most; other prefix lengths take the helper call.
 */
function inlineLpmLookup(e: FunctionEmitter, l1: number): void {
  lookupKey(e, 8);
  e.lget(ADDR); e.mem(Op.i32_load, 0); e.i32c(32); e.buf[e.pos++] = Op.i32_ne; e.buf[e.pos++] = Op.br_if; e.u32(0);
  e.lget(ADDR); e.mem(Op.i32_load, 4); e.bswap32(); e.lset(A32); // the address, host order
  e.lget(A32); e.i32c(16); e.buf[e.pos++] = Op.i32_shr_u; e.i32c(2); e.buf[e.pos++] = Op.i32_shl; e.mem(Op.i32_load, l1); e.ltee(B32);
  e.i32c(1); e.buf[e.pos++] = Op.i32_and;
  e.buf[e.pos++] = Op.if; e.buf[e.pos++] = 0x40;
  e.lget(B32); e.i32c(-2); e.buf[e.pos++] = Op.i32_and; e.lget(A32); e.i32c(6); e.buf[e.pos++] = Op.i32_shr_u; e.i32c(0x3fc); e.buf[e.pos++] = Op.i32_and; e.buf[e.pos++] = Op.i32_add;
  e.mem(Op.i32_load, 0); e.ltee(B32);
  e.i32c(1); e.buf[e.pos++] = Op.i32_and;
  e.buf[e.pos++] = Op.if; e.buf[e.pos++] = 0x40;
  e.lget(B32); e.i32c(-2); e.buf[e.pos++] = Op.i32_and; e.lget(A32); e.i32c(255); e.buf[e.pos++] = Op.i32_and; e.i32c(2); e.buf[e.pos++] = Op.i32_shl; e.buf[e.pos++] = Op.i32_add;
  e.mem(Op.i32_load, 0); e.lset(B32);
  e.buf[e.pos++] = Op.end;
  e.buf[e.pos++] = Op.end;
  e.lget(B32); e.buf[e.pos++] = Op.i64_extend_i32_u; e.set(0);
  e.buf[e.pos++] = Op.br; e.u32(1); // $done
}

/**
 * Inside `block $done { block $generic {`: the helper's number form (the module's fastCall
 * function, shared by the call sites: fewer bytes for V8 to compile); not handled: the call.
 */
function fastCall(e: FunctionEmitter, id: number, pc: number): void {
  e.i32c(id); e.i32c(pc); for (let r = 1; r <= 5; r++) e.get(r);
  e.buf[e.pos++] = Op.call; e.u32(e.imports.fastCall); // (r0, handled)
  e.buf[e.pos++] = Op.i32_eqz; e.buf[e.pos++] = Op.br_if; e.u32(0); // (the r0 left below is dropped by the branch)
  e.set(0);
  e.buf[e.pos++] = Op.br; e.u32(1); // $done
}
