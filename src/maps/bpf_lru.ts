/*
 * The kernel's LRU for LRU_HASH and LRU_PERCPU_HASH (kernel/bpf/bpf_lru_list.c, Linux 6.18), so
 * that eviction happens when and where the kernel's does:
 *
 * - Common LRU (the default): one global list set (active, inactive, free) plus, per CPU, a
 *   local free stack and a pending list. An update takes a node from its CPU's free stack; when
 *   that is empty the CPU flushes its pending nodes into the global lists, rotates them, and pulls
 *   target_free = clamp(max_entries / nr_cpus / 2, 1, 128) nodes from the global free list,
 *   shrinking the inactive list (evicting from the hash table) for what is missing. So the kernel
 *   evicts in batches: a 200-entry map on 2 CPUs holds 151 elements after 201 inserts.
 * - BPF_F_NO_COMMON_LRU: one list set per CPU holding max_entries / nr_cpus nodes, refilled 4
 *   at a time.
 *
 * Program lookups set a node's reference bit (a second chance in the rotations); syscall lookups
 * do not. Lists are circular and doubly linked with a sentinel, as list_head; "add" puts a node
 * at the head, scans that look for old nodes walk from the tail.
 */

export const LRU_ACTIVE = 0;
export const LRU_INACTIVE = 1;
export const LRU_FREE = 2;
const LOCAL_FREE = 3;
const LOCAL_PENDING = 4;

const LOCAL_FREE_TARGET = 128;
const LOCAL_NR_SCANS = LOCAL_FREE_TARGET;
const PERCPU_FREE_TARGET = 4;
const PERCPU_NR_SCANS = PERCPU_FREE_TARGET;

interface Link {
  prev: Link;
  next: Link;
}

export interface LruNode extends Link {
  /** Index of the preallocated element this node belongs to. */
  readonly index: number;
  type: number;
  ref: boolean;
  pendingFree: boolean;
  cpu: number;
}

function sentinel(): Link {
  const s = {} as Link;
  s.prev = s;
  s.next = s;
  return s;
}

function listDel(n: Link): void {
  n.prev.next = n.next;
  n.next.prev = n.prev;
  n.prev = n;
  n.next = n;
}

function listAdd(n: Link, head: Link): void {
  n.next = head.next;
  n.prev = head;
  head.next.prev = n;
  head.next = n;
}

function listMove(n: Link, head: Link): void {
  listDel(n);
  listAdd(n, head);
}

const isEmpty = (head: Link): boolean => head.next === head;

/** Nodes of a list from the tail (oldest) to the head, safe against moving the current one. */
function* reverse(head: Link): Generator<LruNode> {
  for (let n = head.prev; n !== head;) {
    const prev = n.prev;
    yield n as LruNode;
    n = prev;
  }
}

/** Nodes from the head, safe against moving the current one. */
function* forward(head: Link): Generator<LruNode> {
  for (let n = head.next; n !== head;) {
    const next = n.next;
    yield n as LruNode;
    n = next;
  }
}

class LruList {
  readonly lists: [Link, Link, Link] = [sentinel(), sentinel(), sentinel()];
  readonly counts = [0, 0];
  nextInactiveRotation: Link;

  constructor() {
    this.nextInactiveRotation = this.lists[LRU_INACTIVE];
  }

  countInc(type: number): void {
    if (type < 2) this.counts[type]++;
  }

  countDec(type: number): void {
    if (type < 2) this.counts[type]--;
  }
}

interface LocalList {
  /** llist: a stack (push = llist_add, pop = llist_del_first). */
  free: LruNode[];
  pending: Link;
  nextSteal: number;
}

export class BpfLru {
  readonly percpu: boolean;
  readonly nodes: LruNode[] = [];
  private readonly nrCpus: number;
  private readonly nrScans: number;
  private readonly targetFree: number;
  private readonly common: LruList;
  private readonly local: LocalList[] = [];
  private readonly percpuLists: LruList[] = [];
  /** htab_lru_map_delete_node(): remove the node's element from the hash table if it is there. */
  private readonly delFromHtab: (node: LruNode) => boolean;

