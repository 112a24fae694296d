/*
 * bpftool's way with words: keywords may be abbreviated to any unambiguous prefix, and the first
 * entry of a command table that the word is a prefix of wins (bpftool's is_prefix()/cmd_select()).
 */
import { BpfError } from '../errors.js';

export function isPrefix(word: string, keyword: string): boolean {
  return word.length > 0 && keyword.startsWith(word);
}

/** The first keyword in table order that `word` abbreviates, or undefined. */
export function selectKeyword<T extends string>(word: string, keywords: readonly T[]): T | undefined {
  return keywords.find((k) => isPrefix(word, k));
}

/** A cursor over the remaining words of a command line. */
export class ArgCursor {
  private index = 0;
  private readonly words: readonly string[];
  constructor(words: readonly string[]) {
    this.words = words;
  }

  get done(): boolean {
    return this.index >= this.words.length;
  }

  peek(): string | undefined {
    return this.words[this.index];
  }

  /** The next word; `what` names it in the error when missing (bpftool: "expected X"). */
  next(what: string): string {
    const word = this.words[this.index];
    if (word === undefined) throw new BpfError('EINVAL', `expected ${what}`);
    this.index++;
    return word;
  }

  rest(): string[] {
    const r = this.words.slice(this.index);
    this.index = this.words.length;
    return r;
  }
}

/** Parse a non-negative integer argument (decimal, 0x hex, 0 octal like strtoul(,,0)). */
export function parseUint(text: string, what: string): number {
  let value: number;
  if (/^0x[0-9a-f]+$/i.test(text)) value = parseInt(text.slice(2), 16);
  else if (/^0[0-7]+$/.test(text)) value = parseInt(text.slice(1), 8);
  else if (/^[0-9]+$/.test(text)) value = parseInt(text, 10);
  else throw new BpfError('EINVAL', `can't parse ${what} '${text}'`);
  if (!Number.isSafeInteger(value)) throw new BpfError('EINVAL', `${what} '${text}' is too large`);
  return value;
}
