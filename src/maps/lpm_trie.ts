/*
 * BPF_MAP_TYPE_LPM_TRIE (kernel/bpf/lpm_trie.c): longest-prefix match over keys
 * struct bpf_lpm_trie_key_u8 { u32 prefixlen; u8 data[] } (data in network order, bits counted
 * from the most significant bit of data[0]). The same binary trie as the kernel: nodes with
 * prefixlen and data, intermediate nodes (LPM_TREE_NODE_FLAG_IM) where two prefixes diverge, so
 * get_next_key visits prefixes in the kernel's postorder (more specific ones before the ones
 * containing them, left before right) and restarts from the leftmost node for a missing key.
 *
 * Lookups (from programs and from the syscall) return the longest prefix containing the key; a
 * /0 entry matches everything. Update/delete need the exact prefix. The map holds at most
 * max_entries prefixes (ENOSPC beyond). Values live in a growing SlotPool (BPF_F_NO_PREALLOC is
 * mandatory); replacing a prefix gives its value a new slot, as the kernel allocates a new node.
 * IPv4 tries also keep a stride table in the address space (lpm_table.ts), exact after every
 * update and delete, that the JIT's inline lookups read.
 */
import { BPF_EXIST, BPF_NOEXIST, type MapEnv, type MapSpec } from './types.js';
import { EEXIST, EINVAL, ENOENT, ENOMEM, ENOSPC, MapBase, type RawValue, u32le, putU32 } from './common.js';
import { Ipv4LpmTable } from './lpm_table.js';
import { SlotPool } from './pool.js';

interface LpmNode {
  prefixlen: number;
  data: Uint8Array;
  /** Intermediate node: no value. */
  im: boolean;
  addr: number;
  child: [LpmNode | undefined, LpmNode | undefined];
  /** The first 4 data bytes big-endian: IPv4 tries match in one XOR. */
  word: number;
}

const be32 = (d: Uint8Array, off: number): number => ((d[off] << 24) | (d[off + 1] << 16) | (d[off + 2] << 8) | d[off + 3]) >>> 0;

function extractBit(data: Uint8Array, index: number, off = 0): 0 | 1 {
  return (data[off + (index >> 3)] >> (7 - (index & 7))) & 1 ? 1 : 0;
}

export class LpmTrieMap extends MapBase {
  readonly dataSize: number;
  readonly maxPrefixlen: number;
  private root: LpmNode | undefined;
  private nEntries = 0;
  private readonly pool: SlotPool;
  private readonly table: Ipv4LpmTable | undefined;
  private readonly scratch = new Uint8Array(4);

  constructor(env: MapEnv, spec: MapSpec) {
    super(env, spec);
    this.dataSize = spec.keySize - 4;
    this.maxPrefixlen = this.dataSize * 8;
    this.pool = new SlotPool(env.space, `map ${this.name || '?'} values`, spec.valueSize, spec.maxEntries + 1, false);
    // made with the map, whichever engine runs its programs, so both see the same address space
    if (this.dataSize === 4) {
      this.table = new Ipv4LpmTable(env.space, this.name || '?', spec.maxEntries, {
        best: (addr, bits) => this.lookupNode(bits, this.bytesOf(addr))?.addr ?? 0,
        hasLonger: (addr, bits) => this.hasLonger(bits, this.bytesOf(addr)),
      });
    }
  }

  get size(): number {
    return this.nEntries;
  }

  /** longest_prefix_match(): leading bits node and key share, up to both prefix lengths. */
  private match(node: LpmNode, prefixlen: number, data: Uint8Array, off = 0): number {
    const limit = Math.min(node.prefixlen, prefixlen);
    if (this.dataSize === 4) {
      const x = (node.word ^ be32(data, off)) >>> 0;
      return Math.min(x === 0 ? 32 : Math.clz32(x), limit);
    }
    let n = 0;
    for (let i = 0; i < this.dataSize; i++) {
      const x = node.data[i] ^ data[off + i];
      const b = x === 0 ? 8 : Math.clz32(x) - 24;
      n += b;
      if (n >= limit) return limit;
      if (b < 8) break;
    }
    return n;
  }

  /** trie_lookup_elem(): the node of the longest prefix containing (prefixlen, data[off..]). */
  private lookupNode(prefixlen: number, data: Uint8Array, off = 0): LpmNode | undefined {
    let found: LpmNode | undefined;
    for (let node = this.root; node;) {
      const matchlen = this.match(node, prefixlen, data, off);
      if (matchlen === this.maxPrefixlen) {
        if (!node.im) found = node;
        break;
      }
      if (matchlen < node.prefixlen) break;
      if (!node.im) found = node;
      node = node.child[extractBit(data, node.prefixlen, off)];
    }
    return found;
  }

