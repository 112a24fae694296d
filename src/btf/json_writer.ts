/*
 * bpftool's json_writer.c: JSON with its exact separators and pretty-mode line breaks, so that
 * `-j`/`-p` output matches bpftool byte for byte. Values are written as text (jsonw_printf), so
 * 64-bit numbers keep every digit. Used by the map/prog/btf commands and BTF value formatting.
 */

/** A JSON writer with json_writer.c's exact output (separators, pretty-mode line breaks). */
export class BpfJsonWriter {
  private out = '';
  private depth = 0;
  private sep = '';
  readonly pretty: boolean;

  constructor(pretty: boolean) {
    this.pretty = pretty;
  }

  private indent(): void {
    this.out += '    '.repeat(this.depth);
  }

  private eol(): void {
    if (!this.pretty) return;
    this.out += '\n';
    this.indent();
  }

  private eor(): void {
    if (this.sep !== '') this.out += this.sep;
    this.sep = ',';
  }

  private begin(c: string): void {
    this.eor();
    this.out += c;
    this.depth++;
    this.sep = '';
  }

  private end(c: string): void {
    this.depth--;
    if (this.sep !== '') this.eol();
    this.out += c;
    this.sep = ',';
  }

  startObject(): void { this.begin('{'); }
  endObject(): void { this.end('}'); }
  startArray(): void { this.begin('['); }
  endArray(): void { this.end(']'); }

  name(name: string): void {
    this.eor();
    this.eol();
    this.sep = '';
    this.out += quote(name) + ':' + (this.pretty ? ' ' : '');
  }

  /** A value printed as is (jsonw_printf). */
  raw(text: string): void {
    this.eor();
    this.out += text;
  }

  string(value: string): void { this.raw(quote(value)); }
  uint(value: number | bigint): void { this.raw(String(value)); }
  bool(value: boolean): void { this.raw(value ? 'true' : 'false'); }
  null(): void { this.raw('null'); }

  stringField(name: string, value: string): void { this.name(name); this.string(value); }
  uintField(name: string, value: number | bigint): void { this.name(name); this.uint(value); }
  boolField(name: string, value: boolean): void { this.name(name); this.bool(value); }
  nullField(name: string): void { this.name(name); this.null(); }

  /** Everything written so far (no trailing newline). */
  text(): string {
    return this.out;
  }

  /** Everything written, plus the newline jsonw_destroy() adds. */
  finish(): string {
    return this.out + '\n';
  }
}

/** jsonw_puts(): quotes and escapes like json_writer.c. */
function quote(s: string): string {
  let out = '"';
  for (const ch of s) {
    switch (ch) {
      case '\t': out += '\\t'; break;
      case '\n': out += '\\n'; break;
      case '\r': out += '\\r'; break;
      case '\f': out += '\\f'; break;
      case '\b': out += '\\b'; break;
      case '\\': out += '\\\\'; break;
      case '"': out += '\\"'; break;
      default: out += ch;
    }
  }
  return out + '"';
}
