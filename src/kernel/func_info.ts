/*
 * BTF func_info as the verifier gets it at BPF_PROG_LOAD (check_btf_func(), kernel/bpf/verifier.c):
 * one record per subprogram, its FUNC's name and linkage, and for global functions the arguments
 * btf_prepare_func_args() (kernel/bpf/btf.c) derives from the FUNC_PROTO: a pointer to the
 * program type's context struct, a scalar (int or enum), or a pointer to memory of the pointee's
 * size (nullable unless tagged arg:nonnull). The verifier itself knows no BTF (layering).
 */
import { BTF_FUNC_GLOBAL, BTF_KIND, BTF_KIND_NAMES, type Btf, type BtfType } from '../btf/types.js';
import type { FuncInfoEntry, GlobalFuncArg } from '../verifier/verifier.js';

/** The uapi context struct each program type's BTF context argument names (bpf_ctx_convert). */
const CTX_STRUCT: Readonly<Record<number, string>> = {
  1: '__sk_buff', 3: '__sk_buff', 4: '__sk_buff', 6: 'xdp_md', 7: 'bpf_perf_event_data', 8: '__sk_buff', 9: 'bpf_sock',
  10: '__sk_buff', 11: '__sk_buff', 12: '__sk_buff', 13: 'bpf_sock_ops', 14: '__sk_buff', 15: 'bpf_cgroup_dev_ctx',
  16: 'sk_msg_md', 17: 'bpf_raw_tracepoint_args', 18: 'bpf_sock_addr', 19: '__sk_buff', 21: 'sk_reuseport_md',
  22: '__sk_buff', 23: 'bpf_sysctl', 24: 'bpf_raw_tracepoint_args', 25: 'bpf_sockopt', 30: 'bpf_sk_lookup',
};
const MAX_BPF_FUNC_REG_ARGS = 5;
const EINVAL = 22;

/** btf_type_skip_modifiers(): undefined for an id the BTF does not have (or a modifier loop) */
function skipModifiers(btf: Btf, id: number): BtfType | undefined {
  try {
    return btf.type(btf.skipModsAndTypedefs(id));
  } catch {
    return undefined;
  }
}

const isScalar = (t: BtfType | undefined): boolean => !!t && (t.kind === BTF_KIND.INT || t.kind === BTF_KIND.ENUM || t.kind === BTF_KIND.ENUM64);

/** btf_resolve_size(): the byte size of type `id`, undefined where it has none (void, functions, forward declarations) */
function resolveSize(btf: Btf, id: number): number | undefined {
  try {
    return btf.resolveSize(id);
  } catch {
    return undefined;
  }
}

/** The parameter's "arg:..." decl tags on FUNC `funcId` (btf_find_next_decl_tag()) */
function argTags(btf: Btf, funcId: number, arg: number): string[] {
  const tags: string[] = [];
  for (const t of btf.types) if (t && t.kind === BTF_KIND.DECL_TAG && t.type === funcId && t.componentIdx === arg && t.name.startsWith('arg:')) tags.push(t.name.slice(4));
  return tags;
}

/** btf_prepare_func_args() of a global function: its arguments, or the log line and errno refusing them */
function prepareArgs(btf: Btf, funcId: number, name: string, progType: number): GlobalFuncArg[] | { error: string; errno: number } {
  const func = btf.types[funcId];
  const proto = func && func.kind === BTF_KIND.FUNC ? btf.types[func.type] : undefined;
  if (!proto || proto.kind !== BTF_KIND.FUNC_PROTO) return { error: `invalid type id ${funcId} in func info`, errno: EINVAL };
  if (proto.params.length > MAX_BPF_FUNC_REG_ARGS) {
    return { error: `Global function ${name}() with ${proto.params.length} > ${MAX_BPF_FUNC_REG_ARGS} args. Buggy compiler.`, errno: EINVAL };
  }
  if (!isScalar(skipModifiers(btf, proto.returnType))) return { error: `Global function ${name}() doesn't return scalar. Only those are supported.`, errno: EINVAL };
  const args: GlobalFuncArg[] = [];
  for (let i = 0; i < proto.params.length; i++) {
    const tags = argTags(btf, funcId, i);
    const t = skipModifiers(btf, proto.params[i].type);
    if (t?.kind === BTF_KIND.PTR) {
      // btf_get_prog_ctx_type(): a pointer to the struct the program type's context is
      const pointee = skipModifiers(btf, t.type);
      const ctxName = CTX_STRUCT[progType];
      if (tags.includes('ctx') || (pointee?.kind === BTF_KIND.STRUCT && ctxName !== undefined && pointee.name === ctxName)) {
        args.push({ kind: 'ctx' });
        continue;
      }
      const size = resolveSize(btf, t.type);
      if (size === undefined) {
        return { error: `arg#${i} reference type('${BTF_KIND_NAMES[pointee?.kind ?? 0]} ${pointee?.name ?? ''}') size cannot be determined: -${EINVAL}`, errno: EINVAL };
      }
      args.push({ kind: 'mem', size, nullable: !tags.includes('nonnull') });
      continue;
    }
    if (isScalar(t)) { args.push({ kind: 'scalar' }); continue; }
    return { error: `Arg#${i} type ${BTF_KIND_NAMES[t?.kind ?? 0]} in ${name}() is not supported yet.`, errno: EINVAL };
  }
  return args;
}

/** The verifier's func_info of a program: records (slot, FUNC type id) resolved in `btf`. */
export function funcInfoEntries(btf: Btf, records: readonly { insn: number; typeId: number }[], progType: number): FuncInfoEntry[] {
  return records.map((r) => {
    const t = btf.types[r.typeId];
    const name = t?.name ?? '';
    const global = t?.kind === BTF_KIND.FUNC && t.linkage === BTF_FUNC_GLOBAL;
    return { insn: r.insn, name, global, args: global ? prepareArgs(btf, r.typeId, name, progType) : undefined };
  });
}
