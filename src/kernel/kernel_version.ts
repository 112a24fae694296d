/*
 * The kernel version bpfkit follows, and every behaviour that depends on it, in one place. When a
 * fact changes with the kernel (a hash, a limit, a message), it is decided here and nowhere else.
 */

/** The kernel whose behaviour bpfkit reproduces by default (the CI/dev machine runs 6.18). */
export const DEFAULT_KERNEL_VERSION = { major: 6, minor: 18 } as const;

export interface KernelVersion {
  readonly major: number;
  readonly minor: number;
}

export function kernelAtLeast(v: KernelVersion, major: number, minor: number): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}

/**
 * bpf_prog_calc_tag(): the first 8 bytes of a digest of the instructions (map fds zeroed).
 * SHA-1 until 6.17; Linux 6.18 hashes with SHA-256 (the commit that moved BPF to the
 * library sha256, for signed programs). Checked against `bpftool prog show` on 6.18.44.
 */
export function progTagHash(v: KernelVersion): 'sha1' | 'sha256' {
  return kernelAtLeast(v, 6, 18) ? 'sha256' : 'sha1';
}

/** BPF_OBJ_NAME_LEN: object names hold 15 characters plus the NUL. */
export const BPF_OBJ_NAME_LEN = 16;

/** Where bpffs is mounted; pin paths must lie below it. */
export const BPFFS_MOUNT = '/sys/fs/bpf';

/**
 * Sizes of kernel structures that show through map memory accounting (fdinfo "memlock", which
 * bpftool prints), x86_64 Linux 6.18, measured with bpftool against estimateMapMemlock().
 */
export const KERNEL_STRUCT_SIZES = {
  bpf_array: 312,
  bpf_htab: 832,
  htab_elem: 48,
  htab_bucket: 16,
  /** HASHTAB_MAP_LOCK_COUNT per-CPU int locks. */
  htab_map_lock_count: 8,
  bpf_queue_stack: 312,
  bpf_dtab: 344,
  bpf_cpu_map: 304,
  xsk_map: 304,
  bpf_ringbuf_map: 304,
  /** RINGBUF_NR_META_PAGES (the consumer, producer and pending position pages). */
  ringbuf_meta_pages: 3,
  bpf_bloom_filter: 312,
  page_size: 4096,
} as const;
