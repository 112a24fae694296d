/*
 * Shared by the isa_llvm_* tests: a generated corpus covering every opcode of OPCODES with varied
 * registers, offsets and immediates, in canonical encoding (fields LLVM ignores are zero), plus a
 * minimal ELF64 reader for llvm-mc's objects.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeInsn, makeLdImm64 } from '../src/isa/insn.js';
import type { Insn } from '../src/isa/insn.js';
import { OPCODES } from '../src/isa/opcodes.js';
import { findTool } from './oracles.js';

/** Deterministic PRNG (LCG) so failures reproduce. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
}

const IMMS = [0, 1, -1, 5, 0x7fffffff, -0x80000000, 0xffffffff | 0, 0x1234, -0x1234, 255, 0x10000];
const OFFS = [0, 1, -1, 8, -8, 0x7fff, -0x8000, 0x100, -512];

/**
 * Every opcode LLVM can print, several times, as a program (slot array) where every instruction
 * decodes canonically. Jumps stay inside the program.
 */
export function corpusProgram(seed = 1, perOpcode = 6): Insn[] {
  const r = rng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)];
  const reg = (): number => Math.floor(r() * 11);
  const out: Insn[] = [];
  const codes = OPCODES.map((o, i) => (o ? i : -1)).filter((i) => i >= 0);
  for (let round = 0; round < perOpcode; round++) {
    for (const code of codes) {
      const info = OPCODES[code]!;
      const imm = round === 0 ? 0 : pick(IMMS);
      const off = round === 0 ? 0 : pick(OFFS);
      const d = reg();
      const s = reg();
      const isJmp32 = (code & 7) === 6;
      switch (info.kind) {
        case 'alu': {
          const sOff = (info.op === 0x30 || info.op === 0x90) && r() < 0.5 ? 1 : 0;
          out.push(info.srcReg ? makeInsn(code, d, s, sOff, 0) : makeInsn(code, d, 0, sOff, imm));
          break;
        }
        case 'mov':
          if (!info.srcReg) out.push(makeInsn(code, d, 0, 0, imm));
          else {
            const offs = info.is64 ? [0, 8, 16, 32, 1] : [0, 8, 16];
            const o = pick(offs);
            out.push(makeInsn(code, d, s, o, o === 1 ? pick([1, 0x10000, 0x20003]) : 0));
          }
          break;
        case 'neg': out.push(makeInsn(code, d)); break;
        case 'end': out.push(makeInsn(code, d, 0, 0, pick([16, 32, 64]))); break;
        case 'ja': out.push(isJmp32 ? makeInsn(code, 0, 0, 0, pick([0, 1, -1, 2])) : makeInsn(code, 0, 0, pick([0, 1, -1, 2]))); break;
        case 'jcond':
          out.push(makeInsn(code, d, info.srcReg ? s : 0, pick([0, 1, -1, 3, -2]), info.srcReg ? 0 : imm));
          break;
        case 'may_goto': out.push(makeInsn(code, 0, 0, pick([0, 1, 2]))); break;
        case 'call': out.push(makeInsn(code, 0, 0, 0, pick([1, 5, 0x7fffffff, 212]))); break;
        case 'callx': out.push(makeInsn(code, d)); break;
        case 'exit': out.push(makeInsn(code)); break;
        case 'lddw': {
          const v = pick([0n, 1n, 0xffffffffn, 0x1122334455667788n, -1n, 0x8000000000000000n, 0x7fffffffffffffffn, 0x100000000n]);
          out.push(...makeLdImm64(d, v));
          break;
        }
        case 'ldabs': out.push(makeInsn(code, 0, 0, 0, imm)); break;
        case 'ldind': out.push(makeInsn(code, 0, s)); break;
        case 'ldx': case 'ldxsx': out.push(makeInsn(code, d, s, off)); break;
        case 'st': out.push(makeInsn(code, d, 0, off, imm)); break;
        case 'stx': out.push(makeInsn(code, d, s, off)); break;
        case 'atomic': {
          const ops = [0x00, 0x40, 0x50, 0xa0, 0x01, 0x41, 0x51, 0xa1, 0xe1, 0xf1];
          out.push(makeInsn(code, d, s, off, pick(ops)));
          break;
        }
      }
    }
  }
  out.push(makeInsn(0x95));
  return out;
}

