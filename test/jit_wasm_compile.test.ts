/*
 * wasm_compile.ts: on Node the JIT's modules compile eagerly (every function in the constructor,
 * in parallel), with V8's lazy-compilation flag switched for that call only. Observed in a child
 * process with --print-wasm-code, which prints each function as Liftoff compiles it, between
 * markers the script writes to the same stream: when bpfkit's functions compile, whether a module
 * of the user's compiled afterwards is still lazy, and that a process started with its own
 * opinion on the flag is left alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { makeInsn } from '../src/isa/insn.js';
import { interpret } from '../src/vm/interpreter.js';
import { Vm } from '../src/vm/vm.js';
import { compileJit, runJit } from '../src/vm/jit/index.js';
import { EAGER_MIN_BYTES, compileWasmModule, eagerCompilation } from '../src/vm/jit/wasm_compile.js';
import { syntheticProgram } from './jit_synthetic_lib.js';

const url = (path: string): string => new URL(path, import.meta.url).href;

// (module (func (export "f") (result i32) i32.const 7))
const USER_MODULE = [0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 127, 3, 2, 1, 0, 7, 5, 1, 1, 102, 0, 0, 10, 6, 1, 4, 0, 65, 7, 11];

const CHILD = `
import { writeSync } from 'node:fs';
const { Vm } = await import(${JSON.stringify(url('../src/vm/vm.js'))});
const { compileJit } = await import(${JSON.stringify(url('../src/vm/jit/index.js'))});
const { syntheticProgram } = await import(${JSON.stringify(url('./jit_synthetic_lib.js'))});
const { EAGER_MIN_BYTES, compileWasmModule } = await import(${JSON.stringify(url('../src/vm/jit/wasm_compile.js'))});
const mark = (m) => writeSync(1, 'MARK ' + m + '\\n');
const vm = new Vm();
const insns = syntheticProgram(1500);
mark('compile');
const p = compileJit(vm, insns);
mark('prepare ' + p.functions);
p.prepare();
// an invalid module: the constructor throws, and the flag is restored all the same
const bad = new Uint8Array(EAGER_MIN_BYTES + 16);
bad.set([0, 97, 115, 109, 1, 0, 0, 0, 99]);
try { compileWasmModule(WebAssembly.Module, bad); mark('invalid module compiled'); } catch (e) { if (!(e instanceof WebAssembly.CompileError)) throw e; }
mark('user module');
const m = new WebAssembly.Module(new Uint8Array(${JSON.stringify(USER_MODULE)}));
mark('user call');
new WebAssembly.Instance(m).exports.f();
mark('end');
`;

/** Functions Liftoff compiled between each marker and the next (the marker's text as key). */
function compiledBetweenMarkers(nodeArgs: readonly string[], prelude = ''): Map<string, number> {
  const r = spawnSync(process.execPath, [...nodeArgs, '--print-wasm-code', '--input-type=module', '-e', prelude + CHILD], {
    encoding: 'utf8', maxBuffer: 256 << 20, env: { ...process.env, NODE_OPTIONS: '' },
  });
  assert.equal(r.status, 0, r.stderr);
  const out = new Map<string, number>();
  let at = 'start';
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('MARK ')) out.set((at = line.slice(5)), 0);
    else if (line === 'compiler: Liftoff') out.set(at, (out.get(at) ?? 0) + 1);
  }
  return out;
}

test('wasm_compile: a large module compiles in its constructor; the user\'s modules stay lazy', (t) => {
  if (!eagerCompilation()) return t.skip('this runtime does not let bpfkit switch V8 flags (eager compilation is Node-only)');
  const seen = compiledBetweenMarkers([]);
  if (![...seen.values()].some((n) => n > 0)) return t.skip('this V8 prints no code with --print-wasm-code');
  // the entry, its second half (regions.ts) and the host stub compiled by compileJit() itself
  assert.ok((seen.get('compile') ?? 0) >= 3, `compileJit compiled ${seen.get('compile')} functions`);
  assert.equal([...seen.keys()].find((k) => k.startsWith('prepare')), 'prepare 1', 'the program in two functions');
  assert.equal(seen.get('prepare 1'), 0, 'prepare() found everything compiled');
  // the flag is back (after a constructor that threw, too): the user's module compiles its
  // function on the first call, not before
  assert.ok(!seen.has('invalid module compiled'));
  assert.equal(seen.get('user module'), 0);
  assert.equal(seen.get('user call'), 1);
});

test('wasm_compile: a process started with its own --[no-]wasm-lazy-compilation, or another runtime, is left as it is', (t) => {
  if (!eagerCompilation()) return t.skip('this runtime does not let bpfkit switch V8 flags (eager compilation is Node-only)');
  const eager = compiledBetweenMarkers(['--no-wasm-lazy-compilation']);
  if (![...eager.values()].some((n) => n > 0)) return t.skip('this V8 prints no code with --print-wasm-code');
  assert.equal(eager.get('user module'), 1, 'the user\'s module compiled eagerly, as asked');
  assert.equal(eager.get('user call'), 0);
  assert.equal([...eager.keys()].find((k) => k.startsWith('prepare')), 'prepare 0', 'not cut: V8 compiles it as the user asked, bpfkit does not know how');
  const lazy = compiledBetweenMarkers(['--wasm-lazy-compilation']);
  assert.equal(lazy.get('compile'), 0, 'lazily: nothing compiled in compileJit()');
  assert.ok((lazy.get('prepare 0') ?? 0) >= 1, 'the program compiled by its first calls');
  assert.equal(lazy.get('user call'), 1);
  // a runtime that presents itself as Node is not Node: no flags written
  const bun = compiledBetweenMarkers([], "Object.defineProperty(process, 'versions', { value: { ...process.versions, bun: '1.1.0' } });\n");
  assert.equal(bun.get('compile'), 0, 'as under Bun: nothing compiled in compileJit()');
  assert.equal([...bun.keys()].find((k) => k.startsWith('prepare')), 'prepare 0');
});

test('wasm_compile: the constructor\'s errors pass through; programs either side of EAGER_MIN_BYTES run as on the interpreter', () => {
  const Module = (globalThis as unknown as { WebAssembly: { Module: new (b: Uint8Array) => object } }).WebAssembly.Module;
  const bad = new Uint8Array(EAGER_MIN_BYTES + 16);
  bad.set([0, 97, 115, 109, 1, 0, 0, 0, 99]);
  assert.throws(() => compileWasmModule(Module, bad), (e: Error) => e.name === 'CompileError');
  assert.ok(compileWasmModule(Module, new Uint8Array(USER_MODULE)) instanceof Module);
  const vm = new Vm();
  const small = [makeInsn(0xb7, 0, 0, 0, 42), makeInsn(0x95)];
  assert.ok(compileJit(vm, small).wasmSize < EAGER_MIN_BYTES);
  assert.equal(runJit(vm, small).r0, 42n);
  const big = syntheticProgram(1500);
  const p = compileJit(vm, big);
  assert.ok(p.wasmSize >= EAGER_MIN_BYTES);
  assert.deepEqual(p.run(), interpret(new Vm(), big));
});
