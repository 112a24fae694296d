/* Placeholder until its owner lands it. */
import { BpfError } from '../errors.js';
import type { CommandHandler } from './context.js';

export const conformanceCommand: CommandHandler = async () => {
  throw new BpfError('ENOTSUPP', 'conformance: not implemented yet');
};
export const conformancePluginCommand = conformanceCommand;
