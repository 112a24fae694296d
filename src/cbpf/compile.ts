/*
 * A classic filter compiled to a JavaScript function, for the per-packet hot loop of
 * `tcpdump -r -w` style filtering: the same results as runCbpf() without metadata (libpcap's
 * bpf_filter semantics), about an order of magnitude faster because constants, jump targets and
 * bounds are baked in and V8 optimises the function as a whole.
 *
 * Programs that only jump forward (all of libpcap's but protochain) become nested labelled blocks,
 * a jump to instruction t being `break Lt` out of the block that ends just before t. Others become
 * one `switch (pc)` inside a loop, one case per jump target; straight-line code falls through,
 * jumps set pc and continue. Where `new Function` is not allowed (a
 * strict Content-Security-Policy) compileCbpf() returns a closure over the interpreter.
 */
import { type CInsn } from './insn.js';
import { MAX_BACKWARD_JUMPS, type PreparedCbpf, cbpfRuns, prepareCbpf, runCbpf } from './interp.js';

/** A compiled filter: packet bytes and wire length in, return value (unsigned 32-bit) out. */
export type CbpfFilterFn = (packet: Uint8Array, wireLen: number) => number;

const compiled = new WeakMap<readonly CInsn[], CbpfFilterFn>();

/**
 * JavaScript source of the filter function's body: parameters `p` (the packet) and `len`; or,
 * with `atOffset` (jsc.ts), `p`, `b`, `n`, `len`: the packet is p[b, b + n) of a larger buffer.
 * `inline` (with atOffset; jsc.ts' cbpfInlineAt()): statements for a caller's loop instead, in a
 * block labelled `filter` that leaves the result in the caller's `verdict` (`break filter`) and
 * loads 16 and 32 bits through the caller's DataView `dv` over p's bytes (one load, not 2 or 4).
 */
