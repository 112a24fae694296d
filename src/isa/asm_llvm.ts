/*
 * The LLVM-syntax assembler: what `llvm-mc -triple bpfel -mcpu=v4 -filetype=obj` accepts, to an
 * AsmUnit (sections, symbols, relocations) with the same bytes llvm-mc writes.
 *
 * Two passes. The first reads statements (labels, directives, instructions), fixes every
 * instruction's size (16 for ld_imm64, else 8) and places labels; the second encodes with all
 * labels known. Relocations follow llvm-mc's ELF writer: references to local symbols (including
 * `.L` temporaries) go through the section symbol with the offset folded into the addend, which
 * for BPF's REL relocations lives in the instruction's imm; globals and externs are referenced by
 * name. Calls to a local function in the same section are resolved in place (src 1, imm = slot
 * displacement); other calls get R_BPF_64_32 with imm -1 (or the callee's slot - 1 through the
 * section symbol). Jumps must land in their own section (llvm-mc crashes otherwise; we report).
 *
 * Deliberate differences from llvm-mc: a 32-bit immediate outside -2^31..2^32-1 is an error (llvm-mc
 * truncates silently), `gotol` takes any 32-bit constant (llvm-mc 19: 16-bit only), jumps to global
 * labels resolve (llvm-mc crashes), and mismatched tied registers (`r1 = bswap16 r2`,
 * `r1 = atomic_fetch_add(..., r2)`) are errors (llvm-mc crashes). Not done: the sections llvm-mc
 * synthesizes from `.loc`/`.file` and `.cfi_*` (.debug_line, .debug_line_str, .debug_frame); those
 * directives are accepted and ignored.
 */
import { parseError } from '../errors.js';
import type { AsmRelocation, AsmRelocationType, AsmSection, AsmSymbol, AsmSymbolType, AsmUnit } from './asm_unit.js';
import { decodeSlots } from './insn.js';
import { Cursor, evalExpr, lexSource, parseExpr } from './llvm_lex.js';
import type { Expr, LabelInfo, Tok, Value } from './llvm_lex.js';
import { matchInstruction, parseOperands } from './llvm_insn.js';
import type { EncodeContext, Matched } from './llvm_insn.js';

interface Sec {
  name: string;
  executable: boolean;
  writable: boolean;
  /** SHF_ALLOC (for the choice between R_BPF_64_ABS32 and R_BPF_64_NODYLD32). */
  alloc: boolean;
  bytes: number[];
  explicit: boolean;
  relocations: AsmRelocation[];
  sectionSymbol: boolean;
  /** Line of the last statement that emitted into the section (for size errors). */
  lastLine: number;
}

interface Label extends LabelInfo { line: number; col: number }

interface PendingInsn { sec: Sec; offset: number; matched: Matched; line: number }
interface PendingData { sec: Sec; offset: number; width: number; expr: Expr; line: number }
interface PendingSize { name: string; expr: Expr; line: number; col: number }

const isTemp = (name: string): boolean => name.startsWith('.L');

interface SecFlags { executable: boolean; writable: boolean; alloc: boolean }

function flagsFromName(name: string): SecFlags {
  if (name === '.text' || name.startsWith('.text.')) return { executable: true, writable: false, alloc: true };
  if (/^\.(data|bss|tdata|tbss)(\.|$)/.test(name)) return { executable: false, writable: true, alloc: true };
  if (/^\.rodata(\.|$)/.test(name)) return { executable: false, writable: false, alloc: true };
  return { executable: false, writable: false, alloc: false };
}

