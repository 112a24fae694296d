/*
 * The bpf_conformance test file format (.data): a list of sections, each opened by a line
 * `-- NAME`, with `#` comment lines anywhere. Sections: asm, raw, mem, result, error, c and
 * `no register offset` (the last two informational). See ../shared/conformance/README.md and the
 * suite's src/bpf_test_parser.cc.
 *
 * The asm text keeps the file's line numbers (other lines become blank), so assembler errors point
 * into the .data file itself.
 */
import { BpfError } from '../errors.js';

export interface ConformanceFile {
  /** The `-- asm` program with the file's line numbering, or undefined when absent. */
  asm?: string;
  /** The `-- raw` program bytes, or undefined when absent. */
  raw?: Uint8Array;
  /** The `-- mem` bytes (empty when absent). */
  mem: Uint8Array;
  /** The expected r0, or undefined when there is no `-- result`. */
  result?: bigint;
  /** The `-- error` text ('' when the section is present but empty), undefined when absent. */
  error?: string;
  /** Section names the format does not define (a runner refuses such files). */
  unknownSections: string[];
}

const KNOWN = new Set(['asm', 'raw', 'mem', 'result', 'error', 'c', 'no register offset']);

/** Parse a .data file; malformed numbers in raw/mem/result throw a BpfError naming the line. */
export function parseConformanceFile(text: string, fileName = '<data>'): ConformanceFile {
  const lines = text.split(/\r?\n/);
  const out: ConformanceFile = { mem: new Uint8Array(0), unknownSections: [] };
  let section: string | undefined;
  const asmLines: string[] = [];
  let hasAsm = false;
  const raw: number[] = [];
  let hasRaw = false;
  const mem: number[] = [];
  const errorLines: string[] = [];
  const fail = (i: number, msg: string): BpfError => new BpfError('EINVAL', `${fileName}:${i + 1}: ${msg}`, { line: i + 1, column: 1, file: fileName });

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    asmLines.push('');
    const header = /^--\s*(.*?)\s*$/.exec(line);
    if (header) {
      section = header[1];
      if (!KNOWN.has(section)) out.unknownSections.push(section);
      if (section === 'asm') hasAsm = true;
      if (section === 'raw') hasRaw = true;
      if (section === 'error') out.error ??= '';
      continue;
    }
    if (/^\s*#/.test(line) && section !== 'asm') continue;
    const body = line.trim();
    switch (section) {
      case 'asm':
        asmLines[i] = line;
        break;
      case 'raw': {
        if (!body) break;
        const words = body.split(/\s+/);
        if (words.every((w) => /^[0-9a-fA-F]{2}$/.test(w))) {
          // 8 bytes a line, in memory order
          for (const w of words) raw.push(parseInt(w, 16));
        } else {
          // 64-bit words (one instruction slot each), little-endian in memory
          for (const w of words) {
            if (!/^(0x)?[0-9a-fA-F]{1,16}$/.test(w)) throw fail(i, `bad raw instruction '${w}'`);
            let v = BigInt(w.startsWith('0x') ? w : '0x' + w);
            for (let b = 0; b < 8; b++, v >>= 8n) raw.push(Number(v & 0xffn));
          }
        }
        break;
      }
      case 'mem':
        if (!body) break;
        for (const w of body.split(/\s+/)) {
          if (!/^(0x)?[0-9a-fA-F]{1,2}$/.test(w)) throw fail(i, `bad memory byte '${w}'`);
          mem.push(parseInt(w.replace(/^0x/, ''), 16));
        }
        break;
      case 'result':
        if (!body) break;
        if (/^0x[0-9a-fA-F]+$/.test(body)) out.result = BigInt.asUintN(64, BigInt(body));
        else if (/^-?[0-9]+$/.test(body)) out.result = BigInt.asUintN(64, BigInt(body));
        else throw fail(i, `bad result '${body}'`);
        break;
      case 'error':
        if (body) errorLines.push(body);
        break;
      default:
        break; // c, no register offset, text before the first section, unknown sections
    }
  }
  if (hasAsm) out.asm = asmLines.join('\n');
  if (hasRaw) out.raw = new Uint8Array(raw);
  out.mem = new Uint8Array(mem);
  if (out.error !== undefined) out.error = errorLines.join('\n');
  return out;
}
