/* Placeholder until its owner lands it. */
import { BpfError } from '../errors.js';
import type { CommandHandler } from './context.js';

export const asmCommand: CommandHandler = async () => {
  throw new BpfError('ENOTSUPP', 'asm: not implemented yet');
};
