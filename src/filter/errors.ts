/*
 * Filter compile errors: libpcap's wording (gencode.c / grammar.y) plus the character offset in
 * the expression where known. The message is what pcap_geterr() would return.
 */
import { BpfError } from '../errors.js';

export class FilterError extends BpfError {
  /** 0-based offset into the expression, when the error is tied to a token. */
  readonly offset?: number;
  /** libpcap 1.10.3's text where it differs from 1.11's (the message) in a way no general rule gives. */
  readonly legacy?: string;

  constructor(message: string, offset?: number, legacy?: string) {
    super('EINVAL', message, offset === undefined ? undefined : { line: 1, column: offset + 1 });
    this.offset = offset;
    this.legacy = legacy;
  }
}

/** pcap_compile()'s message for any parse failure (grammar.y's yyerror()). */
export const SYNTAX_ERROR = "can't parse filter expression: syntax error";
