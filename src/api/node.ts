/*
 * The Node entry point: a Bpf whose pins live in the BPFKIT_STATE folder (default
 * $XDG_STATE_HOME/bpfkit or ~/.local/state/bpfkit), shared with the `bpfkit` command.
 *
 *   import { openBpf } from 'bpfkit/node';
 *   const bpf = openBpf();                       // or openBpf({ stateDir: '/tmp/state' })
 *   const m = Map.fromPin('/sys/fs/bpf/counts', bpf);
 *
 * useStateStore() makes such a Bpf the default, so Map.fromPin(path) needs no second argument.
 */
import { NodeStoreFs, defaultStateDir } from '../kernel/node_store_fs.js';
import { PinStore } from '../kernel/pin_store.js';
import { Bpf, type BpfOptions } from './index.js';

export { NodeStoreFs, defaultStateDir };

export function openStateStore(stateDir: string = defaultStateDir()): PinStore {
  return new PinStore(new NodeStoreFs(stateDir));
}

export function openBpf(options: BpfOptions & { stateDir?: string } = {}): Bpf {
  const { stateDir, ...rest } = options;
  return new Bpf({ store: openStateStore(stateDir), ...rest });
}

/** Make a Bpf over the state folder the default instance (Map.fromPin/Program.fromPin without a Bpf). */
export function useStateStore(options: BpfOptions & { stateDir?: string } = {}): Bpf {
  const bpf = openBpf(options);
  Bpf.setDefault(bpf);
  return bpf;
}
