/*
 * The LLVM-syntax disassembler: prints eBPF exactly as `llvm-objdump-19 -d` does, down to its
 * quirks, so our listings diff cleanly against the real tool.
 *
 * Decoding follows LLVM's BPFDisassembler (BPFGenDisassemblerTables from BPFInstrInfo.td): only the
 * bits an instruction's encoding fixes are checked, every other field is "don't care" (an ALU
 * immediate form ignores src, `exit` ignores dst/src/off, a 32-bit atomic without alu32 decodes as
 * `lock ... +=` whatever its fetch bit says). Register operands above r11 fail to decode and print
 * `<unknown>`. Without alu32 (`llvm-objdump -d`, the default) sub-word loads, stores and 32-bit
 * atomics name 64-bit registers; `alu32: true` matches `--mattr=+alu32` / `--mcpu=v3|v4`.
 *
 * objdumpSection() mirrors disassembleObject() in llvm-objdump.cpp: symbols sorted by (offset, name,
 * type), one label per address (the last non-object symbol), a dummy `<section>` label when nothing
 * sits at offset 0, object-only chunks dumped as hex+ASCII (dumpELFData()), runs of >= 8 zero bytes
 * collapsed to `...`, undecodable tails printed a byte at a time, and branch targets annotated
 * `<sym+0x..>` with the preceding symbol in the section (addresses wrap at 2^64).
 */
import type { AsmUnit } from './asm_unit.js';
import { encodeProgram } from './insn.js';
import type { Insn } from './insn.js';

export interface LlvmDisasmOptions {
  /** Decode as with `--mattr=+alu32` (or `--mcpu=v3`/`v4`): w registers for sub-word memory ops. */
  alu32?: boolean;
}

export interface ObjdumpSymbol {
  name: string;
  /** Byte offset inside the section. */
  offset: number;
  isFunction: boolean;
  /** STT_OBJECT (or STT_COMMON): a chunk headed only by data symbols is dumped as data. */
  isObject?: boolean;
}

export interface ObjdumpSectionInput {
  name: string;
  bytes: Uint8Array;
  symbols: ObjdumpSymbol[];
  /** SHF_EXECINSTR; `-d` skips sections where this is false (default true). */
  executable?: boolean;
}

const ALU_SYM: Record<number, string> = {
  0x00: '+=', 0x10: '-=', 0x20: '*=', 0x30: '/=', 0x40: '|=', 0x50: '&=', 0x60: '<<=', 0x70: '>>=',
  0x90: '%=', 0xa0: '^=', 0xc0: 's>>=',
};
const JMP_SYM: Record<number, string> = {
  0x10: '==', 0x20: '>', 0x30: '>=', 0x40: '&', 0x50: '!=', 0x60: 's>', 0x70: 's>=', 0xa0: '<',
  0xb0: '<=', 0xc0: 's<', 0xd0: 's<=',
};
const SIZE_NAME: Record<number, string> = { 0x00: 'u32', 0x08: 'u16', 0x10: 'u8', 0x18: 'u64' };
const SSIZE_NAME: Record<number, string> = { 0x00: 's32', 0x08: 's16', 0x10: 's8' };
const ATOMIC_NAME: Record<number, string> = { 0x00: 'add', 0x40: 'or', 0x50: 'and', 0xa0: 'xor' };

/** MCInstPrinter::formatImm in hex mode: `0x1f`, `-0x1f`. */
export function llvmHex(v: number | bigint): string {
  if (typeof v === 'bigint') return v < 0n ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`;
  return v < 0 ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`;
}

/** One decoded instruction as llvm-objdump sees it. */
export interface LlvmDecoded {
  /** 8 or 16 bytes. */
  size: number;
  text: string;
  /** Branch displacement in slots for the `<sym+off>` annotation (evaluateBranch()). */
  branch?: number;
}

interface Slot { code: number; dst: number; src: number; off: number; imm: number }

/**
 * Decode one instruction as BPFDisassembler::getInstruction(). `hi` is the imm of the next slot
 * (undefined when fewer than 16 bytes remain). Returns undefined when decoding fails; `short`
 * tells the caller the failure was an ld_imm64 lacking its second slot (llvm reports size 0).
 */
