/*
 * do_misc_fixups()' map helper rewrites (kernel/bpf/verifier.c, Linux 6.18, x86_64 JIT, loaded by
 * root so bypass_spec_v1 holds): bpf_map_lookup_elem inlined by the map's map_gen_lookup
 * (array_map_gen_lookup, percpu_array_map_gen_lookup, array_of_map_gen_lookup,
 * htab_map_gen_lookup and its LRU/per-CPU/of-maps flavours), and the other map helpers called
 * straight at the map type's ops (insn->imm = BPF_CALL_IMM(ops->map_update_elem) ...).
 */
import type { Insn } from '../isa/insn.js';
import {
  alu64Imm as alu64, alu64Reg, call, jmpA as ja, jmpImm, ldxMem as ldx, mov64PercpuReg as movPercpu, stMem,
} from '../isa/insn_macros.js';
import { BPF_ADD, BPF_JEQ, BPF_JGE, BPF_JNE, BPF_LSH, BPF_MOV, BPF_MUL } from '../isa/opcodes.js';
import { LINUX_6_18_X86_64_DEBIAN as LAYOUT } from '../progtypes/kernel_layout.js';
import type { VerifierMap } from './reg_state.js';

const BPF_F_INNER_MAP = 0x1000;

export const MAP = {
  HASH: 1, ARRAY: 2, PROG_ARRAY: 3, PERCPU_HASH: 5, PERCPU_ARRAY: 6, LRU_HASH: 9, LRU_PERCPU_HASH: 10,
  LPM_TRIE: 11, ARRAY_OF_MAPS: 12, HASH_OF_MAPS: 13, DEVMAP: 14, CPUMAP: 16, XSKMAP: 17, QUEUE: 22,
  STACK: 23, DEVMAP_HASH: 25, RINGBUF: 27, BLOOM_FILTER: 30,
} as const;

/**
 * Helper ids do_misc_fixups() sends to the map's ops. Not bpf_redirect_map: 6.18 calls
 * bpf_xdp_redirect_map for it (as `bpftool prog dump xlated` of the running kernel shows).
 */
export const FUNC = {
  map_lookup_elem: 1, map_update_elem: 2, map_delete_elem: 3, map_push_elem: 87,
  map_pop_elem: 88, map_peek_elem: 89, for_each_map_elem: 164, map_lookup_percpu_elem: 195,
} as const;

/** The instructions of an inlined helper; `calls` maps a patch index to the kernel function it calls. */
export interface HelperPatch { insns: Insn[]; calls: Map<number, string> }

const addReg = (dst: number, src: number): Insn => alu64Reg(BPF_ADD, dst, src);

const roundUp8 = (n: number): number => (n + 7) & ~7;
const off = (path: string): number => {
  const f = LAYOUT.fields[path];
  if (!f) throw new Error(`kernel layout has no ${path}`);
  return f.off;
};
const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;
/** ret = index * elem_size (shift when a power of two). */
const scale = (ret: number, elemSize: number): Insn =>
  isPow2(elemSize) ? alu64(BPF_LSH, ret, Math.log2(elemSize)) : alu64(BPF_MUL, ret, elemSize);

/** map_gen_lookup() of the map's type, or undefined when it has none (the call goes to ops->map_lookup_elem). */
export function mapGenLookup(map: VerifierMap): HelperPatch | undefined {
  const { type, keySize, valueSize, maxEntries, flags } = map.spec;
  const keyOff = off('htab_elem.key') + roundUp8(keySize);
  const htabCall = new Map([[0, '__htab_map_lookup_elem']]);
  switch (type) {
    case MAP.ARRAY: {
      if (flags & BPF_F_INNER_MAP) return undefined;
      // array_map_gen_lookup()
      return {
        insns: [
          alu64(BPF_ADD, 1, off('bpf_array.value')), ldx(4, 0, 2, 0), jmpImm(BPF_JGE, 0, maxEntries, 3),
          scale(0, roundUp8(valueSize)), addReg(0, 1), ja(1), alu64(BPF_MOV, 0, 0),
        ],
        calls: new Map(),
      };
    }
    case MAP.PERCPU_ARRAY: {
      if (flags & BPF_F_INNER_MAP) return undefined;
      // percpu_array_map_gen_lookup()
      return {
        insns: [
          alu64(BPF_ADD, 1, off('bpf_array.pptrs')), ldx(4, 0, 2, 0), jmpImm(BPF_JGE, 0, maxEntries, 5),
          alu64(BPF_LSH, 0, 3), addReg(0, 1), ldx(8, 0, 0, 0), movPercpu(0, 0), ja(1), alu64(BPF_MOV, 0, 0),
        ],
        calls: new Map(),
      };
    }
    case MAP.ARRAY_OF_MAPS: {
      // array_of_map_gen_lookup(): elements are map pointers
      return {
        insns: [
          alu64(BPF_ADD, 1, off('bpf_array.value')), ldx(4, 0, 2, 0), jmpImm(BPF_JGE, 0, maxEntries, 5),
          scale(0, 8), addReg(0, 1), ldx(8, 0, 0, 0), jmpImm(BPF_JEQ, 0, 0, 1), ja(1), alu64(BPF_MOV, 0, 0),
        ],
        calls: new Map(),
      };
    }
    case MAP.HASH:
      // htab_map_gen_lookup()
      return { insns: [call(), jmpImm(BPF_JEQ, 0, 0, 1), alu64(BPF_ADD, 0, keyOff)], calls: htabCall };
    case MAP.LRU_HASH: {
      // htab_lru_map_gen_lookup(): also sets the element's LRU ref bit (r1 is free after the call)
      const ref = off('htab_elem.lru_node') + off('bpf_lru_node.ref');
      return {
        insns: [
          call(), jmpImm(BPF_JEQ, 0, 0, 4), ldx(1, 1, 0, ref), jmpImm(BPF_JNE, 1, 0, 1),
          stMem(1, 0, ref, 1), alu64(BPF_ADD, 0, keyOff),
        ],
        calls: htabCall,
      };
    }
    case MAP.PERCPU_HASH:
      // htab_percpu_map_gen_lookup()
      return {
        insns: [call(), jmpImm(BPF_JEQ, 0, 0, 3), alu64(BPF_ADD, 0, keyOff), ldx(8, 0, 0, 0), movPercpu(0, 0)],
        calls: htabCall,
      };
    case MAP.HASH_OF_MAPS:
      // htab_of_map_gen_lookup()
      return { insns: [call(), jmpImm(BPF_JEQ, 0, 0, 2), alu64(BPF_ADD, 0, keyOff), ldx(8, 0, 0, 0)], calls: htabCall };
    default:
      return undefined;
  }
}

