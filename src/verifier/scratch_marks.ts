/*
 * The scratched registers and stack slots (env->scratched_regs / scratched_stack_slots): which
 * ones print in the next state line. A set of small integers cleared after every instruction,
 * so clearing touches only what was marked (a JavaScript Set's clear() reallocates its table,
 * which cost a third of a straight-line walk).
 */
export class ScratchMarks {
  private on = new Uint8Array(64);
  private list: number[] = [];

  add(i: number): void {
    if (i < 0) return;
    if (i >= this.on.length) {
      const grown = new Uint8Array(Math.max(i + 1, this.on.length * 2));
      grown.set(this.on);
      this.on = grown;
    }
    if (this.on[i]) return;
    this.on[i] = 1;
    this.list.push(i);
  }

  has(i: number): boolean { return i >= 0 && i < this.on.length && this.on[i] === 1; }

  get size(): number { return this.list.length; }

  clear(): void {
    const list = this.list;
    for (let k = 0; k < list.length; k++) this.on[list[k]] = 0;
    list.length = 0;
  }
}
