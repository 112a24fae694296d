/*
 * The BTF parts of `prog dump xlated` (bpftool's dump_xlated_plain()/_json()): a function's
 * prototype above its first instruction (func_info, btf_dumper_type_only()) and `; source` lines
 * (line_info), at the instruction offsets the kernel reports for the xlated program: records of
 * the loaded program moved by the verifier's rewrites (bpf_adj_linfo()) when `adjust` is given.
 */
import { btfTypeOnly } from '../btf/type_name.js';
import type { XlatedLineInfo, XlatedOptions } from '../isa/disasm_xlated.js';
import { type KProg, kbtfTypes } from '../kernel/bpf.js';

export type InsnOffsetAdjuster = (offs: readonly number[]) => (number | undefined)[];

export function xlatedBtfOptions(p: KProg, adjust?: InsnOffsetAdjuster): Pick<XlatedOptions, 'funcProto' | 'lineInfo'> {
  if (!p.btf) return {};
  const btf = kbtfTypes(p.btf);
  const move = (offs: number[]): (number | undefined)[] => (adjust ? adjust(offs) : offs);
  const funcs = p.funcInfo ?? [];
  const protos = new Map<number, string>();
  move(funcs.map((f) => f.insn)).forEach((at, i) => {
    const text = at === undefined ? '' : btfTypeOnly(btf, funcs[i].typeId);
    if (at !== undefined && text) protos.set(at, text);
  });
  const src = p.lineInfo ?? [];
  const lines = move(src.map((l) => l.insn))
    .map((at, i) => ({ at, l: src[i] }))
    .filter((x): x is { at: number; l: (typeof src)[number] } => x.at !== undefined)
    .sort((a, b) => a.at - b.at);
  // bpf_prog_linfo__lfind(prog_linfo, pc, nr_skip): the last record at or before pc, from the
  // first not yet printed; each record prints once (the dump asks for every pc in order).
  let next = 0;
  const lineInfo = (pc: number): XlatedLineInfo | undefined => {
    if (next >= lines.length || lines[next].at > pc) return undefined;
    let k = next;
    while (k + 1 < lines.length && lines[k + 1].at <= pc) k++;
    next = k + 1;
    const { l } = lines[k];
    return { line: l.line, file: l.fileName, lineNum: l.lineNum, lineCol: l.lineCol };
  };
  return { funcProto: (pc) => protos.get(pc), lineInfo };
}
