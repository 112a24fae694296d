/*
 * The random XDP program generator of kernel_xdp_diff.test.ts (LLVM assembly) and its packets,
 * shared with jit_kernel_diff.test.ts (a module of its own: importing a test file would run its
 * tests again in the importing file's process).
 */

/* ----------------------------------------------------------------------------------------- */
/* A small seeded PRNG (mulberry32)                                                           */

export class Rng {
  private s: number;
  constructor(seed: number) { this.s = seed >>> 0; }
  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  int(n: number): number { return this.u32() % n; }
  pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)]; }
  chance(p: number): boolean { return this.u32() / 0x1_0000_0000 < p; }
  imm(): number {
    switch (this.int(4)) {
      case 0: return this.int(16);
      case 1: return this.int(2001) - 1000;
      case 2: return this.u32() | 0;
      default: return this.pick([0, 1, -1, 0x7fffffff, -0x80000000, 0xff, 0xffff, 63, 64, 32]);
    }
  }
}

/* ----------------------------------------------------------------------------------------- */
/* The program generator                                                                       */

/** Scratch registers; r6 = ctx, r7 = data, r8 = data_end stay fixed. */
const REGS = [0, 1, 2, 3, 4, 5, 9];
const PACKET_MIN = 64; // the program checks data + 64 <= data_end first
const STACK_SLOTS = 8; // r10-8 .. r10-64, all initialised up front

const ALU_BIN = ['+=', '-=', '*=', '/=', '%=', '|=', '&=', '<<=', '>>=', '^=', 's>>=', '=', 's/=', 's%='];
const JMP_OPS = ['==', '!=', '>', '>=', '<', '<=', 's>', 's>=', 's<', 's<=', '&'];
const SIZES = [['u8', 1], ['u16', 2], ['u32', 4], ['u64', 8]] as const;

/** A random ALU operation on r0..r5 (both operands initialised), for subprogram bodies. */
function randomAlu(rng: Rng, regs: readonly number[], emit: (s: string) => void): void {
  const w = rng.chance(0.35);
  const d = rng.pick(regs);
  const s = rng.pick(regs);
  const r = (n: number): string => `${w ? 'w' : 'r'}${n}`;
  const op = rng.pick(ALU_BIN);
  if (rng.chance(0.5)) {
    emit(`${r(d)} ${op} ${r(s)}`);
    return;
  }
  let imm = rng.imm();
  if (op === '<<=' || op === '>>=' || op === 's>>=') imm = rng.int(w ? 32 : 64);
  if ((op === '/=' || op === '%=' || op === 's/=' || op === 's%=') && imm === 0) imm = 7;
  emit(`${r(d)} ${op} ${imm}`);
}

const stackSlot = (rng: Rng, size: number): string =>
  `r10 - ${8 * (1 + rng.int(STACK_SLOTS)) - size * rng.int(8 / size)}`;