export function cbpfToJs(prog: readonly CInsn[], atOffset = false, inline = false): string {
  const n = prog.length;
  const B = atOffset ? 'b + ' : '';
  const out: string[] = [];
  const used = new Set<number>();
  const body: string[] = [];
  const ret = (value: string | number): string => (inline ? `{ verdict = ${value}; break filter; }` : `return ${value};`);
  const reject = ret(0);
  const goto = (t: number): string => (t >= n ? reject : `pc = ${t}; continue;`);
  for (let i = 0; i < n; i++) {
    const { code, jt, jf } = prog[i];
    const k = prog[i].k >>> 0;
    const ks = k | 0;
    const load = (size: number, at: string): string => (inline && size > 1
      ? `A = dv.${size === 4 ? 'getInt32' : 'getUint16'}(${B}${at});`
      : size === 4 ? `A = (p[${B}${at}] << 24) | (p[${B}${at} + 1] << 16) | (p[${B}${at} + 2] << 8) | p[${B}${at} + 3];`
        : size === 2 ? `A = (p[${B}${at}] << 8) | p[${B}${at} + 1];` : `A = p[${B}${at}];`);
    let s: string;
    const sizes: Record<number, number> = { 0x00: 4, 0x08: 2, 0x10: 1 };
    switch (code) {
      case 0x06: s = ret(k); break;
      case 0x16: s = ret('A >>> 0'); break;
      case 0x20: case 0x28: case 0x30: {
        const size = sizes[code & 0x18];
        s = `if (${k + size} > n) ${reject} ${load(size, String(k))}`;
        break;
      }
      case 0x40: case 0x48: case 0x50: {
        const size = sizes[code & 0x18];
        s = `o = (X >>> 0) + ${k}; if (o + ${size} > n) ${reject} ${load(size, 'o')}`;
        break;
      }
      case 0xb1: s = `if (${k} >= n) ${reject} X = (p[${B}${k}] & 15) << 2;`; break;
      case 0x80: s = 'A = len | 0;'; break;
      case 0x81: s = 'X = len | 0;'; break;
      case 0x00: s = `A = ${ks};`; break;
      case 0x01: s = `X = ${ks};`; break;
      case 0x60: s = k < 16 ? `A = m${k};` : reject; break;
      case 0x61: s = k < 16 ? `X = m${k};` : reject; break;
      case 0x02: s = k < 16 ? `m${k} = A;` : reject; break;
      case 0x03: s = k < 16 ? `m${k} = X;` : reject; break;
      case 0x05: {
        const t = (i + 1 + k) >>> 0;
        if (t >= n || ks === -1) s = reject;
        else if (ks < 0) { s = `if (back++ >= ${MAX_BACKWARD_JUMPS}) ${reject} ${goto(t)}`; used.add(t); }
        else { s = goto(t); used.add(t); }
        break;
      }
      case 0x15: case 0x25: case 0x35: case 0x45: case 0x1d: case 0x2d: case 0x3d: case 0x4d: {
        const rhs = code & 0x08 ? 'X' : String(ks);
        const cond = (code & 0xf0) === 0x10 ? `A === ${rhs}`
          : (code & 0xf0) === 0x40 ? `(A & ${rhs}) !== 0`
            : `(A >>> 0) ${(code & 0xf0) === 0x20 ? '>' : '>='} ${code & 0x08 ? 'X >>> 0' : String(k)}`;
        const t = i + 1 + jt;
        const f = i + 1 + jf;
        if (t < n) used.add(t);
        if (f < n) used.add(f);
        s = `if (${cond}) { ${goto(t)} } ${goto(f)}`;
        break;
      }
      case 0x0c: s = 'A = (A + X) | 0;'; break;
      case 0x1c: s = 'A = (A - X) | 0;'; break;
      case 0x2c: s = 'A = Math.imul(A, X);'; break;
      case 0x3c: s = `if (X === 0) ${reject} A = ((A >>> 0) / (X >>> 0)) | 0;`; break;
      case 0x9c: s = `if (X === 0) ${reject} A = ((A >>> 0) % (X >>> 0)) | 0;`; break;
      case 0x5c: s = 'A &= X;'; break;
      case 0x4c: s = 'A |= X;'; break;
      case 0xac: s = 'A ^= X;'; break;
      case 0x6c: s = 'A = (X >>> 0) < 32 ? A << X : 0;'; break;
      case 0x7c: s = 'A = (X >>> 0) < 32 ? (A >>> X) | 0 : 0;'; break;
      case 0x04: s = `A = (A + ${ks}) | 0;`; break;
      case 0x14: s = `A = (A - ${ks}) | 0;`; break;
      case 0x24: s = `A = Math.imul(A, ${ks});`; break;
      case 0x34: s = k === 0 ? reject : `A = ((A >>> 0) / ${k}) | 0;`; break;
      case 0x94: s = k === 0 ? reject : `A = ((A >>> 0) % ${k}) | 0;`; break;
      case 0x54: s = `A &= ${ks};`; break;
      case 0x44: s = `A |= ${ks};`; break;
      case 0xa4: s = `A ^= ${ks};`; break;
      case 0x64: s = k < 32 ? `A <<= ${k};` : 'A = 0;'; break;
      case 0x74: s = k < 32 ? `A = (A >>> ${k}) | 0;` : 'A = 0;'; break;
      case 0x84: s = 'A = -A | 0;'; break;
      case 0x07: s = 'X = A;'; break;
      case 0x87: s = 'A = X;'; break;
      default: s = reject;
    }
    body.push(s);
  }
  out.push(`${atOffset ? '' : 'const n = p.length; '}let A = 0, X = 0, o = 0, pc = 0, back = 0;`);
  out.push(`let ${Array.from({ length: 16 }, (_, i) => `m${i} = 0`).join(', ')};`);
  const forwardOnly = prog.every((insn, i) => insn.code !== 0x05 || ((insn.k | 0) >= 0 && i + 1 + (insn.k >>> 0) < n));
  if (used.size === 0) {
    // no jumps: straight-line code
    out.push(...body, reject);
  } else if (forwardOnly) {
    // only forward jumps: nested labelled blocks, `break Lt` lands just before instruction t,
    // so there is no dispatch at all
    const targets = [...used].sort((a, b) => b - a);
    for (const t of targets) out.push(`L${t}: {`);
    body.forEach((stmt, i) => {
      if (used.has(i)) out.push('}');
      out.push(stmt.replace(/pc = (\d+); continue;/g, 'break L$1;'));
    });
    out.push(reject);
  } else {
    out.push('for (;;) switch (pc) {');
    body.forEach((stmt, i) => out.push(`${i === 0 || used.has(i) ? `case ${i}: ` : ''}${stmt}`));
    out.push(`default: ${reject}`, '}');
  }
  return inline ? `filter: {\n${out.join('\n')}\n}` : out.join('\n');
}

/**
 * The function `compile` builds for `prog`, cached per program array in `cache`: an empty or
 * oversized program rejects everything; where `new Function` is refused (a strict
 * Content-Security-Policy), `interpreted` wraps the interpreter instead.
 */
export function cachedFilter<F>(
  cache: WeakMap<readonly CInsn[], F>, prog: readonly CInsn[], compile: () => F, reject: F, interpreted: (p: PreparedCbpf) => F,
): F {
  let fn = cache.get(prog);
  if (fn !== undefined) return fn;
  if (!cbpfRuns(prog.length)) {
    fn = reject;
  } else {
    try {
      fn = compile();
    } catch {
      fn = interpreted(prepareCbpf(prog));
    }
  }
  cache.set(prog, fn);
  return fn;
}

/** A fast filter function for `prog` (libpcap semantics, no metadata), cached per program array. */
export function compileCbpf(prog: readonly CInsn[]): CbpfFilterFn {
  return cachedFilter(compiled, prog, () => new Function('p', 'len', cbpfToJs(prog)) as CbpfFilterFn, () => 0,
    (prepared) => (p, len) => runCbpf(prepared, p, len));
}
