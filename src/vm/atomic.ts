/*
 * BPF_STX | BPF_ATOMIC (RFC 9669 section 5.3, the kernel's ___bpf_prog_run() ATOMIC cases), on
 * registers kept as int32 halves. imm selects the operation:
 *
 *   add/or/and/xor         *(size *)(dst + off) OP= src
 *   ... | BPF_FETCH        same, and src = the old value
 *   xchg                   src = xchg(mem, src)
 *   cmpxchg                r0 = cmpxchg(mem, r0, src): store src if mem == r0; r0 = old value
 *
 * 32-bit forms operate on the low word and zero-extend whatever register they write. The address
 * has been bounds-checked by the caller. On shared memory (several workers acting as CPUs) aligned
 * accesses use Atomics; otherwise a plain read-modify-write is exact (one thread).
 */
import { BPF_ADD, BPF_AND, BPF_CMPXCHG, BPF_FETCH, BPF_OR, BPF_XCHG, BPF_XOR } from '../isa/opcodes.js';

function apply32(op: number, old: number, v: number): number {
  switch (op & ~BPF_FETCH) {
    case BPF_ADD: return (old + v) | 0;
    case BPF_OR: return old | v;
    case BPF_AND: return old & v;
    case BPF_XOR: return old ^ v;
    default: return v; // xchg
  }
}

export function atomic32(dv: DataView, shared: boolean, L: Int32Array, H: Int32Array, s: number, a: number, op: number): void {
  const v = L[s];
  let old: number;
  if (shared && (a & 3) === 0) {
    const i32 = new Int32Array(dv.buffer);
    const idx = a >> 2;
    switch (op) {
      case BPF_CMPXCHG: old = Atomics.compareExchange(i32, idx, L[0], v); break;
      case BPF_XCHG: old = Atomics.exchange(i32, idx, v); break;
      default:
        switch (op & ~BPF_FETCH) {
          case BPF_ADD: old = Atomics.add(i32, idx, v); break;
          case BPF_OR: old = Atomics.or(i32, idx, v); break;
          case BPF_AND: old = Atomics.and(i32, idx, v); break;
          default: old = Atomics.xor(i32, idx, v); break;
        }
    }
  } else {
    old = dv.getInt32(a, true);
    if (op === BPF_CMPXCHG) {
      if (old === L[0]) dv.setInt32(a, v, true);
    } else {
      dv.setInt32(a, apply32(op, old, v), true);
    }
  }
  if (op === BPF_CMPXCHG) {
    L[0] = old;
    H[0] = 0;
  } else if ((op & BPF_FETCH) !== 0) {
    L[s] = old;
    H[s] = 0;
  }
}

export function atomic64(dv: DataView, shared: boolean, L: Int32Array, H: Int32Array, s: number, a: number, op: number): void {
  if (shared && (a & 7) === 0) {
    atomic64Shared(dv, L, H, s, a, op);
    return;
  }
  const ol = dv.getInt32(a, true);
  const oh = dv.getInt32(a + 4, true);
  const vl = L[s];
  const vh = H[s];
  let nl: number;
  let nh: number;
  if (op === BPF_CMPXCHG) {
    if (ol === L[0] && oh === H[0]) {
      dv.setInt32(a, vl, true);
      dv.setInt32(a + 4, vh, true);
    }
    L[0] = ol;
    H[0] = oh;
    return;
  }
  switch (op & ~BPF_FETCH) {
    case BPF_ADD: {
      const sum = (ol >>> 0) + (vl >>> 0);
      nl = sum | 0;
      nh = (oh + vh + (sum > 0xffffffff ? 1 : 0)) | 0;
      break;
    }
    case BPF_OR: nl = ol | vl; nh = oh | vh; break;
    case BPF_AND: nl = ol & vl; nh = oh & vh; break;
    case BPF_XOR: nl = ol ^ vl; nh = oh ^ vh; break;
    default: nl = vl; nh = vh; break; // xchg
  }
  dv.setInt32(a, nl, true);
  dv.setInt32(a + 4, nh, true);
  if ((op & BPF_FETCH) !== 0) {
    L[s] = ol;
    H[s] = oh;
  }
}

function atomic64Shared(dv: DataView, L: Int32Array, H: Int32Array, s: number, a: number, op: number): void {
  const i64 = new BigInt64Array(dv.buffer);
  const idx = a / 8;
  const v = BigInt.asIntN(64, (BigInt(H[s]) << 32n) | BigInt(L[s] >>> 0));
  let old: bigint;
  switch (op) {
    case BPF_CMPXCHG: {
      const expected = BigInt.asIntN(64, (BigInt(H[0]) << 32n) | BigInt(L[0] >>> 0));
      old = Atomics.compareExchange(i64, idx, expected, v);
      break;
    }
    case BPF_XCHG: old = Atomics.exchange(i64, idx, v); break;
    default:
      switch (op & ~BPF_FETCH) {
        case BPF_ADD: old = Atomics.add(i64, idx, v); break;
        case BPF_OR: old = Atomics.or(i64, idx, v); break;
        case BPF_AND: old = Atomics.and(i64, idx, v); break;
        default: old = Atomics.xor(i64, idx, v); break;
      }
  }
  const r = op === BPF_CMPXCHG ? 0 : (op & BPF_FETCH) !== 0 ? s : -1;
  if (r >= 0) {
    L[r] = Number(BigInt.asIntN(32, old));
    H[r] = Number(BigInt.asIntN(32, old >> 32n));
  }
}
