/*
 * Opcode tables of the emitters, as typed arrays indexed by operation (0 = none): read for every
 * instruction compiled, they hold small integers only, so V8's loads from them stay monomorphic.
 */
import { Op } from './wasm_writer.js';

function table(entries: readonly (readonly [number, number])[], size = 0x1000): Uint8Array {
  const out = new Uint8Array(size);
  for (const [k, v] of entries) out[k] = v;
  return out;
}

/** Binary ALU operations that map to one wasm instruction, by BPF_OP (0x00, BPF_ADD, maps to i64.add: never 0). */
export const ALU64_OPS = table([
  [0x00, Op.i64_add], [0x10, Op.i64_sub], [0x20, Op.i64_mul], [0x40, Op.i64_or], [0x50, Op.i64_and],
  [0x60, Op.i64_shl], [0x70, Op.i64_shr_u], [0xa0, Op.i64_xor], [0xc0, Op.i64_shr_s],
], 0x100);
export const ALU32_OPS = table([
  [0x00, Op.i32_add], [0x10, Op.i32_sub], [0x20, Op.i32_mul], [0x40, Op.i32_or], [0x50, Op.i32_and],
  [0x60, Op.i32_shl], [0x70, Op.i32_shr_u], [0xa0, Op.i32_xor], [0xc0, Op.i32_shr_s],
], 0x100);

/** Comparisons of conditional jumps, by BPF_OP (BPF_JSET, 0x40, is written out). */
export const CMP64 = table([
  [0x10, Op.i64_eq], [0x50, Op.i64_ne], [0x20, Op.i64_gt_u], [0x30, Op.i64_ge_u], [0xa0, Op.i64_lt_u], [0xb0, Op.i64_le_u],
  [0x60, Op.i64_gt_s], [0x70, Op.i64_ge_s], [0xc0, Op.i64_lt_s], [0xd0, Op.i64_le_s],
], 0x100);
export const CMP32 = table([
  [0x10, Op.i32_eq], [0x50, Op.i32_ne], [0x20, Op.i32_gt_u], [0x30, Op.i32_ge_u], [0xa0, Op.i32_lt_u], [0xb0, Op.i32_le_u],
  [0x60, Op.i32_gt_s], [0x70, Op.i32_ge_s], [0xc0, Op.i32_lt_s], [0xd0, Op.i32_le_s],
], 0x100);

/** ldx (and its sign-extending forms): the wasm load and the size, by operation (size 0: not a load). */
export const LOAD_OP = table([
  [0x71, Op.i64_load8_u], [0x69, Op.i64_load16_u], [0x61, Op.i64_load32_u], [0x79, Op.i64_load],
  [0x91, Op.i64_load8_s], [0x89, Op.i64_load16_s], [0x81, Op.i64_load32_s],
]);
export const LOAD_SIZE = table([[0x71, 1], [0x69, 2], [0x61, 4], [0x79, 8], [0x91, 1], [0x89, 2], [0x81, 4]]);

/** Access size by BPF_SIZE (op & 0x18). */
export const STORE_SIZE = table([[0x00, 4], [0x08, 2], [0x10, 1], [0x18, 8]], 0x20);
/** The wasm store by access size. */
export const STORE_OP = table([[1, Op.i64_store8], [2, Op.i64_store16], [4, Op.i64_store32], [8, Op.i64_store]], 9);
