/*
 * Filter compile errors: libpcap's wording (gencode.c / grammar.y) plus the character offset in
 * the expression where known. The message is what pcap_geterr() would return.
 */
import { BpfError } from '../errors.js';

export class FilterError extends BpfError {
  /** 0-based offset into the expression, when the error is tied to a token. */
  readonly offset?: number;

  constructor(message: string, offset?: number) {
    super('EINVAL', message, offset === undefined ? undefined : { line: 1, column: offset + 1 });
    this.offset = offset;
  }
}

/** pcap_compile()'s message for any parse failure (grammar.y's yyerror()). */
export const SYNTAX_ERROR = "can't parse filter expression: syntax error";