  constructor(nrElems: number, nrCpus: number, percpu: boolean, delFromHtab: (node: LruNode) => boolean) {
    this.percpu = percpu;
    this.nrCpus = nrCpus;
    this.delFromHtab = delFromHtab;
    this.common = new LruList();
    this.nrScans = percpu ? PERCPU_NR_SCANS : LOCAL_NR_SCANS;
    for (let i = 0; i < nrElems; i++) {
      const n = { index: i, type: LRU_FREE, ref: false, pendingFree: false, cpu: 0 } as LruNode;
      n.prev = n;
      n.next = n;
      this.nodes.push(n);
    }
    if (percpu) { // bpf_percpu_lru_populate
      for (let c = 0; c < nrCpus; c++) this.percpuLists.push(new LruList());
      const per = Math.floor(nrElems / nrCpus);
      let i = 0;
      for (let c = 0; c < nrCpus && i < nrElems; c++) {
        do {
          const n = this.nodes[i];
          n.cpu = c;
          listAdd(n, this.percpuLists[c].lists[LRU_FREE]);
          i++;
        } while (i < nrElems && i % per !== 0);
      }
      this.targetFree = PERCPU_FREE_TARGET;
    } else { // bpf_common_lru_populate
      for (const n of this.nodes) listAdd(n, this.common.lists[LRU_FREE]);
      for (let c = 0; c < nrCpus; c++) this.local.push({ free: [], pending: sentinel(), nextSteal: c });
      this.targetFree = Math.min(LOCAL_FREE_TARGET, Math.max(1, Math.floor(Math.floor(nrElems / nrCpus) / 2)));
    }
  }

  /** bpf_lru_node_set_ref (a program's lookup or a replacing update). */
  setRef(n: LruNode): void {
    n.ref = true;
  }

  // ---- moves between lists (bpf_lru_list.c) ----

  private moveToFree(l: LruList, n: LruNode, freeList: Link | LruNode[], tgtType: number): void {
    if (n === l.nextInactiveRotation) l.nextInactiveRotation = l.nextInactiveRotation.prev;
    l.countDec(n.type);
    n.type = tgtType;
    n.pendingFree = false;
    if (Array.isArray(freeList)) {
      listDel(n);
      freeList.push(n);
    } else {
      listMove(n, freeList);
    }
  }

  private moveIn(l: LruList, n: LruNode, tgtType: number): void {
    l.countInc(tgtType);
    n.type = tgtType;
    n.ref = false;
    n.pendingFree = false;
    listMove(n, l.lists[tgtType]);
  }

  private move(l: LruList, n: LruNode, tgtType: number): void {
    if (n.type !== tgtType) {
      l.countDec(n.type);
      l.countInc(tgtType);
      n.type = tgtType;
    }
    n.ref = false;
    if (n === l.nextInactiveRotation) l.nextInactiveRotation = l.nextInactiveRotation.prev;
    listMove(n, l.lists[tgtType]);
  }

  private rotateActive(l: LruList): void {
    const active = l.lists[LRU_ACTIVE];
    const first = active.next;
    let i = 0;
    for (const n of reverse(active)) {
      this.move(l, n, n.ref ? LRU_ACTIVE : LRU_INACTIVE);
      if (++i === this.nrScans || n === first) break;
    }
  }

  private rotateInactive(l: LruList): void {
    const inactive = l.lists[LRU_INACTIVE];
    if (isEmpty(inactive)) return;
    let last = l.nextInactiveRotation.next;
    if (last === inactive) last = last.next;
    let cur = l.nextInactiveRotation;
    let next: Link = inactive;
    let i = 0;
    while (i < this.nrScans) {
      if (cur === inactive) {
        cur = cur.prev;
        continue;
      }
      const n = cur as LruNode;
      next = cur.prev;
      if (n.ref) this.move(l, n, LRU_ACTIVE);
      if (cur === last) break;
      cur = next;
      i++;
    }
    l.nextInactiveRotation = next;
  }

  private shrinkInactive(l: LruList, tgt: number, freeList: Link | LruNode[], tgtType: number): number {
    let shrunk = 0;
    let i = 0;
    for (const n of reverse(l.lists[LRU_INACTIVE])) {
      if (n.ref && !n.pendingFree) {
        this.move(l, n, LRU_ACTIVE);
      } else if (n.pendingFree || this.delFromHtab(n)) {
        this.moveToFree(l, n, freeList, tgtType);
        if (++shrunk === tgt) break;
      }
      if (++i === this.nrScans) break;
    }
    return shrunk;
  }

