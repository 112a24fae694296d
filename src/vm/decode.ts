/*
 * Pre-decoding for the interpreter: a program (Insn[]) is turned once into a flat Int32Array, four
 * words per slot, and cached per insns array (WeakMap), so the hot loop reads typed arrays only:
 *
 *   word 0   op (bits 0..11) | dst << 12 | src << 16
 *   word 1   jumps and local calls: absolute target slot; everything else: off
 *   word 2   imm
 *   word 3   ld_imm64: the upper 32 bits of the constant
 *
 * `op` is the opcode byte, except where the kernel's interpreter dispatches on more than the
 * opcode (off selects sdiv/smod and movsx, imm selects the byte-swap width, src the call kind):
 * those get the internal numbers below, so the interpreter keeps one case per operation.
 *
 * A call of a kfunc bpfkit implements (isa/kfuncs.ts) becomes a helper call of the kfunc's
 * internal helper id, so both engines call it as a helper.
 *
 * Anything that cannot run (unknown or malformed instruction, unresolved ld_imm64 pseudo form,
 * other kfunc calls, jump outside the program or into the middle of an ld_imm64, falling off the end) is
 * decoded as a TRAP whose imm indexes `traps`: the error is raised if and when it is executed,
 * naming the instruction, as an unverified program should fail.
 *
 * The insns array must not be modified after its first run (the cache is keyed on identity).
 */
import type { ErrnoName } from '../errors.js';
import { type Insn, insnEncodingError } from '../isa/insn.js';
import { kfuncByBtfId } from '../isa/kfuncs.js';
import {
  BPF_ADDR_SPACE_CAST, BPF_JMP32, BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL, bpfClass, OPCODES,
} from '../isa/opcodes.js';

// Internal operation numbers beyond the opcode byte (low byte = the opcode they refine).
export const OP_SDIV32_K = 0x134;
export const OP_SDIV32_X = 0x13c;
export const OP_SDIV64_K = 0x137;
export const OP_SDIV64_X = 0x13f;
export const OP_SMOD32_K = 0x194;
export const OP_SMOD32_X = 0x19c;
export const OP_SMOD64_K = 0x197;
export const OP_SMOD64_X = 0x19f;
export const OP_MOVSX32_8 = 0x1bc;
export const OP_MOVSX32_16 = 0x2bc;
export const OP_MOVSX64_8 = 0x1bf;
export const OP_MOVSX64_16 = 0x2bf;
export const OP_MOVSX64_32 = 0x3bf;
export const OP_LE16 = 0x1d4;
export const OP_LE32 = 0x2d4;
export const OP_LE64 = 0x3d4;
export const OP_BE16 = 0x1dc;
export const OP_BE32 = 0x2dc;
export const OP_BE64 = 0x3dc;
export const OP_BSWAP16 = 0x1d7;
export const OP_BSWAP32 = 0x2d7;
export const OP_BSWAP64 = 0x3d7;
export const OP_CALL_LOCAL = 0x185;
export const OP_TRAP = 0xfff;

export interface Trap {
  readonly code: ErrnoName;
  readonly message: string;
}

export interface DecodedProgram {
  /** Number of slots of the source program. */
  readonly length: number;
  /** 4 words per slot; slots >= length are trap slots (fall-through, bad jump targets). */
  readonly code: Int32Array;
  readonly traps: readonly Trap[];
}

const cache = new WeakMap<readonly Insn[], DecodedProgram>();

export function decodeForInterpreter(insns: readonly Insn[]): DecodedProgram {
  let prog = cache.get(insns);
  if (prog === undefined || prog.length !== insns.length) {
    prog = decode(insns);
    cache.set(insns, prog);
  }
  return prog;
}

