/* Placeholder until its owner lands it. */
import { BpfError } from '../errors.js';
import type { CommandHandler } from './context.js';

export const mapCommand: CommandHandler = async () => {
  throw new BpfError('ENOTSUPP', 'map: not implemented yet');
};