  private split(key: Uint8Array): { prefixlen: number; data: Uint8Array } {
    return { prefixlen: u32le(key), data: key.subarray(4, 4 + this.dataSize) };
  }

  private checkAdd(flags: number): number {
    if (flags === BPF_EXIST) return -ENOENT;
    if (this.nEntries === this.spec.maxEntries) return -ENOSPC;
    this.nEntries++;
    return 0;
  }

  /** trie_update_elem(). */
  private updateKey(key: Uint8Array, value: Uint8Array, flags: number): number {
    if (flags > BPF_EXIST) return -EINVAL;
    const { prefixlen, data } = this.split(key);
    if (prefixlen > this.maxPrefixlen) return -EINVAL;
    const newNode: LpmNode = { prefixlen, data: data.slice(), im: false, addr: 0, child: [undefined, undefined], word: 0 };
    if (this.dataSize >= 4) newNode.word = be32(newNode.data, 0);
    const attach = (): number => {
      const addr = this.pool.alloc();
      if (addr === 0) return -ENOMEM;
      this.pool.view(addr, this.spec.valueSize).set(value.subarray(0, this.spec.valueSize));
      newNode.addr = addr;
      return 0;
    };
    // slot: (parent, which child) or the root
    let parent: LpmNode | undefined;
    let which: 0 | 1 = 0;
    let node = this.root;
    let matchlen = 0;
    while (node) {
      matchlen = this.match(node, prefixlen, data);
      if (node.prefixlen !== matchlen || node.prefixlen === prefixlen) break;
      parent = node;
      which = extractBit(data, node.prefixlen);
      node = node.child[which];
    }
    const setSlot = (n: LpmNode): void => {
      if (parent) parent.child[which] = n;
      else this.root = n;
    };
    if (!node) {
      const r = this.checkAdd(flags);
      if (r) return r;
      if (attach()) { this.nEntries--; return -ENOMEM; }
      setSlot(newNode);
      return 0;
    }
    if (node.prefixlen === matchlen) { // the exact prefix: replace it
      if (!node.im) {
        if (flags === BPF_NOEXIST) return -EEXIST;
      } else {
        const r = this.checkAdd(flags);
        if (r) return r;
      }
      if (attach()) return -ENOMEM;
      newNode.child = node.child;
      setSlot(newNode);
      if (!node.im) this.pool.release(node.addr);
      return 0;
    }
    const r = this.checkAdd(flags);
    if (r) return r;
    if (attach()) { this.nEntries--; return -ENOMEM; }
    if (matchlen === prefixlen) { // the new prefix contains node: insert it above
      newNode.child[extractBit(node.data, matchlen)] = node;
      setSlot(newNode);
      return 0;
    }
    const im: LpmNode = { prefixlen: matchlen, data: node.data.slice(), im: true, addr: 0, child: [undefined, undefined], word: node.word };
    if (extractBit(data, matchlen)) im.child = [node, newNode];
    else im.child = [newNode, node];
    setSlot(im);
    return 0;
  }

  /** trie_delete_elem(). */
  private deleteKey(key: Uint8Array): number {
    const { prefixlen, data } = this.split(key);
    if (prefixlen > this.maxPrefixlen) return -EINVAL;
    let parent: LpmNode | undefined;
    let grand: LpmNode | undefined; // parent's parent (owner of trim2)
    let gWhich: 0 | 1 = 0;
    let which: 0 | 1 = 0;
    let node = this.root;
    let matchlen = 0;
    while (node) {
      matchlen = this.match(node, prefixlen, data);
      if (node.prefixlen !== matchlen || node.prefixlen === prefixlen) break;
      grand = parent;
      gWhich = which;
      parent = node;
      which = extractBit(data, node.prefixlen);
      node = node.child[which];
    }
    if (!node || node.prefixlen !== prefixlen || node.prefixlen !== matchlen || node.im) return -ENOENT;
    this.nEntries--;
    this.pool.release(node.addr);
    if (node.child[0] && node.child[1]) {
      node.im = true;
      node.addr = 0;
      return 0;
    }
    if (parent && parent.im && !node.child[0] && !node.child[1]) {
      const other = node === parent.child[0] ? parent.child[1] : parent.child[0];
      if (grand) grand.child[gWhich] = other;
      else this.root = other;
      return 0;
    }
    const repl = node.child[0] ?? node.child[1];
    if (parent) parent.child[which] = repl;
    else this.root = repl;
    return 0;
  }