export function decodeLlvm(s: Slot, hi: number | undefined, opts: LlvmDisasmOptions = {}):
    LlvmDecoded | 'short' | undefined {
  const { code, dst, src, off, imm } = s;
  const cls = code & 7;
  const r = (n: number): string | undefined => (n > 11 ? undefined : `r${n}`);
  const w = (n: number): string | undefined => (n > 11 ? undefined : `w${n}`);
  const mem = (base: number): string | undefined =>
    base > 11 ? undefined : `r${base} ${off < 0 ? '-' : '+'} ${llvmHex(Math.abs(off))}`;
  // A register above r11 makes its helper return undefined, which fails the whole decode (also when
  // it was interpolated into the text, hence the 'undefined' check).
  const ok = (text: string | undefined, branch?: number): LlvmDecoded | undefined =>
    text === undefined || text.includes('undefined') ? undefined : { size: 8, text, branch };

  switch (cls) {
    case 4: // BPF_ALU
    case 7: { // BPF_ALU64
      const is64 = cls === 7;
      const reg = is64 ? r : w;
      const op = code & 0xf0;
      const x = (code & 8) !== 0;
      if (op === 0x80) { // neg: srctype must be K, every other field ignored
        if (x) return undefined;
        const d = reg(dst);
        return ok(d && `${d} = -${d}`);
      }
      if (op === 0xd0) { // le/be (ALU), bswap (ALU64, K only)
        if (is64 && x) return undefined;
        if (imm !== 16 && imm !== 32 && imm !== 64) return undefined;
        const name = is64 ? 'bswap' : x ? 'be' : 'le';
        const d = r(dst);
        return ok(d && `${d} = ${name}${imm} ${d}`);
      }
      if (op === 0xb0) { // mov, movsx, addr_space_cast
        if (!x) return off === 0 ? ok(reg(dst) && `${reg(dst)} = ${llvmHex(imm)}`) : undefined;
        if (off === 0) return ok(reg(dst) && reg(src) && `${reg(dst)} = ${reg(src)}`);
        if (off === 8 || off === 16 || (off === 32 && is64)) {
          return ok(reg(dst) && reg(src) && `${reg(dst)} = (s${off})${reg(src)}`);
        }
        if (off === 1 && is64) {
          return ok(r(dst) && r(src) &&
            `${r(dst)} = addr_space_cast(${r(src)}, ${llvmHex(imm >>> 16)}, ${llvmHex(imm & 0xffff)})`);
        }
        return undefined;
      }
      const sym = ALU_SYM[op];
      if (sym === undefined) return undefined;
      let s2 = sym;
      if (off === 1 && (op === 0x30 || op === 0x90)) s2 = `s${sym}`;
      else if (off !== 0) return undefined;
      const d = reg(dst);
      return ok(d && `${d} ${s2} ${x ? reg(src) : llvmHex(imm)}`);
    }
    case 5: // BPF_JMP
    case 6: { // BPF_JMP32
      const is64 = cls === 5;
      const reg = is64 ? r : w;
      const op = code & 0xf0;
      const x = (code & 8) !== 0;
      const target = (n: number): string => `${n >= 0 ? '+' : ''}${llvmHex(n)}`;
      if (op === 0x00) { // goto (JMP, off) / gotol (JMP32, imm)
        if (x) return undefined;
        return is64 ? ok(`goto ${target(off)}`, off) : ok(`gotol ${target(imm)}`, imm);
      }
      if (!is64 && (op === 0x80 || op === 0x90 || op === 0xe0)) return undefined;
      if (op === 0x80) return x ? ok(r(dst) && `callx ${r(dst)}`) : ok(`call ${llvmHex(imm)}`);
      if (op === 0x90) return !x && imm === 0 ? ok('exit') : undefined;
      if (op === 0xe0) return x ? undefined : ok(`may_goto ${target(off)}`, off);
      const sym = JMP_SYM[op];
      if (sym === undefined) return undefined;
      const d = reg(dst);
      return ok(d && `if ${d} ${sym} ${x ? reg(src) : llvmHex(imm)} goto ${target(off)}`, off);
    }
    case 0: { // BPF_LD
      const mode = code & 0xe0;
      const size = code & 0x18;
      if (mode === 0x00 && size === 0x18) { // ld_imm64
        if (off !== 0 || dst > 11) return undefined;
        if (hi === undefined) return 'short';
        if (src === 0) {
          const v = BigInt.asIntN(64, (BigInt(hi >>> 0) << 32n) | BigInt(imm >>> 0));
          return { size: 16, text: `r${dst} = ${llvmHex(v)} ll` };
        }
        return { size: 16, text: `ld_pseudo\tr${dst}, ${llvmHex(src)}, ${llvmHex(imm >>> 0)}` };
      }
      if (size === 0x18) return undefined;
      if (mode === 0x20) return ok(`r0 = *(${SIZE_NAME[size]} *)skb[${llvmHex(imm)}]`);
      if (mode === 0x40) return ok(r(src) && `r0 = *(${SIZE_NAME[size]} *)skb[${r(src)}]`);
      return undefined;
    }
    case 1: { // BPF_LDX
      const mode = code & 0xe0;
      const size = code & 0x18;
      const m = mem(src);
      if (mode === 0x60) {
        const d = opts.alu32 && size !== 0x18 ? w(dst) : r(dst);
        return ok(d && m && `${d} = *(${SIZE_NAME[size]} *)(${m})`);
      }
      if (mode === 0x80 && size !== 0x18) return ok(r(dst) && m && `${r(dst)} = *(${SSIZE_NAME[size]} *)(${m})`);
      return undefined;
    }
    case 2: { // BPF_ST
      if ((code & 0xe0) !== 0x60) return undefined;
      const m = mem(dst);
      return ok(m && `*(${SIZE_NAME[code & 0x18]} *)(${m}) = ${llvmHex(imm)}`);
    }
    case 3: { // BPF_STX
      const mode = code & 0xe0;
      const size = code & 0x18;
      const m = mem(dst);
      if (mode === 0x60) {
        const v = opts.alu32 && size !== 0x18 ? w(src) : r(src);
        return ok(m && v && `*(${SIZE_NAME[size]} *)(${m}) = ${v}`);
      }
      if (mode !== 0xc0 || (size !== 0x00 && size !== 0x18)) return undefined;
      const opHi = imm & 0xf0;
      const fetch = (imm & 0x0f) === 1;
      if (size === 0x00 && !opts.alu32) {
        // XADDW: only imm{7-4} == BPF_ADD is checked
        return opHi === 0 ? ok(m && r(src) && `lock *(u32 *)(${m}) += ${r(src)}`) : undefined;
      }
      const is64 = size === 0x18;
      const v = is64 ? r(src) : w(src);
      const ty = is64 ? 'u64' : 'u32';
      const name = ATOMIC_NAME[opHi];
      if (name !== undefined) {
        if (!fetch) return ok(m && v && `lock *(${ty} *)(${m}) ${ALU_SYM[opHi]} ${v}`);
        return ok(m && v && `${v} = atomic_fetch_${name}((${ty} *)(${m}), ${v})`);
      }
      if (!fetch) return undefined;
      if (opHi === 0xe0) return ok(m && v && (is64 ? `${v} = xchg_64(${m}, ${v})` : `${v} = xchg32_32(${m}, ${v})`));
      if (opHi === 0xf0) {
        return ok(m && v && (is64 ? `r0 = cmpxchg_64(${m}, r0, ${v})` : `w0 = cmpxchg32_32(${m}, w0, ${v})`));
      }
      return undefined;
    }
  }
  return undefined;
}

