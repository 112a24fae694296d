/*
 * The verifier log in the kernel's format: print_reg_state(), print_scalar_ranges(),
 * print_verifier_state(), print_insn_state()'s column alignment (vlog_alignment()).
 */
import { type RegState, S32_MAX, S32_MIN, S64_MAX, S64_MIN, U32_MAX, U64_MAX, baseId, hasAddConst, regTypeStr } from './reg_state.js';
import { SLOT_CHAR, STACK_DYNPTR, STACK_INVALID, STACK_ITER, STACK_SPILL, type FuncState } from './state.js';
import { tnumIsConst, tnumIsUnknown, tnumStr } from './tnum.js';

const hex = (v: bigint): string => '0x' + BigInt.asUintN(64, v).toString(16);
/** verbose_snum(): decimal within s16 (SNUM_MIN_DECIMAL..SNUM_MAX_DECIMAL), else hex */
export const snum = (v: bigint): string => (v >= -32768n && v <= 32767n ? String(v) : hex(v));
/** verbose_unum(): decimal up to u16 max (UNUM_MAX_DECIMAL), else hex */
export const unum = (v: bigint): string => (BigInt.asUintN(64, v) <= 65535n ? String(BigInt.asUintN(64, v)) : hex(v));

/**
 * A 32-bit signed bound as print_scalar_ranges() holds it: sign-extended where it prints in
 * decimal, else its 32-bit pattern (hex), which then groups with an equal 64-bit bound.
 */
const snum32 = (v: bigint): bigint => (v >= -32768n && v <= 32767n ? v : BigInt.asUintN(32, v));

/** print_scalar_ranges() */
function scalarRanges(r: RegState, parts: string[]): void {
  const m = [
    { n: 'smin', v: r.smin, omit: r.smin === S64_MIN },
    { n: 'smax', v: r.smax, omit: r.smax === S64_MAX },
    { n: 'umin', v: r.umin, omit: r.umin === 0n },
    { n: 'umax', v: r.umax, omit: r.umax === U64_MAX },
    { n: 'smin32', v: snum32(r.s32min), omit: r.s32min === S32_MIN },
    { n: 'smax32', v: snum32(r.s32max), omit: r.s32max === S32_MAX },
    { n: 'umin32', v: r.u32min, omit: r.u32min === 0n },
    { n: 'umax32', v: r.u32max, omit: r.u32max === U32_MAX },
  ];
  for (let i = 0; i < m.length; i++) {
    const m1 = m[i];
    if (m1.omit) continue;
    const neg1 = m1.n[0] === 's' && m1.v < 0n;
    let s = `${m1.n}=`;
    for (let j = i + 2; j < m.length; j += 2) {
      const m2 = m[j];
      if (m2.omit || BigInt.asUintN(64, m2.v) !== BigInt.asUintN(64, m1.v)) continue;
      const neg2 = m2.n[0] === 's' && m2.v < 0n;
      if (neg1 !== neg2) continue;
      m2.omit = true;
      s += `${m2.n}=`;
    }
    s += m1.n[0] !== 's' ? unum(m1.v) : snum(m1.v);
    parts.push(s);
  }
}

/** print_reg_state() */
export function regStr(r: RegState, frameno: number): string {
  const p = r.type === 'scalar' && r.precise ? 'P' : '';
  if (r.type === 'scalar' && tnumIsConst(r.varOff)) return p + snum(BigInt.asIntN(64, r.varOff.value));
  let out = p + regTypeStr(r);
  if (r.type === 'ptr_' && r.btf) out += r.btf.name;
  if (r.type === 'fp') {
    if (r.frameno !== frameno) out += `[${r.frameno}]`;
    if (tnumIsConst(r.varOff)) return out + snum(BigInt.asIntN(64, r.varOff.value) + BigInt(r.off));
  }
  const parts: string[] = [];
  // "id=1+4": linked to id 1 with a constant delta (BPF_ADD_CONST)
  if (r.id) parts.push(`id=${baseId(r.id)}${hasAddConst(r.id) ? (r.off >= 0 ? '+' : '') + r.off : ''}`);
  if (r.refObjId) parts.push(`ref_obj_id=${r.refObjId}`);
  if (r.map && (r.type === 'map_ptr' || r.type === 'map_value' || r.type === 'map_key')) {
    if (r.map.spec.name) parts.push(`map=${r.map.spec.name}`);
    parts.push(`ks=${r.map.spec.keySize},vs=${r.map.spec.valueSize}`);
  }
  if (r.type !== 'scalar' && r.off) parts.push(`off=${snum(BigInt(r.off))}`);
  if (r.type === 'pkt' || r.type === 'pkt_meta') parts.push(`r=${unum(BigInt(r.range))}`);
  if (r.type === 'mem') parts.push(`sz=${unum(BigInt(r.memSize))}`);
  if (tnumIsConst(r.varOff)) {
    if (r.varOff.value) parts.push(`imm=${snum(BigInt.asIntN(64, r.varOff.value))}`);
  } else {
    scalarRanges(r, parts);
    if (!tnumIsUnknown(r.varOff)) parts.push(`var_off=${tnumStr(r.varOff)}`);
  }
  return `${out}(${parts.join(',')})`;
}