  /** trie_get_next_key(): postorder. */
  private nextKey(key: Uint8Array | undefined): RawValue {
    let searchRoot = this.root;
    if (!searchRoot) return -ENOENT;
    let next: LpmNode | undefined;
    found: if (key !== undefined && u32le(key) <= this.maxPrefixlen) {
      const { prefixlen, data } = this.split(key);
      const stack: LpmNode[] = [];
      let node: LpmNode | undefined = searchRoot;
      let matchlen = 0;
      while (node) {
        stack.push(node);
        matchlen = this.match(node, prefixlen, data);
        if (node.prefixlen !== matchlen || node.prefixlen === prefixlen) break;
        node = node.child[extractBit(data, node.prefixlen)];
      }
      if (!node || node.prefixlen !== matchlen || node.im) break found;
      node = stack[stack.length - 1];
      let sp = stack.length - 1;
      while (sp > 0) {
        const p = stack[sp - 1];
        if (p.child[0] === node && p.child[1]) {
          searchRoot = p.child[1];
          next = undefined;
          break found;
        }
        if (!p.im) return this.keyOf(p);
        node = p;
        sp--;
      }
      return -ENOENT;
    }
    for (let node: LpmNode | undefined = searchRoot; node;) {
      if (node.im) node = node.child[0];
      else {
        next = node;
        node = node.child[0] ?? node.child[1];
      }
    }
    return next ? this.keyOf(next) : -ENOENT;
  }

  private keyOf(n: LpmNode): Uint8Array {
    const k = new Uint8Array(this.spec.keySize);
    putU32(k, 0, n.prefixlen);
    k.set(n.data, 4);
    return k;
  }

  protected rawLookup(key: Uint8Array): RawValue {
    const { prefixlen, data } = this.split(key);
    const n = this.lookupNode(prefixlen, data);
    return n ? this.pool.view(n.addr, this.spec.valueSize).slice() : -ENOENT;
  }
  protected rawUpdate(key: Uint8Array, value: Uint8Array, flags: number): number {
    const r = this.updateKey(key, value, flags);
    if (r === 0) this.table?.changed(be32(key, 4), u32le(key));
    return r;
  }
  protected rawDelete(key: Uint8Array): number {
    const r = this.deleteKey(key);
    if (r === 0) this.table?.changed(be32(key, 4), u32le(key));
    return r;
  }

  /** The address of this IPv4 trie's stride table (the JIT's inline /32 lookups); undefined for other key sizes. */
  ipv4Table(): number | undefined {
    return this.table?.l1;
  }

  private bytesOf(addr: number): Uint8Array {
    const d = this.scratch;
    d[0] = addr >>> 24; d[1] = addr >>> 16; d[2] = addr >>> 8; d[3] = addr;
    return d;
  }

  /** Whether a prefix longer than `bits` lies inside data's /bits: the one path down it holds them all. */
  private hasLonger(bits: number, data: Uint8Array): boolean {
    for (let node = this.root; node;) {
      const m = this.match(node, bits, data);
      if (node.prefixlen > bits) return m === bits;
      if (m < node.prefixlen) return false;
      node = node.child[extractBit(data, node.prefixlen)];
    }
    return false;
  }
  protected rawNextKey(key: Uint8Array | undefined): RawValue {
    return this.nextKey(key);
  }

  /** The program side reads the key in place: no view or copy per lookup (the hot path of LPM firewalls). */
  lookupElem(keyAddr: number, _cpu: number): number {
    this.space.check(keyAddr, this.spec.keySize, 'access');
    const buf = this.space.memory.buffer;
    if (buf !== this.memBuffer) { this.memBuffer = buf; this.mem = new Uint8Array(buf); }
    const m = this.mem!;
    const prefixlen = (m[keyAddr] | (m[keyAddr + 1] << 8) | (m[keyAddr + 2] << 16) | (m[keyAddr + 3] << 24)) >>> 0;
    const n = this.lookupNode(prefixlen, m, keyAddr + 4);
    return n ? n.addr : 0;
  }
  private memBuffer: ArrayBufferLike | undefined;
  private mem: Uint8Array | undefined;

  protected override clear(): void {
    this.root = undefined;
    this.nEntries = 0;
    this.pool.close();
    this.table?.rebuild();
  }

  protected override onClose(): void {
    this.pool.close();
    this.table?.close();
  }
}