/**
 * The text llvm-objdump prints for the instruction at slot i (no address, bytes or branch
 * annotation); `<unknown>` when LLVM cannot decode it.
 */
export function formatInsnLlvm(insns: readonly Insn[], i: number, opts: LlvmDisasmOptions = {}): string {
  const d = decodeLlvm(insns[i], insns[i + 1]?.imm, opts);
  return d === undefined || d === 'short' ? '<unknown>' : d.text;
}

function readSlot(bytes: Uint8Array, p: number): Slot {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    code: bytes[p], dst: bytes[p + 1] & 0xf, src: bytes[p + 1] >> 4,
    off: view.getInt16(p + 2, true), imm: view.getInt32(p + 4, true),
  };
}

const hexByte = (b: number): string => b.toString(16).padStart(2, '0');

interface SortedSym { name: string; addr: number; type: number } // type: 0 notype, 1 object, 2 func

function compareSyms(a: SortedSym, b: SortedSym): number {
  if (a.addr !== b.addr) return a.addr - b.addr;
  if (a.name !== b.name) return a.name < b.name ? -1 : 1; // byte order for ASCII names
  return a.type - b.type;
}

function symType(s: ObjdumpSymbol): number {
  return s.isObject ? 1 : s.isFunction ? 2 : 0;
}

/** dumpELFData(): a chunk headed only by object symbols, 8 bytes a line with ASCII. */
function dumpElfData(bytes: Uint8Array, start: number, end: number, out: string[]): void {
  for (let p = start; p < end; p += 8) {
    const n = Math.min(8, end - p);
    let line = `${p.toString(16).padStart(8)}:`;
    let ascii = '';
    for (let k = 0; k < n; k++) {
      const b = bytes[p + k];
      line += ` ${hexByte(b)}`;
      ascii += b >= 0x20 && b <= 0x7e ? String.fromCharCode(b) : '.';
    }
    out.push(`${line}${' '.repeat(3 * (8 - n))}         ${ascii}\n`);
  }
}

