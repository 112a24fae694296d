/*
 * The format language of bpf_trace_printk, bpf_trace_vprintk and bpf_snprintf, as
 * bpf_bprintf_prepare() (kernel/bpf/helpers.c) accepts it and bstr_printf() prints it:
 *
 *   %d %i %u %x %X with optional l / ll (int, long, long long), %c, %s, %%,
 *   %p %pK %px %ps %pS %pB (pointers), %pks %pus (kernel / user strings),
 *   %pi4 %pI4 %pi6 %pI6 (IP addresses read from memory),
 *   flags [0 +-space] and a width; no precision, no other conversions (EINVAL).
 *
 * The format must be printable ASCII (or whitespace) and contain at most num_args
 * conversions; %s and %p must be followed by the end, whitespace or punctuation. Pointers are
 * printed unhashed (the kernel hashes plain %p per boot). A string that cannot be read prints as
 * empty and an address that cannot be read as zeros, as the kernel's. Output is bytes (Latin-1 in
 * a JS string).
 */

/** How the formatter reads memory: NUL-terminated strings and raw bytes; undefined = fault. */
export interface PrintfMemory {
  readString(addr: bigint, max: number, user: boolean): string | undefined;
  readBytes(addr: bigint, size: number): Uint8Array | undefined;
}

/** MAX_BPRINTF_BUF: room for strings copied by one call. */
export const MAX_BPRINTF_BUF = 1024;
/** MAX_BPRINTF_VARARGS. */
export const MAX_BPRINTF_VARARGS = 12;

const isPrint = (c: number): boolean => c >= 0x20 && c < 0x7f;
const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);
const isPunct = (c: number): boolean => isPrint(c) && !isSpace(c) && !/[A-Za-z0-9]/.test(String.fromCharCode(c));
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

function pad(body: string, width: number, left: boolean, zero: boolean, signLen = 0): string {
  if (body.length >= width) return body;
  if (left) return body + ' '.repeat(width - body.length);
  if (zero) return body.slice(0, signLen) + '0'.repeat(width - body.length) + body.slice(signLen);
  return ' '.repeat(width - body.length) + body;
}

/**
 * Format `fmt` (bytes up to, not including, the NUL) with `args` (u64 each). Returns the text, or
 * a negative errno (-EINVAL for a format the kernel refuses).
 */
export function bprintf(fmt: Uint8Array, args: readonly bigint[], numArgs: number, mem: PrintfMemory): string | number {
  const EINVAL = -22;
  let out = '';
  let spec = 0;
  let strRoom = MAX_BPRINTF_BUF;
  const at = (i: number): number => (i < fmt.length ? fmt[i] : 0);
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i];
    if ((!isPrint(c) && !isSpace(c)) || c > 0x7f) return EINVAL;
    if (c !== 0x25) { // '%'
      out += String.fromCharCode(c);
      continue;
    }
    if (at(i + 1) === 0x25) {
      out += '%';
      i++;
      continue;
    }
    if (spec >= numArgs) return EINVAL;
    i++;
    let left = false, zero = false, plus = false, space = false;
    for (;;) {
      const f = at(i);
      if (f === 0x30) zero = true;
      else if (f === 0x2b) plus = true;
      else if (f === 0x2d) left = true;
      else if (f === 0x20) space = true;
      else break;
      i++;
    }
    let width = 0;
    if (at(i) >= 0x31 && at(i) <= 0x39) {
      while (isDigit(at(i))) width = width * 10 + (at(i++) - 0x30);
    }
    const arg = args[spec] ?? 0n;
    const conv = at(i);
    const endOk = (j: number): boolean => at(j) === 0 || isSpace(at(j)) || isPunct(at(j));
    let text: string;
    if (conv === 0x70) { // 'p'
      const n1 = at(i + 1);
      const n2 = at(i + 2);
      if ((n1 === 0x6b || n1 === 0x75) && n2 === 0x73) { // %pks %pus
        i += 2;
        if (!endOk(i + 1)) return EINVAL;
        const s = mem.readString(arg, strRoom, n1 === 0x75) ?? '';
        strRoom = Math.max(0, strRoom - s.length - 1);
        text = pad(s, width, left, false);
      } else if (n1 === 0x4b || n1 === 0x78 || n1 === 0x73 || n1 === 0x53 || n1 === 0x42) { // %pK %px %ps %pS %pB
        i++;
        text = n1 === 0x73 || n1 === 0x53 || n1 === 0x42 ? '0x' + arg.toString(16) : arg.toString(16).padStart(16, '0');
        text = pad(text, width, left, zero);
      } else if ((n1 === 0x69 || n1 === 0x49) && (n2 === 0x34 || n2 === 0x36)) { // %pi4 %pI4 %pi6 %pI6
        i += 2;
        const v6 = n2 === 0x36;
        const b = mem.readBytes(arg, v6 ? 16 : 4) ?? new Uint8Array(v6 ? 16 : 4); // a fault prints zeros
        if (!v6) text = [...b].map((x) => (n1 === 0x69 ? String(x).padStart(3, '0') : String(x))).join('.');
        else {
          const words: string[] = [];
          for (let k = 0; k < 16; k += 2) words.push(((b[k] << 8) | b[k + 1]).toString(16).padStart(4, '0'));
          text = n1 === 0x69 ? words.join('') : words.join(':');
        }
        text = pad(text, width, left, false);
      } else {
        if (!endOk(i + 1)) return EINVAL;
        text = pad(arg.toString(16).padStart(16, '0'), width, left, zero);
      }
    } else if (conv === 0x73) { // 's'
      if (!endOk(i + 1)) return EINVAL;
      const s = mem.readString(arg, strRoom, false) ?? '';
      strRoom = Math.max(0, strRoom - s.length - 1);
      text = pad(s, width, left, false);
    } else if (conv === 0x63) { // 'c'
      text = pad(String.fromCharCode(Number(arg & 0xffn)), width, left, false);
    } else {
      let bits = 32;
      if (at(i) === 0x6c) { bits = 64; i++; }
      if (at(i) === 0x6c) { bits = 64; i++; }
      const k = at(i);
      if (k !== 0x69 && k !== 0x64 && k !== 0x75 && k !== 0x78 && k !== 0x58) return EINVAL;
      let sign = '';
      if (k === 0x69 || k === 0x64) {
        const v = BigInt.asIntN(bits, arg);
        const neg = v < 0n;
        sign = neg ? '-' : plus ? '+' : space ? ' ' : '';
        text = sign + (neg ? -v : v).toString(10);
      } else {
        const v = BigInt.asUintN(bits, arg);
        text = k === 0x75 ? v.toString(10) : k === 0x78 ? v.toString(16) : v.toString(16).toUpperCase();
      }
      text = pad(text, width, left, zero, sign.length);
    }
    out += text;
    spec++;
  }
  return out;
}
