/* Placeholder until its owner lands it. */
import { BpfError } from '../errors.js';
import type { CommandHandler } from './context.js';

export const disasmCommand: CommandHandler = async () => {
  throw new BpfError('ENOTSUPP', 'disasm: not implemented yet');
};
