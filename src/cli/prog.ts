/* Placeholder until its owner lands it. */
import { BpfError } from '../errors.js';
import type { CommandHandler } from './context.js';

export const progCommand: CommandHandler = async () => {
  throw new BpfError('ENOTSUPP', 'prog: not implemented yet');
};
