/*
 * What an assembler produces and an object writer consumes: sections of instructions or data with
 * their symbols and relocations, in the shape an ELF relocatable object has (section-relative byte
 * offsets). Kept apart from both so either side can change independently.
 */
import type { Insn } from './insn.js';

export type AsmSymbolType = 'func' | 'object' | 'notype' | 'section';

export interface AsmSymbol {
  name: string;
  /** Byte offset inside its section. */
  offset: number;
  global: boolean;
  type: AsmSymbolType;
  /** From `.size`, in bytes; undefined when not given. */
  size?: number;
}

export type AsmRelocationType = 'R_BPF_64_64' | 'R_BPF_64_32' | 'R_BPF_64_ABS64' | 'R_BPF_64_ABS32' | 'R_BPF_64_NODYLD32';

export interface AsmRelocation {
  /** Byte offset inside its section of the instruction (or data word) being relocated. */
  offset: number;
  type: AsmRelocationType;
  /** Name of the symbol referred to (may be defined in another section, or undefined = extern). */
  symbol: string;
}

export interface AsmSection {
  name: string;
  /** True for code (`"ax"`, SHT_PROGBITS + SHF_EXECINSTR). */
  executable: boolean;
  writable: boolean;
  /** Code sections: the instruction slots. */
  insns: Insn[];
  /** Data sections: the bytes (`.asciz`, `.byte`, ...). Code sections: empty. */
  data: Uint8Array;
  symbols: AsmSymbol[];
  relocations: AsmRelocation[];
}

export interface AsmUnit {
  sections: AsmSection[];
}