/** print_verifier_state(): all = every live register and slot, otherwise only scratched ones */
export function stateStr(f: FuncState, all: boolean, regsScratched: { has(i: number): boolean }, slotsScratched: { has(i: number): boolean }): string {
  let out = '';
  if (f.frameno) out += ` frame${f.frameno}:`;
  for (let i = 0; i < 11; i++) {
    const r = f.regs[i];
    if (r.type === 'not_init') continue;
    if (!all && !regsScratched.has(i)) continue;
    out += ` R${i}=${regStr(r, f.frameno)}`;
  }
  for (let i = 0; i < f.stack.length; i++) {
    const s = f.stack[i];
    if (!all && !slotsScratched.has(i)) continue;
    if (allInvalid(s.types)) continue;
    if (s.types[0] === STACK_DYNPTR) {
      // a dynptr prints once, at its first (lower) slot: fp-16=dynptr_ringbuf(id=1,ref_id=2)
      const first = s.spilled?.dynptr?.first ? i : i + 1;
      const d = f.stack[first]?.spilled;
      const attrs = d ? [d.id ? `id=${d.id}` : '', d.refObjId ? `ref_id=${d.refObjId}` : '', d.dynptrId ? `dynptr_id=${d.dynptrId}` : ''].filter(Boolean) : [];
      out += ` fp-${(first + 1) * 8}=dynptr_${d?.dynptr?.kind ?? '?'}${attrs.length ? `(${attrs.join(',')})` : ''}`;
      i = first;
      continue;
    }
    if (s.types[0] === STACK_ITER) {
      // only the iterator's first slot holds its reference: fp-8=iter_num(ref_id=1,state=active,depth=0)
      const it = s.spilled;
      if (it?.iter && it.refObjId) out += ` fp-${(i + 1) * 8}=iter_${it.iter.type}(ref_id=${it.refObjId},state=${it.iter.active ? 'active' : 'drained'},depth=${it.iter.depth})`;
      continue;
    }
    // a spill prints the bytes above a narrow spill (MISC/ZERO/INVALID), then the register
    if (s.types[7] === STACK_SPILL && s.spilled) out += ` fp-${(i + 1) * 8}=${slotChars(s.types, s.types.indexOf(STACK_SPILL))}${regStr(s.spilled, f.frameno)}`;
    else out += ` fp-${(i + 1) * 8}=${slotChars(s.types, s.types.length)}`;
  }
  return out;
}

// plain loops: these run for every logged instruction
function allInvalid(types: readonly number[]): boolean {
  for (let j = 0; j < types.length; j++) if (types[j] !== STACK_INVALID) return false;
  return true;
}
function slotChars(types: readonly number[], end: number): string {
  let out = '';
  for (let j = 0; j < end; j++) out += SLOT_CHAR[types[j]];
  return out;
}

/**
 * vlog_alignment(): how many spaces print_insn_state() puts where the instruction line's newline was
 * before `;` (pos = the line's length with its newline).
 */
export function vlogAlignment(pos: number): number {
  return Math.ceil(Math.max(pos + 4, 40) / 8) * 8 - pos - 1;
}

/** The " refs=1,2" suffix of print_verifier_state(): references the state holds. */
export function refsStr(refs: readonly { id: number }[]): string {
  return refs.length ? ` refs=${refs.map((r) => r.id).join(',')}` : '';
}

const NONE: ReadonlySet<number> = new Set();

/** print_verifier_state(print_all) as text: every register and slot, the references, " cb" for a callback's frame */
export function wholeStateStr(f: FuncState, refs: readonly { id: number }[]): string {
  return stateStr(f, true, NONE, NONE) + refsStr(refs) + (f.inCallback ? ' cb' : '');
}

/**
 * The log buffer (struct bpf_verifier_log): appended to and rewound to earlier positions
 * (bpf_vlog_reset()) in amortised constant time, as long logs are rewound at every path end.
 */
export class LogBuffer {
  private chunks: string[] = [];
  length = 0;
  append(s: string): void { if (s) { this.chunks.push(s); this.length += s.length; } }
  reset(pos: number): void {
    while (this.length > pos) {
      const last = this.chunks.pop()!;
      this.length -= last.length;
      if (this.length < pos) { this.chunks.push(last.slice(0, pos - this.length)); this.length = pos; }
    }
  }
  toString(): string { const s = this.chunks.join(''); this.chunks = s ? [s] : []; return s; }
}