/** One section's block of `llvm-objdump -d` output (from `\nDisassembly of section` on). */
export function objdumpSection(section: ObjdumpSectionInput, opts: LlvmDisasmOptions = {}): string {
  const { bytes } = section;
  if (section.executable === false || bytes.length === 0) return '';
  const syms: SortedSym[] = section.symbols
    .filter((s) => s.name !== '')
    .map((s) => ({ name: s.name, addr: s.offset, type: symType(s) }))
    .sort(compareSyms);
  if (!syms.some((s) => s.addr === 0)) {
    const dummy = { name: section.name, addr: 0, type: 2 };
    let at = syms.findIndex((s) => compareSyms(s, dummy) >= 0);
    if (at < 0) at = syms.length;
    syms.splice(at, 0, dummy);
  }
  const out: string[] = [];
  let printedSection = false;
  for (let si = 0; si < syms.length;) {
    const first = si;
    const start = syms[si].addr;
    while (si < syms.length && syms[si].addr === start) si++;
    const here = syms.slice(first, si);
    let asData = true;
    let display = here.length - 1;
    here.forEach((s, k) => {
      if (s.type !== 1) { asData = false; display = k; }
    });
    let end = bytes.length;
    if (si < syms.length) end = Math.min(end, syms[si].addr);
    if (start >= end) continue;
    if (!printedSection) {
      printedSection = true;
      out.push(`\nDisassembly of section ${section.name}:\n`);
    }
    out.push(`\n${start.toString(16).padStart(16, '0')} <${here[display].name}>:\n`);
    if (asData) {
      dumpElfData(bytes, start, end, out);
      continue;
    }
    let index = start;
    while (index < end) {
      let zeros = 0;
      while (index + zeros < end && bytes[index + zeros] === 0) zeros++;
      if (zeros >= 8) {
        out.push('\t\t...\n');
        index += zeros & ~3;
        continue;
      }
      const avail = end - index;
      let size: number;
      let text: string;
      let branch: number | undefined;
      if (avail < 8) {
        size = 1;
        text = '<unknown>';
      } else {
        const d = decodeLlvm(readSlot(bytes, index), avail >= 16 ? readSlot(bytes, index + 8).imm : undefined, opts);
        if (d === 'short') { size = 1; text = '<unknown>'; } else if (d === undefined) { size = 8; text = '<unknown>'; } else {
          size = d.size; text = d.text; branch = d.branch;
        }
      }
      const raw = Array.from(bytes.subarray(index, index + size), hexByte).join(' ');
      let line = `${String(Math.floor(index / 8)).padStart(8)}:\t${raw}\t${text}`;
      if (branch !== undefined) line += ` <${branchLabel(syms, index, branch)}>`;
      out.push(line + '\n');
      index += size;
    }
  }
  return out.join('');
}

/** evaluateBranch() + the symbol lookup of disassembleObject(): target = addr + 8 + 8*imm mod 2^64. */
function branchLabel(syms: readonly SortedSym[], addr: number, disp: number): string {
  const target = BigInt.asUintN(64, BigInt(addr) + 8n + BigInt(disp) * 8n);
  let best: SortedSym | undefined;
  for (const s of syms) {
    if (BigInt(s.addr) <= target) best = s; else break;
  }
  if (!best) return '';
  const d = target - BigInt(best.addr);
  return d === 0n ? best.name : `${best.name}+0x${d.toString(16)}`;
}

/** The whole `llvm-objdump-19 -d FILE` output for an ELF64 BPF object. */
export function objdumpFile(fileName: string, sections: readonly ObjdumpSectionInput[], opts: LlvmDisasmOptions = {}): string {
  return `\n${fileName}:\tfile format elf64-bpf\n${sections.map((s) => objdumpSection(s, opts)).join('')}`;
}

/** `llvm-objdump -d` of what an assembler produced (code sections, their non-section symbols). */
export function objdumpUnit(fileName: string, unit: AsmUnit, opts: LlvmDisasmOptions = {}): string {
  return objdumpFile(fileName, unit.sections.filter((s) => s.executable).map((s) => ({
    name: s.name,
    bytes: encodeProgram(s.insns),
    symbols: s.symbols.filter((y) => y.type !== 'section')
      .map((y) => ({ name: y.name, offset: y.offset, isFunction: y.type === 'func', isObject: y.type === 'object' })),
  })), opts);
}
