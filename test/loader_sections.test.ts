/*
 * libbpf's SEC() table and matching rules, the older conventions bpfkit also takes, .kconfig
 * externs, '?' sections, string literals in .rodata.str1.1 and internal map names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import '../src/api/index.js';
import { BpfError } from '../src/errors.js';
import { createHelperHost, registerHelpers } from '../src/helpers/index.js';
import { Bpf } from '../src/kernel/bpf.js';
import { loadObjectIntoKernel } from '../src/kernel/load.js';
import { internalMapName, objectNameFromPath } from '../src/loader/maps.js';
import { openObject } from '../src/loader/object.js';
import { SECTION_DEFS, secDefForSection, secDefMatches } from '../src/loader/sec_defs.js';
import { interpret } from '../src/vm/interpreter.js';

const root = new URL('../../', import.meta.url);
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`test/fixtures/loader/${name}`, root)));

test('SEC() matching: exact, x+ and x/ as sec_def_matches()', () => {
  const def = (sec: string) => SECTION_DEFS.find((d) => d.sec === sec)!;
  assert.ok(secDefMatches(def('kprobe+'), 'kprobe'));
  assert.ok(secDefMatches(def('kprobe+'), 'kprobe/do_sys_open'));
  assert.ok(!secDefMatches(def('kprobe+'), 'kprobes'));
  assert.ok(secDefMatches(def('xdp'), 'xdp'));
  assert.ok(!secDefMatches(def('xdp'), 'xdp/simple'));
  const m = (s: string) => { const r = secDefForSection(s); return r && [r.progType, r.expectedAttachType, r.legacy]; };
  assert.deepEqual(m('xdp'), [6, 37, false]);
  assert.deepEqual(m('xdp.frags'), [6, 37, false]);
  assert.deepEqual(m('xdp/devmap'), [6, 33, false]);
  assert.deepEqual(m('tc'), [3, 0, false]);
  assert.deepEqual(m('tcx/ingress'), [3, 46, false]);
  assert.deepEqual(m('cgroup_skb/egress'), [8, 1, false]);
  assert.deepEqual(m('fentry/tcp_v4_connect'), [26, 24, false]);
  assert.deepEqual(m('sk_skb/stream_verdict'), [14, 5, false]);
  // The older conventions: libbpf 0.x prefixes, samples/bpf, iproute2.
  assert.deepEqual(m('xdp/simple'), [6, 37, true]);
  assert.deepEqual(m('socket1'), [1, 0, true]);
  assert.deepEqual(m('xdp_devmap/prog'), [6, 33, true]);
  assert.equal(secDefForSection('cls'), undefined);
  assert.equal(secDefForSection('zzz'), undefined);
});

test('internal map names as libbpf\'s internal_map_name()', () => {
  assert.equal(internalMapName('btf_maps', '.rodata'), 'btf_maps.rodata');
  assert.equal(internalMapName('global_data', '.bss'), 'global_d.bss');
  assert.equal(internalMapName('a', '.data'), 'a.data');
  assert.equal(internalMapName('kconfig_misc', '.kconfig'), 'kconfig.kconfig');
  assert.equal(internalMapName('whatever', '.rodata.str1.1'), '.rodata.str1.1');
  assert.equal(internalMapName('x', '.data.a_very_long_name'), '.data.a_very_lo');
  assert.equal(objectNameFromPath('/tmp/dir.x/my-prog.bpf.o'), 'my-prog');
});

test('.kconfig externs, ? sections, string literals, a legacy socket filter', () => {
  const obj = openObject(fixture('kconfig_misc.o'), 'kconfig_misc.o');
  assert.deepEqual(obj.kconfig.map((e) => [e.name, e.offset, e.size, e.weak, e.kcfgType]), [
    ['CONFIG_HZ', 0, 4, true, 'int'], ['LINUX_KERNEL_VERSION', 4, 4, false, 'int'],
    ['CONFIG_BPF_SYSCALL', 8, 1, false, 'bool'], ['CONFIG_DEFAULT_HOSTNAME', 9, 8, true, 'char_array'],
  ]);
  assert.deepEqual(obj.maps.map((m) => [m.name, m.kind, m.valueSize, m.mapFlags]), [
    ['.rodata.str1.1', 'rodata', 13, 0x80], ['kconfig.kconfig', 'kconfig', 17, 0x480],
  ]);
  assert.deepEqual(obj.programs.map((p) => [p.name, p.section, p.autoload, p.progType, p.legacySection]), [
    ['kver', 'xdp', true, 6, false], ['optional', 'xdp', false, 6, false], ['sock_proto', 'socket1', true, 1, true],
  ]);

  const bpf = new Bpf();
  registerHelpers(bpf.vm.helpers, createHelperHost({ seed: 1 }));
  const kconfig = { LINUX_KERNEL_VERSION: (6 << 16) | (18 << 8), CONFIG_HZ: 250, CONFIG_BPF_SYSCALL: true, CONFIG_DEFAULT_HOSTNAME: 'a' };
  const lo = loadObjectIntoKernel(bpf, fixture('kconfig_misc.o'), 'kconfig_misc.o', { kconfig });
  assert.deepEqual(lo.programs.map((p) => p.name), ['kver', 'sock_proto'], "'?' programs are not autoloaded");
  assert.equal(bpf.mapInfo(lo.map('kconfig.kconfig').fd).frozen, true);
  const r0 = interpret(bpf.vm, lo.runInsns('kver'), { args: [0n] }).r0;
  assert.equal(r0, 6n * 1000n + 250n + 97n);
  // Weak externs may be missing (zero); strong ones may not.
  const lo2 = loadObjectIntoKernel(bpf, fixture('kconfig_misc.o'), 'kconfig_misc.o', { kconfig: { LINUX_KERNEL_VERSION: 5 << 16, CONFIG_BPF_SYSCALL: 'y' } });
  assert.equal(interpret(bpf.vm, lo2.runInsns('kver'), { args: [0n] }).r0, 5000n);
  assert.throws(() => loadObjectIntoKernel(bpf, fixture('kconfig_misc.o'), 'kconfig_misc.o', { kconfig: { CONFIG_BPF_SYSCALL: true } }),
    (err: unknown) => err instanceof BpfError && /extern \(kcfg\) 'LINUX_KERNEL_VERSION': value not found/.test(err.message));
  // select: the optional program too; its string literal lives in .rodata.str1.1.
  const all = loadObjectIntoKernel(bpf, fixture('kconfig_misc.o'), 'kconfig_misc.o', { kconfig, select: () => true });
  assert.equal(all.programs.length, 3);
  assert.equal(new TextDecoder().decode(bpf.mapLookup(all.map('.rodata.str1.1').fd, new Uint8Array(4))), 'optional %d\n\0');
});
