/*
 * A VM's helper registry filled for a program type: the general helper table, the packet and
 * socket helpers, filtered by the type's func_proto set (helper_sets.ts).
 */
import { registerHelpers, registerKfuncs } from '../helpers/index.js';
import { type HelperHost, createHelperHost } from '../helpers/host.js';
import { PACKET_HELPERS } from '../helpers/packet.js';
import { SOCK_HELPERS } from '../helpers/sock.js';
import type { HelperRegistry } from '../vm/helpers.js';
import { Vm } from '../vm/vm.js';
import { HELPER_SETS } from './helper_sets.js';

/**
 * Fill `registry` with the helpers programs of `type` may call (the general table and the packet
 * helpers, filtered by the type's func_proto set), bound to `host`.
 */
export function registerProgTypeHelpers(registry: HelperRegistry, type: number, host: HelperHost = createHelperHost()): HelperHost {
  const set = HELPER_SETS.get(type);
  const allowed = (id: number): boolean => (set ? set.has(id) : true);
  registerHelpers(registry, host, (d) => allowed(d.id));
  registerKfuncs(registry); // the common kfunc set (bpf_iter_num_*) is every program type's
  for (const d of [...PACKET_HELPERS, ...SOCK_HELPERS]) {
    if (!allowed(d.id)) continue;
    const impl = d.impl;
    registry.register(d.id, d.name, (ctx, r1, r2, r3, r4, r5) => impl(host, ctx, r1, r2, r3, r4, r5));
  }
  if (type === BPF_PROG_TYPE_FLOW_DISSECTOR) {
    // bpf_flow_dissector_load_bytes(): with no skb (test runs, ctx->skb == NULL) the buffer is
    // zeroed and -EFAULT returned; programs read packet bytes directly instead.
    registry.register(BPF_FUNC_skb_load_bytes, 'bpf_skb_load_bytes', (ctx, _c, _off, to, len) => {
      const n = Number(len & 0xffffffffn);
      if (n > 0) (ctx.vm as Vm).space.write(Number(to), new Uint8Array(n));
      return -14n; // -EFAULT
    });
  }
  return host;
}

const BPF_PROG_TYPE_FLOW_DISSECTOR = 22;
const BPF_FUNC_skb_load_bytes = 26;

/** A fresh VM with the helpers of `type` (what a test run uses when the caller gives no VM). */
export function vmForType(type: number): Vm {
  const vm = new Vm();
  registerProgTypeHelpers(vm.helpers, type);
  return vm;
}
