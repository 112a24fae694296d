/* Placeholder until its owner lands it. */
import { BpfError } from '../errors.js';
import type { CommandHandler } from './context.js';

export const tcpdumpCommand: CommandHandler = async () => {
  throw new BpfError('ENOTSUPP', 'tcpdump: not implemented yet');
};