/** Assemble LLVM BPF assembly (as llvm-mc -triple bpfel -mcpu=v4). Errors: BpfError "file:line:col: ...". */
export function assembleLlvm(source: string, fileName?: string): AsmUnit {
  const file = fileName;
  const fail = (msg: string, line: number, col: number): never => { throw parseError(msg, line, col, file); };
  const sections = new Map<string, Sec>();
  const order: Sec[] = [];
  const getSection = (name: string, flags?: SecFlags): Sec => {
    let s = sections.get(name);
    if (!s) {
      const f = flags ?? flagsFromName(name);
      s = { name, ...f, bytes: [], explicit: false, relocations: [], sectionSymbol: false, lastLine: 1 };
      sections.set(name, s);
      order.push(s);
    }
    return s;
  };
  let cur = getSection('.text');
  let prev = cur;
  const stack: Sec[] = [];
  const switchTo = (s: Sec): void => { prev = cur; cur = s; s.explicit = true; };

  const labels = new Map<string, Label>();
  const globals = new Set<string>();
  const types = new Map<string, AsmSymbolType>();
  const sizes: PendingSize[] = [];
  const insns: PendingInsn[] = [];
  const datas: PendingData[] = [];

  for (const { line, tokens } of lexSource(source, file)) {
    const c = new Cursor(tokens, line, file);
    // labels
    while (c.peek()?.kind === 'ident' && c.isPunct(':', 1) && !/^[rw]\d+$/.test(c.peek()!.text)) {
      const t = c.next()!;
      c.next();
      if (labels.has(t.text)) fail(`symbol '${t.text}' is already defined`, line, t.col);
      labels.set(t.text, { section: cur.name, offset: cur.bytes.length, line, col: t.col });
    }
    if (c.atEnd()) continue;
    const first = c.peek()!;
    cur.lastLine = line;
    const dot = (): { section: string; offset: number } => ({ section: cur.name, offset: cur.bytes.length });
    if (first.kind === 'ident' && first.text.startsWith('.') && !c.isPunct('=', 1)) {
      c.next();
      directive(first, c);
      continue;
    }
    const ops = parseOperands(c, dot);
    const matched = matchInstruction(ops, (m, col) => fail(m, line, col));
    insns.push({ sec: cur, offset: cur.bytes.length, matched, line });
    for (let k = 0; k < matched.size; k++) cur.bytes.push(0);
  }

  function constant(c: Cursor, what = 'expected absolute expression'): bigint {
    const col = c.col();
    const e = parseExpr(c, () => ({ section: cur.name, offset: cur.bytes.length }));
    const v = evalExpr(e, (n) => labels.get(n) ?? (sections.has(n) ? { section: n, offset: 0 } : undefined), (m, at) => fail(m, c.line, at));
    if (v.sym) fail(what, c.line, col);
    return v.v;
  }

  function symbolName(c: Cursor): Tok {
    const t = c.next();
    if (!t || (t.kind !== 'ident' && t.kind !== 'string')) return c.fail('expected identifier in directive');
    return t.kind === 'string' ? { ...t, text: String.fromCharCode(...(t.bytes ?? [])) } : t;
  }

  function endOfStatement(c: Cursor): void {
    if (!c.atEnd()) c.fail('unexpected token in directive');
  }

  /** Pad to a multiple of `bytes`; code without a fill value gets BPFAsmBackend::writeNopData()'s nops. */
  function align(bytes: number, fill: number | undefined, c: Cursor): void {
    if (bytes <= 1) return;
    const pad = (bytes - (cur.bytes.length % bytes)) % bytes;
    if (fill === undefined && cur.executable) {
      if (pad % 8 !== 0) c.fail(`unable to write nop sequence of ${pad} bytes`);
      for (let k = 0; k < pad; k += 8) cur.bytes.push(0, 0, 0, 0x15, 0, 0, 0, 0);
      return;
    }
    for (let k = 0; k < pad; k++) cur.bytes.push((fill ?? 0) & 0xff);
  }

  function emitData(c: Cursor, width: number): void {
    for (;;) {
      const e = parseExpr(c, () => ({ section: cur.name, offset: cur.bytes.length }));
      datas.push({ sec: cur, offset: cur.bytes.length, width, expr: e, line: c.line });
      for (let k = 0; k < width; k++) cur.bytes.push(0);
      if (c.atEnd()) break;
      if (!c.isPunct(',')) c.fail('unexpected token in directive');
      c.next();
    }
  }

  function directive(d: Tok, c: Cursor): void {
    const name = d.text.toLowerCase();
    switch (name) {
      case '.text': case '.data': case '.bss':
        switchTo(getSection(name));
        return endOfStatement(c);
      case '.section': case '.pushsection': {
        // section name: identifier-ish tokens up to ',' (e.g. .rodata.str1.1, license, "name")
        let secName = '';
        const t0 = c.peek();
        if (t0?.kind === 'string') { c.next(); secName = String.fromCharCode(...(t0.bytes ?? [])); } else {
          while (!c.atEnd() && !c.isPunct(',')) secName += c.next()!.text;
        }
        if (!secName) c.fail('expected identifier in directive');
        let flags: SecFlags | undefined;
        if (c.isPunct(',')) {
          c.next();
          const f = c.next();
          if (f?.kind !== 'string') c.fail("expected string in directive");
          const fl = String.fromCharCode(...(f!.bytes ?? []));
          flags = { executable: fl.includes('x'), writable: fl.includes('w'), alloc: fl.includes('a') };
          while (!c.atEnd()) c.next(); // ,@progbits[,entsize]: no effect on what we produce
        }
        if (name === '.pushsection') stack.push(cur);
        const s = getSection(secName, flags);
        if (flags && !s.explicit && s.bytes.length === 0) Object.assign(s, flags);
        switchTo(s);
        return;
      }
      case '.popsection': {
        const s = stack.pop();
        if (!s) c.fail('.popsection without corresponding .pushsection', d.col);
        switchTo(s!);
        return;
      }
      case '.previous': { const p = prev; switchTo(p); return; }
      case '.globl': case '.global': case '.weak':
        for (;;) {
          globals.add(symbolName(c).text);
          if (!c.isPunct(',')) break;
          c.next();
        }
        return endOfStatement(c);
      case '.local': case '.hidden': case '.protected': case '.internal':
        while (!c.atEnd()) c.next();
        return;
      case '.type': {
        const sym = symbolName(c).text;
        if (c.isPunct(',')) c.next();
        if (c.isPunct('@') || c.isPunct('%')) c.next();
        const t = c.next();
        const kind = t?.kind === 'ident' || t?.kind === 'string' ? t.text.replace(/"/g, '') : '';
        const map: Record<string, AsmSymbolType> = {
          function: 'func', STT_FUNC: 'func', object: 'object', STT_OBJECT: 'object', notype: 'notype', STT_NOTYPE: 'notype',
          tls_object: 'object', common: 'object', gnu_unique_object: 'object',
        };
        if (!(kind in map)) c.fail(`unsupported attribute in '.type' directive`, t?.col ?? c.col());
        types.set(sym, map[kind]);
        return endOfStatement(c);
      }
      case '.size': {
        const t = symbolName(c);
        if (!c.isPunct(',')) c.fail("expected comma in '.size' directive");
        c.next();
        const col = c.col();
        const here = { section: cur.name, offset: cur.bytes.length };
        sizes.push({ name: t.text, expr: parseExpr(c, () => here), line: c.line, col });
        return endOfStatement(c);
      }
      case '.p2align': case '.p2alignw': case '.p2alignl': case '.balign': case '.align': {
        const n = Number(constant(c));
        let fill: number | undefined;
        if (c.isPunct(',')) { c.next(); if (!c.isPunct(',') && !c.atEnd()) fill = Number(constant(c)); }
        if (c.isPunct(',')) { c.next(); constant(c); }
        align(name.startsWith('.p2align') ? 2 ** n : n, fill, c);
        return endOfStatement(c);
      }
      case '.byte': return emitData(c, 1);
      case '.short': case '.hword': case '.2byte': case '.value': return emitData(c, 2);
      case '.long': case '.int': case '.4byte': return emitData(c, 4);
      case '.quad': case '.8byte': return emitData(c, 8);
      case '.uleb128': case '.sleb128': {
        // Sized now, so only constants and labels already placed (DWARF's backward differences).
        for (;;) {
          const col = c.col();
          const e = parseExpr(c, () => ({ section: cur.name, offset: cur.bytes.length }));
          const v = evalExpr(e, (n) => labels.get(n) ?? (sections.has(n) ? { section: n, offset: 0 } : undefined), (m, at) => fail(m, c.line, at));
          if (v.sym) fail(`'${name}' needs a constant or a difference of labels defined before it`, c.line, col);
          cur.bytes.push(...leb128(v.v, name === '.sleb128'));
          if (c.atEnd()) break;
          if (!c.isPunct(',')) c.fail('unexpected token in directive');
          c.next();
        }
        return;
      }
      case '.ascii': case '.asciz': case '.string': {
        for (;;) {
          const t = c.next();
          if (t?.kind !== 'string') c.fail('expected string in directive');
          cur.bytes.push(...(t!.bytes ?? []));
          if (name !== '.ascii') cur.bytes.push(0);
          if (!c.isPunct(',')) break;
          c.next();
        }
        return endOfStatement(c);
      }
      case '.zero': case '.space': case '.skip': {
        const n = constant(c);
        let fill = 0;
        if (c.isPunct(',')) { c.next(); fill = Number(constant(c)); }
        if (n < 0n) c.fail(`'${name}' directive with negative repeat count has no effect`, d.col);
        for (let k = 0n; k < n; k++) cur.bytes.push(fill & 0xff);
        return endOfStatement(c);
      }
      case '.file': case '.addrsig': case '.addrsig_sym': case '.ident': case '.loc': case '.cfi_sections':
      case '.cfi_startproc': case '.cfi_endproc': case '.section_end':
        while (!c.atEnd()) c.next();
        return;
    }
    if (name.startsWith('.cfi_')) { while (!c.atEnd()) c.next(); return; }
    c.fail(`unknown directive '${d.text}'`, d.col);
  }

  // ---- pass 2: encode ----
  // A section's name also names its start (MC's section begin symbol), e.g. `.long .debug_abbrev`.
  const labelOf = (n: string): LabelInfo | undefined =>
    labels.get(n) ?? (sections.has(n) ? { section: n, offset: 0 } : undefined);
  const isLocalDefined = (n: string): boolean => labels.has(n) && !globals.has(n);
  const sectionSymbolFor = (secName: string): string => {
    sections.get(secName)!.sectionSymbol = true;
    return secName;
  };
  /** Symbol and addend to relocate against, llvm-mc style. */
  const relocTarget = (v: Value): { symbol: string; addend: bigint } => {
    const sym = v.sym!;
    if (sym.startsWith('\0dot:')) return { symbol: sectionSymbolFor(sym.slice(5)), addend: v.v };
    if (isLocalDefined(sym) || (!labels.has(sym) && sections.has(sym))) {
      const l = labelOf(sym)!;
      return { symbol: sectionSymbolFor(l.section), addend: BigInt(l.offset) + v.v };
    }
    return { symbol: sym, addend: v.v };
  };

  for (const p of insns) {
    const failAt = (m: string, col: number): never => fail(m, p.line, col);
    const ev = (x: Expr): Value => evalExpr(x, labelOf, failAt);
    const addReloc = (type: AsmRelocationType, symbol: string): void => {
      p.sec.relocations.push({ offset: p.offset, type, symbol });
    };
    const ctx: EncodeContext = {
      imm32(x) {
        const v = ev(x);
        if (v.sym) failAt('expected a constant expression', v.symCol ?? x.col);
        if (v.v < -(1n << 31n) || v.v >= 1n << 32n) failAt('immediate out of range (32 bits)', x.col);
        return Number(BigInt.asIntN(32, v.v));
      },
      uconst(x, bits) {
        const v = ev(x);
        if (v.sym) failAt('expected a constant expression', v.symCol ?? x.col);
        if (v.v < 0n || v.v >= 1n << BigInt(bits)) failAt(`immediate out of range (${bits} bits unsigned)`, x.col);
        return Number(v.v);
      },
      imm64(x) {
        const v = ev(x);
        if (!v.sym) {
          if (v.v < -(1n << 63n) || v.v >= 1n << 64n) failAt('immediate out of range (64 bits)', x.col);
          return BigInt.asUintN(64, v.v);
        }
        const t = relocTarget(v);
        addReloc('R_BPF_64_64', t.symbol);
        return BigInt.asUintN(32, t.addend);
      },
      branch(x, bits) {
        const v = ev(x);
        let disp: bigint;
        if (!v.sym) disp = v.v;
        else {
          const l = labels.get(v.sym);
          if (!l) failAt(`unknown label '${v.sym}'`, v.symCol ?? x.col);
          if (l!.section !== p.sec.name) failAt(`jump target '${v.sym}' is in section '${l!.section}', not '${p.sec.name}'`, v.symCol ?? x.col);
          const delta = BigInt(l!.offset) + v.v - BigInt(p.offset) - 8n;
          if (delta % 8n !== 0n) failAt(`jump target '${v.sym}' is not at an instruction boundary`, v.symCol ?? x.col);
          disp = delta / 8n;
        }
        if (disp < -(1n << BigInt(bits - 1)) || disp >= 1n << BigInt(bits - 1)) failAt(`jump offset ${disp} out of range (${bits} bits)`, x.col);
        return Number(disp);
      },
      call(x) {
        const v = ev(x);
        if (!v.sym) {
          if (v.v < -(1n << 31n) || v.v >= 1n << 32n) failAt('immediate out of range (32 bits)', x.col);
          return { src: 0, imm: Number(BigInt.asIntN(32, v.v)) };
        }
        if (v.v !== 0n) failAt('call target must be a symbol or a constant', x.col);
        const l = labels.get(v.sym);
        if (l && !globals.has(v.sym) && l.section === p.sec.name) {
          const delta = BigInt(l.offset) - BigInt(p.offset) - 8n;
          if (delta % 8n !== 0n) failAt(`call target '${v.sym}' is not at an instruction boundary`, v.symCol ?? x.col);
          return { src: 1, imm: Number(delta / 8n) };
        }
        if (l && !globals.has(v.sym)) {
          addReloc('R_BPF_64_32', sectionSymbolFor(l.section));
          return { src: 1, imm: Math.floor(l.offset / 8) - 1 };
        }
        addReloc('R_BPF_64_32', v.sym);
        return { src: 1, imm: -1 };
      },
      fail: failAt,
    };
    const enc = p.matched.encode(ctx);
    const slot = (o: number, code: number, dst: number, src: number, off: number, imm: number): void => {
      const b = p.sec.bytes;
      b[o] = code;
      b[o + 1] = ((src & 0xf) << 4) | (dst & 0xf);
      b[o + 2] = off & 0xff;
      b[o + 3] = (off >> 8) & 0xff;
      for (let k = 0; k < 4; k++) b[o + 4 + k] = (imm >>> (8 * k)) & 0xff;
    };
    slot(p.offset, enc.code, enc.dst, enc.src, enc.off, enc.imm);
    if (p.matched.size === 16) slot(p.offset + 8, 0, 0, 0, 0, enc.hi ?? 0);
  }

  /**
   * As BPFELFObjectWriter::getRelocType() for FK_Data_4: .BTF.ext's temporary labels in code and
   * .BTF's variables in writable data get R_BPF_64_NODYLD32 (the loader must not patch them).
   */
  const abs32Type = (sym: string): AsmRelocationType => {
    const l = sym.startsWith('\0dot:') ? { section: sym.slice(5) } : labelOf(sym);
    if (!l) return 'R_BPF_64_ABS32';
    const s = sections.get(l.section)!;
    if (isTemp(sym) || sym.startsWith('\0dot:') || !labels.has(sym)) return s.alloc && s.executable ? 'R_BPF_64_NODYLD32' : 'R_BPF_64_ABS32';
    return s.alloc && s.writable ? 'R_BPF_64_NODYLD32' : 'R_BPF_64_ABS32';
  };

  for (const d of datas) {
    const v = evalExpr(d.expr, labelOf, (m, col) => fail(m, d.line, col));
    let value = v.v;
    if (v.sym) {
      if (d.width !== 4 && d.width !== 8) fail(`a ${d.width}-byte value cannot refer to a symbol`, d.line, v.symCol ?? d.expr.col);
      const t = relocTarget(v);
      d.sec.relocations.push({ offset: d.offset, type: d.width === 8 ? 'R_BPF_64_ABS64' : abs32Type(v.sym!), symbol: t.symbol });
      value = t.addend;
    } else if (value < -(1n << BigInt(8 * d.width - 1)) || value >= 1n << BigInt(8 * d.width)) {
      fail(`out of range literal value`, d.line, d.expr.col);
    }
    const u = BigInt.asUintN(8 * d.width, value);
    for (let k = 0; k < d.width; k++) d.sec.bytes[d.offset + k] = Number((u >> BigInt(8 * k)) & 0xffn);
  }

  const sizeOf = new Map<string, number>();
  for (const s of sizes) {
    const v = evalExpr(s.expr, labelOf, (m, col) => fail(m, s.line, col));
    if (v.sym) fail('expected absolute expression', s.line, s.col);
    sizeOf.set(s.name, Number(v.v));
  }

  // ---- output ----
  const out: AsmSection[] = [];
  for (const s of order) {
    const syms: AsmSymbol[] = [];
    if (s.sectionSymbol) syms.push({ name: s.name, offset: 0, global: false, type: 'section' });
    for (const [name, l] of labels) {
      if (l.section !== s.name || isTemp(name)) continue;
      const sym: AsmSymbol = { name, offset: l.offset, global: globals.has(name), type: types.get(name) ?? 'notype' };
      const size = sizeOf.get(name);
      if (size !== undefined) sym.size = size;
      syms.push(sym);
    }
    if (s.name === '.text' && s.bytes.length === 0 && syms.length === 0 && s.relocations.length === 0) continue;
    const bytes = Uint8Array.from(s.bytes);
    let insnList: ReturnType<typeof decodeSlots> = [];
    let data = bytes;
    if (s.executable) {
      if (bytes.length % 8 !== 0) {
        fail(`code section '${s.name}' is ${bytes.length} bytes, not a multiple of 8`, s.lastLine, 1);
      }
      insnList = decodeSlots(bytes);
      data = new Uint8Array(0);
    }
    out.push({
      name: s.name, executable: s.executable, writable: s.writable, insns: insnList, data,
      symbols: syms, relocations: s.relocations.sort((a, b) => a.offset - b.offset),
    });
  }
  return { sections: out };
}

/** The bytes of a section of an AsmUnit (instructions encoded for code sections). */
export function asmSectionBytes(s: AsmSection): Uint8Array {
  if (!s.executable) return s.data;
  const out = new Uint8Array(s.insns.length * 8);
  const view = new DataView(out.buffer);
  s.insns.forEach((insn, i) => {
    out[i * 8] = insn.code;
    out[i * 8 + 1] = ((insn.src & 0xf) << 4) | (insn.dst & 0xf);
    view.setInt16(i * 8 + 2, insn.off, true);
    view.setInt32(i * 8 + 4, insn.imm, true);
  });
  return out;
}

function leb128(value: bigint, signed: boolean): number[] {
  const out: number[] = [];
  let v = signed ? value : BigInt.asUintN(64, value);
  for (;;) {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    const done = signed ? (v === 0n && (byte & 0x40) === 0) || (v === -1n && (byte & 0x40) !== 0) : v === 0n;
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}