  private rotate(l: LruList): void {
    if (l.counts[LRU_INACTIVE] < l.counts[LRU_ACTIVE]) this.rotateActive(l);
    this.rotateInactive(l);
  }

  private shrink(l: LruList, tgt: number, freeList: Link | LruNode[], tgtType: number): number {
    const n = this.shrinkInactive(l, tgt, freeList, tgtType);
    if (n) return n;
    const force = !isEmpty(l.lists[LRU_INACTIVE]) ? l.lists[LRU_INACTIVE] : l.lists[LRU_ACTIVE];
    for (const node of reverse(force)) {
      if (node.pendingFree || this.delFromHtab(node)) {
        this.moveToFree(l, node, freeList, tgtType);
        return 1;
      }
    }
    return 0;
  }

  private flushLocal(l: LruList, loc: LocalList): void {
    for (const n of reverse(loc.pending)) {
      this.moveIn(l, n, n.pendingFree ? LRU_FREE : n.ref ? LRU_ACTIVE : LRU_INACTIVE);
    }
  }

  private popFreeToLocal(loc: LocalList): void {
    const l = this.common;
    this.flushLocal(l, loc);
    this.rotate(l);
    const tmp: LruNode[] = [];
    let nfree = 0;
    for (const n of forward(l.lists[LRU_FREE])) {
      this.moveToFree(l, n, tmp, LOCAL_FREE);
      if (++nfree === this.targetFree) break;
    }
    if (nfree < this.targetFree) this.shrink(l, this.targetFree - nfree, tmp, LOCAL_FREE);
    // llist_add of each node of tmp_free (built by adding at its head): pops in the order taken
    loc.free.unshift(...tmp);
  }

  private addPending(loc: LocalList, cpu: number, n: LruNode): void {
    n.cpu = cpu;
    n.type = LOCAL_PENDING;
    n.pendingFree = false;
    n.ref = false;
    listAdd(n, loc.pending);
  }

  private popPending(loc: LocalList): LruNode | undefined {
    for (const force of [false, true]) {
      for (const n of reverse(loc.pending)) {
        if ((!n.ref || force) && (n.pendingFree || this.delFromHtab(n))) {
          listDel(n);
          return n;
        }
      }
    }
    return undefined;
  }

  /** bpf_lru_pop_free: a node for a new element on `cpu` (evicting as the kernel does), or undefined. */
  popFree(cpu: number): LruNode | undefined {
    cpu %= this.nrCpus;
    if (this.percpu) {
      const l = this.percpuLists[cpu];
      this.rotate(l);
      const free = l.lists[LRU_FREE];
      if (isEmpty(free)) this.shrink(l, PERCPU_FREE_TARGET, free, LRU_FREE);
      if (isEmpty(free)) return undefined;
      const n = free.next as LruNode;
      n.ref = false;
      this.move(l, n, LRU_INACTIVE);
      return n;
    }
    const loc = this.local[cpu];
    let n = loc.free.shift();
    if (!n) {
      this.popFreeToLocal(loc);
      n = loc.free.shift();
    }
    if (n) {
      this.addPending(loc, cpu, n);
      return n;
    }
    const first = loc.nextSteal;
    let steal = first;
    do {
      const victim = this.local[steal];
      n = victim.free.shift() ?? this.popPending(victim);
      steal = (steal + 1) % this.nrCpus;
    } while (!n && steal !== first);
    loc.nextSteal = steal;
    if (!n) return undefined;
    this.addPending(loc, cpu, n);
    return n;
  }

  /** bpf_lru_push_free: the node's element left the table. */
  pushFree(n: LruNode): void {
    if (this.percpu) {
      this.move(this.percpuLists[n.cpu], n, LRU_FREE);
      return;
    }
    if (n.type === LOCAL_PENDING) {
      n.type = LOCAL_FREE;
      n.ref = false;
      listDel(n);
      this.local[n.cpu].free.unshift(n);
      return;
    }
    this.move(this.common, n, LRU_FREE);
  }
}
