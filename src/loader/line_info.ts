/*
 * A program's BTF line_info as the verifier log reads it (find_linfo() / verbose_linfo() of the
 * kernel): for an instruction, the record with the largest offset at or before it; the file name
 * cut to its last component, as the log prints "; LINE @ FILE:NUM". The kernel skips a record
 * whose file and line number equal the last one printed, whatever its column (records of one
 * line often differ only there): so `col` is 0 here, and two records of one line compare equal.
 */
import type { BpfProgramSpec } from './object.js';

export interface LogLineInfo { line: string; file: string; lineNum: number; col: number }

export function lineInfoAt(records: BpfProgramSpec['lineInfo']): (insnIdx: number) => LogLineInfo | undefined {
  const sorted = [...records].sort((a, b) => a.insn - b.insn);
  const infos = sorted.map((r): LogLineInfo => ({
    line: r.line, file: r.fileName.slice(r.fileName.lastIndexOf('/') + 1), lineNum: r.lineNum, col: 0,
  }));
  return (insnIdx) => {
    let lo = 0;
    let hi = sorted.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid].insn <= insnIdx) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return found < 0 ? undefined : infos[found];
  };
}