// ---- minimal ELF64 reader ----

export interface ElfSection { name: string; type: number; flags: bigint; bytes: Uint8Array; index: number; link: number; info: number }
export interface ElfSymbol { name: string; value: number; size: number; type: number; bind: number; shndx: number }
export interface ElfObject {
  sections: ElfSection[];
  symbols: ElfSymbol[];
  /** Relocations by target section name: offset, type number, symbol name. */
  relocs: Map<string, { offset: number; type: number; symbol: string }[]>;
}

export function readElf(buf: Uint8Array): ElfObject {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const shoff = Number(v.getBigUint64(0x28, true));
  const shentsize = v.getUint16(0x3a, true);
  const shnum = v.getUint16(0x3c, true);
  const shstrndx = v.getUint16(0x3e, true);
  const raw: { nameOff: number; type: number; flags: bigint; offset: number; size: number; link: number; info: number }[] = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    raw.push({
      nameOff: v.getUint32(o, true), type: v.getUint32(o + 4, true), flags: v.getBigUint64(o + 8, true),
      offset: Number(v.getBigUint64(o + 24, true)), size: Number(v.getBigUint64(o + 32, true)),
      link: v.getUint32(o + 40, true), info: v.getUint32(o + 44, true),
    });
  }
  const str = (tab: number, off: number): string => {
    const base = raw[tab].offset + off;
    let end = base;
    while (buf[end] !== 0) end++;
    return new TextDecoder().decode(buf.subarray(base, end));
  };
  const sections: ElfSection[] = raw.map((s, index) => ({
    name: str(shstrndx, s.nameOff), type: s.type, flags: s.flags, index, link: s.link, info: s.info,
    bytes: s.type === 8 ? new Uint8Array(s.size) : Uint8Array.from(buf.subarray(s.offset, s.offset + s.size)),
  }));
  const symtab = raw.findIndex((s) => s.type === 2);
  const symbols: ElfSymbol[] = [];
  if (symtab >= 0) {
    const s = raw[symtab];
    for (let o = s.offset; o < s.offset + s.size; o += 24) {
      const info = buf[o + 4];
      const shndx = v.getUint16(o + 6, true);
      let name = str(s.link, v.getUint32(o, true));
      if ((info & 0xf) === 3) name = sections[shndx]?.name ?? name;
      symbols.push({
        name, value: Number(v.getBigUint64(o + 8, true)), size: Number(v.getBigUint64(o + 16, true)),
        type: info & 0xf, bind: info >> 4, shndx,
      });
    }
  }
  const relocs = new Map<string, { offset: number; type: number; symbol: string }[]>();
  raw.forEach((s) => {
    if (s.type !== 9) return;
    const list = [];
    for (let o = s.offset; o < s.offset + s.size; o += 16) {
      const infoR = v.getBigUint64(o + 8, true);
      list.push({ offset: Number(v.getBigUint64(o, true)), type: Number(infoR & 0xffffffffn), symbol: symbols[Number(infoR >> 32n)]?.name ?? '' });
    }
    relocs.set(sections[s.info].name, list);
  });
  return { sections, symbols, relocs };
}

/** Assemble with llvm-mc-19 and return the object's bytes. Throws with llvm-mc's stderr. */
export function llvmMcObject(source: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-llvm-'));
  try {
    writeFileSync(join(dir, 'x.s'), source);
    execFileSync(findTool('llvm-mc-19')!, ['-triple', 'bpfel', '-mcpu=v4', '-filetype=obj', join(dir, 'x.s'), '-o', join(dir, 'x.o')],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    return readFileSync(join(dir, 'x.o'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `llvm-objdump-19 -d [extra] FILE` on the given object bytes, saved as `name`. */
export function llvmObjdump(obj: Uint8Array, name: string, extra: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-llvm-'));
  try {
    writeFileSync(join(dir, name), obj);
    return execFileSync(findTool('llvm-objdump-19')!, ['-d', ...extra, name], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 28 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
