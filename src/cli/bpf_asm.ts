/* Placeholder until its owner lands it. */
import { BpfError } from '../errors.js';
import type { CommandHandler } from './context.js';

export const bpfAsmCommand: CommandHandler = async () => {
  throw new BpfError('ENOTSUPP', 'bpf_asm: not implemented yet');
};
