/*
 * Helper prototypes as the kernel declares them (struct bpf_func_proto): return type, argument
 * types (a base type plus flags, as enum bpf_arg_type / bpf_return_type combine them), and the
 * attributes the verifier checks (gpl_only, pkt_access, arg sizes). Plain data: the verifier
 * reads it, `formatProto` prints it in the kernel's spelling.
 */

export type ArgBase =
  | 'ARG_DONTCARE' | 'ARG_CONST_MAP_PTR' | 'ARG_PTR_TO_MAP_KEY' | 'ARG_PTR_TO_MAP_VALUE' | 'ARG_PTR_TO_MEM'
  | 'ARG_CONST_SIZE' | 'ARG_CONST_SIZE_OR_ZERO' | 'ARG_CONST_ALLOC_SIZE_OR_ZERO' | 'ARG_PTR_TO_CTX' | 'ARG_ANYTHING'
  | 'ARG_PTR_TO_SPIN_LOCK' | 'ARG_PTR_TO_FUNC' | 'ARG_PTR_TO_STACK' | 'ARG_PTR_TO_CONST_STR' | 'ARG_PTR_TO_BTF_ID'
  | 'ARG_PTR_TO_SOCK_COMMON' | 'ARG_PTR_TO_SOCKET' | 'ARG_PTR_TO_TIMER' | 'ARG_PTR_TO_DYNPTR';

export type RetBase =
  | 'RET_INTEGER' | 'RET_VOID' | 'RET_PTR_TO_MAP_VALUE' | 'RET_PTR_TO_SOCKET' | 'RET_PTR_TO_TCP_SOCK'
  | 'RET_PTR_TO_SOCK_COMMON' | 'RET_PTR_TO_MEM' | 'RET_PTR_TO_MEM_OR_BTF_ID' | 'RET_PTR_TO_BTF_ID';

export type TypeFlag =
  | 'PTR_MAYBE_NULL' | 'MEM_RDONLY' | 'MEM_RINGBUF' | 'MEM_USER' | 'MEM_PERCPU' | 'OBJ_RELEASE' | 'MEM_UNINIT'
  | 'MEM_WRITE' | 'MEM_ALIGNED' | 'MEM_FIXED_SIZE' | 'MEM_ALLOC' | 'DYNPTR_TYPE_LOCAL' | 'DYNPTR_TYPE_RINGBUF';

export interface ArgType {
  readonly base: ArgBase;
  readonly flags: readonly TypeFlag[];
  /** MEM_FIXED_SIZE: the size the helper reads/writes (argN_size). */
  readonly size?: number;
}

export interface RetType {
  readonly base: RetBase;
  readonly flags: readonly TypeFlag[];
}

export interface HelperProto {
  readonly ret: RetType;
  /** r1..r5 (ARG_DONTCARE for unused ones are left out). */
  readonly args: readonly ArgType[];
  readonly gplOnly: boolean;
  /** May be called with packet pointers as memory arguments. */
  readonly pktAccess: boolean;
  /** Callback helpers: which argument is the callback (ARG_PTR_TO_FUNC). */
  readonly callbackArg?: number;
}

export function arg(base: ArgBase, ...flags: TypeFlag[]): ArgType {
  return Object.freeze({ base, flags: Object.freeze(flags) });
}

export function fixedArg(base: ArgBase, size: number, ...flags: TypeFlag[]): ArgType {
  return Object.freeze({ base, flags: Object.freeze([...flags, 'MEM_FIXED_SIZE' as TypeFlag]), size });
}

export function ret(base: RetBase, ...flags: TypeFlag[]): RetType {
  return Object.freeze({ base, flags: Object.freeze(flags) });
}

export function proto(r: RetType, args: ArgType[], attrs: { gplOnly?: boolean; pktAccess?: boolean; callbackArg?: number } = {}): HelperProto {
  return Object.freeze({ ret: r, args: Object.freeze(args), gplOnly: attrs.gplOnly ?? false, pktAccess: attrs.pktAccess ?? false, callbackArg: attrs.callbackArg });
}

/** "ARG_PTR_TO_MEM | MEM_RDONLY", as the kernel source spells a type. */
export function formatType(t: ArgType | RetType): string {
  return [t.base, ...t.flags].join(' | ');
}

export function formatProto(name: string, p: HelperProto): string {
  return `${formatType(p.ret)} ${name}(${p.args.map(formatType).join(', ')})`;
}
