/*
 * Special fields of a map value's BTF type (btf_parse_fields() in Linux 6.18): for now the
 * struct bpf_spin_lock whose offset the verifier and BPF_F_LOCK updates need.
 */
import { BTF_KIND, type Btf } from './types.js';

/** Offset of the struct bpf_spin_lock in type `id` (a member, a nested struct's member, or a DATASEC variable). */
export function findSpinLockOff(btf: Btf, id: number, depth = 0): number | undefined {
  if (depth > 8) return undefined;
  const t = btf.type(btf.skipModsAndTypedefs(id));
  if (t.kind === BTF_KIND.STRUCT && t.name === 'bpf_spin_lock') return 0;
  if (t.kind === BTF_KIND.STRUCT || t.kind === BTF_KIND.UNION) {
    for (const m of t.members) {
      const inner = findSpinLockOff(btf, m.type, depth + 1);
      if (inner !== undefined) return Math.floor(m.bitOffset / 8) + inner;
    }
  } else if (t.kind === BTF_KIND.DATASEC) {
    for (const v of t.vars) {
      const vt = btf.type(v.type);
      if (vt.kind !== BTF_KIND.VAR) continue;
      const inner = findSpinLockOff(btf, vt.type, depth + 1);
      if (inner !== undefined) return v.offset + inner;
    }
  }
  return undefined;
}