export function generateProgram(rng: Rng, name = 'prog'): string {
  const lines: string[] = [];
  const emit = (s: string): void => { lines.push('\t' + s); };
  const reg = (): number => rng.pick(REGS);
  const r = (n: number, w: boolean): string => `${w ? 'w' : 'r'}${n}`;
  const subprograms = rng.int(3);
  const subNames = Array.from({ length: subprograms }, (_, k) => `${name}_sub${k}`);

  emit('r6 = r1');
  emit('r7 = *(u32 *)(r6 + 0)');
  emit('r8 = *(u32 *)(r6 + 4)');
  emit('r2 = r7');
  emit(`r2 += ${PACKET_MIN}`);
  emit('if r2 > r8 goto .Lshort');
  // Initialise every scratch register from the packet, the context or constants.
  const init = (n: number): void => {
    const k = rng.int(4);
    if (k === 0) emit(`r${n} = *(u64 *)(r7 + ${8 * rng.int(PACKET_MIN / 8)})`);
    else if (k === 1) emit(`r${n} = *(u32 *)(r6 + ${rng.pick([12, 16])})`);
    else if (k === 2) emit(`r${n} = ${rng.u32() * 0x1_0000_0000 + rng.u32()} ll`);
    else emit(`r${n} = ${rng.imm()}`);
  };
  for (const n of REGS) init(n);
  for (let s = 1; s <= STACK_SLOTS; s++) emit(`*(u64 *)(r10 - ${8 * s}) = r${reg()}`);

  const pending: { label: string; at: number }[] = [];
  let labels = 0;
  const count = 20 + rng.int(40);
  for (let i = 0; i < count; i++) {
    for (const p of pending.filter((q) => q.at === i)) lines.push(`${p.label}:`);
    const w = rng.chance(0.35);
    const d = reg();
    const s = reg();
    const kind = rng.int(100);
    if (kind < 36) {
      randomAlu(rng, REGS, emit);
    } else if (kind < 40) {
      emit(`${r(d, w)} = -${r(d, w)}`);
    } else if (kind < 46) {
      const width = rng.pick([16, 32, 64]);
      emit(`r${d} = ${rng.pick(['bswap', 'be', 'le'])}${width} r${d}`);
    } else if (kind < 51) {
      if (w) emit(`w${d} = (s${rng.pick([8, 16])})w${s}`);
      else emit(`r${d} = (s${rng.pick([8, 16, 32])})r${s}`);
    } else if (kind < 54) {
      emit(`r${d} = ${BigInt.asUintN(64, (BigInt(rng.u32()) << 32n) | BigInt(rng.u32()))} ll`);
    } else if (kind < 62) {
      // Load from the packet or the stack, zero- or sign-extending.
      const [ty, size] = rng.pick(SIZES);
      const signed = size < 8 && rng.chance(0.3);
      const t = signed ? ty.replace('u', 's') : ty;
      if (rng.chance(0.5)) emit(`r${d} = *(${t} *)(r7 + ${size * rng.int(PACKET_MIN / size)})`);
      else emit(`r${d} = *(${t} *)(${stackSlot(rng, size)})`);
    } else if (kind < 71) {
      // Store to the packet or the stack, from a register or an immediate.
      const [ty, size] = rng.pick(SIZES);
      const where = rng.chance(0.5) ? `r7 + ${size * rng.int(PACKET_MIN / size)}` : stackSlot(rng, size);
      emit(`*(${ty} *)(${where}) = ${rng.chance(0.7) ? `r${s}` : rng.imm()}`);
    } else if (kind < 77) {
      // Atomics on the stack (the verifier refuses them on packet pointers).
      const wide = rng.chance(0.5);
      const slot = stackSlot(rng, wide ? 8 : 4).replace(/ - (\d+)$/, (_, n: string) => ` - ${Number(n) & ~(wide ? 7 : 3)}`);
      const ty = wide ? 'u64' : 'u32';
      const x = (n: number): string => `${wide ? 'r' : 'w'}${n}`;
      switch (rng.int(4)) {
        case 0: emit(`lock *(${ty} *)(${slot}) ${rng.pick(['+=', '&=', '|=', '^='])} ${x(s)}`); break;
        case 1: emit(`${x(d)} = atomic_fetch_${rng.pick(['add', 'and', 'or', 'xor'])}((${ty} *)(${slot}), ${x(d)})`); break;
        case 2: emit(`${x(d)} = ${wide ? 'xchg_64' : 'xchg32_32'}(${slot}, ${x(d)})`); break;
        default: {
          const other = rng.pick(REGS.filter((n) => n !== 0));
          emit(`${x(0)} = ${wide ? 'cmpxchg_64' : 'cmpxchg32_32'}(${slot}, ${x(0)}, ${x(other)})`);
        }
      }
    } else if (kind < 80 && subprograms > 0) {
      // A bpf-to-bpf call: r1-r5 are arguments, then clobbered, so they are set again after.
      emit(`call ${rng.pick(subNames)}`);
      for (const n of [1, 2, 3, 4, 5]) {
        if (rng.chance(0.5)) emit(`r${n} = *(u64 *)(r10 - ${8 * (1 + rng.int(STACK_SLOTS))})`);
        else emit(`r${n} = ${rng.imm()}`);
      }
    } else {
      // A forward branch over the next few instructions.
      const label = `.Lb${labels++}`;
      pending.push({ label, at: i + 1 + rng.int(Math.min(8, count - i)) });
      const op = rng.pick(JMP_OPS);
      const rhs = rng.chance(0.5) ? r(s, w) : String(rng.imm());
      emit(`if ${r(d, w)} ${op} ${rhs} goto ${label}`);
    }
  }
  for (const p of pending.filter((q) => q.at >= count)) lines.push(`${p.label}:`);
  // Every register into the packet, so data_out shows them all.
  REGS.forEach((n, k) => emit(`*(u64 *)(r7 + ${8 * k}) = r${n}`));
  emit(`r1 = *(u64 *)(r10 - ${8 * (1 + rng.int(STACK_SLOTS))})`);
  emit('*(u64 *)(r7 + 56) = r1');
  emit('exit');
  lines.push('.Lshort:');
  emit('r0 = 2');
  emit('exit');

  // Subprograms in .text: r0 from the arguments, some arithmetic, a stack slot of their own.
  const text: string[] = [];
  subNames.forEach((sub, k) => {
    const body: string[] = [];
    const e = (x: string): void => { body.push('\t' + x); };
    e(`r0 = r${1 + rng.int(5)}`);
    e(`*(u64 *)(r10 - 8) = r${1 + rng.int(5)}`);
    const n = 3 + rng.int(10);
    for (let i = 0; i < n; i++) randomAlu(rng, [0, 1, 2, 3, 4, 5], e);
    e('r1 = *(u64 *)(r10 - 8)');
    e('r0 ^= r1');
    // Later subprograms may call earlier ones (no recursion).
    if (k > 0 && rng.chance(0.5)) { e(`r6 = r0`); e(`call ${subNames[rng.int(k)]}`); e('r0 += r6'); }
    e('exit');
    const global = rng.chance(0.5);
    text.push(...(global ? [`\t.globl ${sub}`] : []), `\t.type ${sub},@function`, `${sub}:`, ...body,
      `.L${sub}_end:`, `\t.size ${sub}, .L${sub}_end-${sub}`);
  });
  return [
    ...(text.length ? ['\t.text', ...text] : []),
    '\t.section xdp,"ax",@progbits',
    `\t.globl ${name}`,
    `\t.type ${name},@function`,
    `${name}:`,
    ...lines,
    `.L${name}_end:`,
    `\t.size ${name}, .L${name}_end-${name}`,
    '\t.section license,"aw",@progbits',
    '\t.asciz "GPL"',
    '',
  ].join('\n');
}

export function randomPacket(rng: Rng): Uint8Array {
  const len = rng.chance(0.1) ? 14 + rng.int(PACKET_MIN - 14) : PACKET_MIN + rng.int(200);
  const p = new Uint8Array(len);
  for (let i = 0; i < len; i++) p[i] = rng.int(256);
  return p;
}

/* ----------------------------------------------------------------------------------------- */