function decode(insns: readonly Insn[]): DecodedProgram {
  const n = insns.length;
  const traps: Trap[] = [];
  const extra: number[][] = []; // trap slots appended after the program
  const code = new Int32Array((n + 1) * 4);
  const secondSlot = new Uint8Array(n + 1); // 1 where a slot is the upper half of an ld_imm64
  for (let i = 0; i < n; i++) {
    if (insns[i].code === 0x18 && i + 1 < n) secondSlot[++i] = 1;
  }

  const trap = (c: ErrnoName, message: string): number => {
    traps.push({ code: c, message });
    return traps.length - 1;
  };
  const setTrap = (slot: number, c: ErrnoName, message: string): void => {
    code[slot * 4] = OP_TRAP;
    code[slot * 4 + 2] = trap(c, message);
  };
  /** A jump target: the slot itself, or a fresh trap slot when it is outside the program. */
  const target = (from: number, to: number): number => {
    if (to >= 0 && to < n && secondSlot[to] === 0) return to;
    const why = to >= 0 && to < n
      ? `jump into the middle of ld_imm64 at insn #${to - 1} (insn #${from})`
      : `jump out of range (insn #${from}): target ${to}`;
    extra.push([OP_TRAP, 0, trap('EINVAL', why), 0]);
    return n + extra.length;
  };

  for (let i = 0; i < n; i++) {
    const insn = insns[i];
    const at = i * 4;
    if (secondSlot[i]) {
      setTrap(i, 'EINVAL', `jump into the middle of ld_imm64 at insn #${i - 1} (insn #${i})`);
      continue;
    }
    const why = insnEncodingError(insns, i);
    let op = insn.code;
    const info = OPCODES[op & 0xff]; // (opInfo() written out: per instruction, before V8 optimises)
    if (why !== undefined || info === undefined) {
      setTrap(i, 'EINVAL', `invalid instruction (insn #${i}): ${why ?? 'unknown opcode'}`);
      continue;
    }
    const off = insn.off;
    let word1 = off;
    switch (info.kind) {
      case 'alu':
        if (off === 1) op |= 0x100; // sdiv / smod
        break;
      case 'mov':
        if (info.srcReg && off !== 0) {
          if (info.is64 && off === BPF_ADDR_SPACE_CAST) {
            setTrap(i, 'ENOTSUPP', `addr_space_cast is not supported (insn #${i})`);
            continue;
          }
          op = info.is64
            ? (off === 8 ? OP_MOVSX64_8 : off === 16 ? OP_MOVSX64_16 : OP_MOVSX64_32)
            : (off === 8 ? OP_MOVSX32_8 : OP_MOVSX32_16);
        }
        break;
      case 'end':
        op |= insn.imm === 16 ? 0x100 : insn.imm === 32 ? 0x200 : 0x300;
        break;
      case 'ja':
        op = 0x05; // goto and gotol both become "jump to word 1"
        word1 = target(i, i + 1 + (bpfClass(insn.code) === BPF_JMP32 ? insn.imm : off)); // (op is 0x05 by now)
        break;
      case 'jcond':
      case 'may_goto':
        word1 = target(i, i + 1 + off);
        break;
      case 'call':
        if (insn.src === BPF_PSEUDO_CALL) {
          op = OP_CALL_LOCAL;
          word1 = target(i, i + 1 + insn.imm);
        } else if (insn.src === BPF_PSEUDO_KFUNC_CALL) {
          // a kfunc bpfkit implements runs as a helper call of its internal id (helpers/kfuncs.ts)
          const kfunc = insn.off === 0 ? kfuncByBtfId(insn.imm) : undefined;
          if (!kfunc) {
            setTrap(i, 'ENOTSUPP', `kfunc calls not supported (insn #${i}): kfunc btf id ${insn.imm}`);
            continue;
          }
          code[at] = op | (insn.dst << 12);
          code[at + 1] = word1;
          code[at + 2] = kfunc.helperId;
          continue;
        }
        break;
      case 'lddw':
        if (insn.src !== 0) {
          setTrap(i, 'EINVAL', `unresolved ld_imm64 pseudo form src=${insn.src} (${PSEUDO_NAMES[insn.src] ?? '?'}) imm=${insn.imm} (insn #${i}): the loader must resolve it first`);
          continue;
        }
        code[at + 3] = insns[i + 1].imm;
        break;
      default:
        break;
    }
    code[at] = op | (insn.dst << 12) | (insn.src << 16);
    code[at + 1] = word1;
    code[at + 2] = insn.imm;
  }
  // Slot n: falling through the last instruction.
  setTrap(n, 'EINVAL', n === 0 ? 'program has no instructions' : `fell through the end of the program (insn #${n - 1})`);
  if (extra.length === 0) return { length: n, code, traps };
  const all = new Int32Array((n + 1 + extra.length) * 4);
  all.set(code);
  extra.forEach((w, k) => all.set(w, (n + 1 + k) * 4));
  return { length: n, code: all, traps };
}

const PSEUDO_NAMES: Record<number, string> = {
  1: 'map fd', 2: 'map value', 3: 'btf id', 4: 'func', 5: 'map idx', 6: 'map idx value',
};