/** The map type's ops function a map helper calls (ops->map_lookup_elem, ->map_update_elem ...). */
const MAP_OPS: Record<number, Partial<Record<number, string>>> = {
  [MAP.ARRAY]: { 1: 'array_map_lookup_elem', 2: 'array_map_update_elem', 3: 'array_map_delete_elem', 164: 'bpf_for_each_array_elem' },
  [MAP.PERCPU_ARRAY]: {
    1: 'percpu_array_map_lookup_elem', 2: 'array_map_update_elem', 3: 'array_map_delete_elem',
    164: 'bpf_for_each_array_elem', 195: 'percpu_array_map_lookup_percpu_elem',
  },
  [MAP.HASH]: { 1: 'htab_map_lookup_elem', 2: 'htab_map_update_elem', 3: 'htab_map_delete_elem', 164: 'bpf_for_each_hash_elem' },
  [MAP.LRU_HASH]: { 1: 'htab_lru_map_lookup_elem', 2: 'htab_lru_map_update_elem', 3: 'htab_lru_map_delete_elem', 164: 'bpf_for_each_hash_elem' },
  [MAP.PERCPU_HASH]: {
    1: 'htab_percpu_map_lookup_elem', 2: 'htab_percpu_map_update_elem', 3: 'htab_map_delete_elem',
    164: 'bpf_for_each_hash_elem', 195: 'htab_percpu_map_lookup_percpu_elem',
  },
  [MAP.LRU_PERCPU_HASH]: {
    1: 'htab_lru_percpu_map_lookup_elem', 2: 'htab_lru_percpu_map_update_elem', 3: 'htab_lru_map_delete_elem',
    164: 'bpf_for_each_hash_elem', 195: 'htab_lru_percpu_map_lookup_percpu_elem',
  },
  [MAP.LPM_TRIE]: { 1: 'trie_lookup_elem', 2: 'trie_update_elem', 3: 'trie_delete_elem' },
  [MAP.ARRAY_OF_MAPS]: { 1: 'array_of_map_lookup_elem', 3: 'fd_array_map_delete_elem' },
  [MAP.HASH_OF_MAPS]: { 1: 'htab_of_map_lookup_elem', 3: 'htab_map_delete_elem' },
  [MAP.PROG_ARRAY]: { 3: 'fd_array_map_delete_elem' },
  [MAP.QUEUE]: { 87: 'queue_stack_map_push_elem', 88: 'queue_map_pop_elem', 89: 'queue_map_peek_elem' },
  [MAP.STACK]: { 87: 'queue_stack_map_push_elem', 88: 'stack_map_pop_elem', 89: 'stack_map_peek_elem' },
  [MAP.BLOOM_FILTER]: { 87: 'bloom_map_push_elem', 89: 'bloom_map_peek_elem' },
  [MAP.DEVMAP]: { 1: 'dev_map_lookup_elem', 2: 'dev_map_update_elem', 3: 'dev_map_delete_elem' },
  [MAP.DEVMAP_HASH]: { 1: 'dev_map_hash_lookup_elem' },
  [MAP.CPUMAP]: { 1: 'cpu_map_lookup_elem', 2: 'cpu_map_update_elem', 3: 'cpu_map_delete_elem' },
  [MAP.XSKMAP]: { 1: 'xsk_map_lookup_elem' },
};

const MAP_HELPERS = new Set<number>(Object.values(FUNC));

/** Whether do_misc_fixups() routes helper `id` to the map's ops. */
export function isMapOpsHelper(id: number): boolean {
  return MAP_HELPERS.has(id);
}

/** The kernel function a map helper ends up calling for this map, if bpfkit knows it. */
export function mapOpsSymbol(map: VerifierMap, helperId: number): string | undefined {
  return MAP_OPS[map.spec.type]?.[helperId];
}

