/*
 * `bpfkit map ...` in-process, each command on a fresh kernel over one memory pin store (as
 * separate processes over BPFKIT_STATE would be), with the stand-in maps: bpftool's output
 * formats, messages and exit codes as observed from bpftool v7.1 on Linux 6.18.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCliCaptured } from '../src/cli/main.js';
import { BpfJsonWriter, fprintHex, setCliKernel, strtoul } from '../src/cli/map.js';
import { Bpf } from '../src/kernel/bpf.js';
import { PinStore } from '../src/kernel/pin_store.js';
import { MemoryStoreFs } from '../src/kernel/store_fs.js';
import { createFakeMap } from './kernel_obj_fakemap.js';

function fresh(): void {
  const fs = new MemoryStoreFs();
  setCliKernel(() => new Bpf({ store: new PinStore(fs), createMap: createFakeMap, nrCpus: 2 }));
}

const run = (line: string) => runCliCaptured(line.split(' ').filter((w) => w !== ''));
const P = '/sys/fs/bpf/bk_t1';

test('create, update, dump, lookup, getnext, delete: bpftool\'s text', async () => {
  fresh();
  assert.deepEqual(await run(`map create ${P} type hash key 4 value 8 entries 16 name bkt1`), { status: 0, stdout: '', stderr: '' });
  assert.deepEqual(await run(`map show pinned ${P}`), {
    status: 0, stderr: '',
    stdout: '1: hash  name bkt1  flags 0x0\n\tkey 4B  value 8B  max_entries 16  memlock 2320B\n',
  });
  assert.equal((await run(`-j map show pinned ${P}`)).stdout,
    '{"id":1,"type":"hash","name":"bkt1","flags":0,"bytes_key":4,"bytes_value":8,"max_entries":16,"bytes_memlock":2320,"frozen":0}\n');
  assert.equal((await run(`map update pinned ${P} key 1 0 0 0 value 1 2 3 4 5 6 7 8`)).status, 0);
  assert.deepEqual(await run(`map update pinned ${P} key 1 0 0 0 value 1 2 3 4 5 6 7 8 noexist`), {
    status: 239, stdout: '', stderr: 'Error: update failed: File exists\n',
  });
  assert.equal((await run(`map update pinned ${P} key hex 02 0 0 0 value 0x10 2 3 4 5 6 7 0377`)).status, 0);
  assert.deepEqual(await run(`map dump pinned ${P}`), {
    status: 0, stderr: '',
    stdout: 'key: 01 00 00 00  value: 01 02 03 04 05 06 07 08\nkey: 02 00 00 00  value: 10 02 03 04 05 06 07 ff\nFound 2 elements\n',
  });
  assert.equal((await run(`-j map dump pinned ${P}`)).stdout,
    '[{"key":["0x01","0x00","0x00","0x00"],"value":["0x01","0x02","0x03","0x04","0x05","0x06","0x07","0x08"]},'
    + '{"key":["0x02","0x00","0x00","0x00"],"value":["0x10","0x02","0x03","0x04","0x05","0x06","0x07","0xff"]}]\n');
  assert.equal((await run(`-p map dump pinned ${P}`)).stdout, `[{
        "key": ["0x01","0x00","0x00","0x00"
        ],
        "value": ["0x01","0x02","0x03","0x04","0x05","0x06","0x07","0x08"
        ]
    },{
        "key": ["0x02","0x00","0x00","0x00"
        ],
        "value": ["0x10","0x02","0x03","0x04","0x05","0x06","0x07","0xff"
        ]
    }
]
`);
  assert.deepEqual(await run(`map lookup pinned ${P} key 1 0 0 0`), { status: 0, stderr: '', stdout: 'key: 01 00 00 00  value: 01 02 03 04 05 06 07 08\n' });
  assert.deepEqual(await run(`map lookup pinned ${P} key 9 0 0 0`), { status: 254, stderr: '', stdout: 'key:\n09 00 00 00\n\nNot found\n' });
  assert.deepEqual(await run(`-j map lookup pinned ${P} key 9 0 0 0`), { status: 254, stderr: '', stdout: 'null\n' });
  assert.deepEqual(await run(`map getnext pinned ${P}`), { status: 0, stderr: '', stdout: 'key: None\nnext key:\n01 00 00 00\n' });
  assert.deepEqual(await run(`map getnext pinned ${P} key 1 0 0 0`), { status: 0, stderr: '', stdout: 'key:\n01 00 00 00\nnext key:\n02 00 00 00\n' });
  assert.deepEqual(await run(`-j map getnext pinned ${P}`), { status: 0, stderr: '', stdout: '{"key":null,"next_key":["0x01","0x00","0x00","0x00"]}\n' });
  assert.deepEqual(await run(`map getnext pinned ${P} key 2 0 0 0`), { status: 254, stdout: '', stderr: "Error: can't get next key: No such file or directory\n" });
  assert.deepEqual(await run(`map delete pinned ${P} key 1 0 0 0`), { status: 0, stdout: '', stderr: '' });
  assert.deepEqual(await run(`map delete pinned ${P} key 1 0 0 0`), { status: 254, stdout: '', stderr: 'Error: delete failed: No such file or directory\n' });
  assert.deepEqual(await run(`-j map delete pinned ${P} key 2 0 0 0`), { status: 0, stdout: 'null\n', stderr: '' });
});

test('bad input: one Error line, bpftool\'s words and exit codes', async () => {
  fresh();
  await run(`map create ${P} type hash key 4 value 8 entries 16 name bkt1`);
  const cases: [string, string, number][] = [
    [`map update pinned ${P} key 1 0 0 value 1`, 'error parsing byte: value', 255],
    [`map update pinned ${P} key 1 0 0 0 0 value 1`, 'expected key or value, got: 0', 255],
    [`map update pinned ${P} key 1 0 0 0x100 value 1`, 'value expected 8 bytes got 1', 255],
    [`map update pinned ${P} key 1 0 0 zz value 1`, 'error parsing byte: zz', 255],
    [`map update pinned ${P} key 1 0 0 0 value 1 2 3 4 5 6 7 8 9`, 'expected key or value, got: 9', 255],
    [`map update pinned ${P} key 1 0 0 0 value 1 2 3 4 5 6 7`, 'value expected 8 bytes got 7', 255],
    [`map update pinned ${P} key 1 0 0 0`, 'did not find value', 255],
    [`map update pinned ${P} key 1 0 0 0 value 1 2 3 4 5 6 7 8 exist`, 'update failed: No such file or directory', 254],
    [`map update pinned ${P} key 1 0 0 0 value 1 2 3 4 5 6 7 8 any any`, 'flags specified multiple times: any', 255],
    [`map lookup pinned ${P} key 1 0 0 0 value 1`, 'unnecessary value', 255],
    ['map show id 99999', 'get map by id (99999): No such file or directory', 255],
    ['map show pinned /sys/fs/bpf/nonexist', 'bpf obj get (/sys/fs/bpf/nonexist): No such file or directory', 255],
    ['map show id x1', "can't parse x1 as ID", 255],
    ['map show bogus 1', "expected 'id', 'name' or 'pinned', got: 'bogus'?", 255],
    ['map show id 1 extra', "what is 'id'?", 255],
    [`map create ${P} type hash key 4 value 8 entries 16 name bkt1`, `can't pin the object (${P}): File exists`, 239],
    ['map create /sys/fs/bpf/x type hash key 4 value 8 entries 16', 'map name not specified', 255],
    ['map create /sys/fs/bpf/x type hashx key 4 value 8 entries 16 name x', 'unrecognized map type: hashx', 255],
    ['map create /sys/fs/bpf/x type hash key 0 value 8 entries 0 name x', 'map create failed: Invalid argument', 255],
    ['map create /sys/fs/bpf/x type hash key 4 value 8 entries 16 name x bogus 1', 'unknown arg bogus', 255],
    ['map create /sys/fs/bpf/x type hash key 4 value 8 entries 16 name x key 5', 'key size already specified', 255],
    ['map create /sys/fs/bpf/x type hash', "'create' needs at least 7 arguments, 3 found", 255],
  ];
  for (const [line, message, status] of cases) {
    const r = await run(line);
    assert.deepEqual(r, { status, stdout: '', stderr: `Error: ${message}\n` }, line);
    const j = await run(`-j ${line}`);
    assert.deepEqual(j, { status, stdout: `{"error":${JSON.stringify(message)}}\n`, stderr: '' }, `-j ${line}`);
  }
  assert.deepEqual(await run('map show name nonexist'), { status: 255, stdout: '', stderr: '' });
  const help = await run('map bogus');
  assert.equal(help.status, 255);
  assert.match(help.stderr, /^Usage: bpfkit map \{ show \| list \} {3}\[MAP\]\n/);
  assert.equal((await run('map dump')).status, 255);
});

test('names, ids, pins, freeze, arrays with long values, queues', async () => {
  fresh();
  assert.equal((await run('map create /sys/fs/bpf/a type array key 4 value 40 entries 2 name arr')).status, 0);
  assert.equal((await run('map create /sys/fs/bpf/b type hash key 4 value 8 entries 4 name this_is_a_long_name_x')).status, 0);
  assert.match((await run('map show id 2')).stdout, /^2: hash  name this_is_a_long_  flags 0x0\n/);
  assert.equal((await run(`map update name arr key 1 0 0 0 value ${Array.from({ length: 40 }, (_, i) => i + 1).join(' ')}`)).status, 0);
  assert.equal((await run('map dump id 1')).stdout, `key:
00 00 00 00
value:
00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00
00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00
00 00 00 00 00 00 00 00
key:
01 00 00 00
value:
01 02 03 04 05 06 07 08  09 0a 0b 0c 0d 0e 0f 10
11 12 13 14 15 16 17 18  19 1a 1b 1c 1d 1e 1f 20
21 22 23 24 25 26 27 28
Found 2 elements
`);
  assert.deepEqual(await run('map delete pinned /sys/fs/bpf/a key 1 0 0 0'), { status: 234, stdout: '', stderr: 'Error: delete failed: Invalid argument\n' });
  assert.deepEqual(await run('map freeze pinned /sys/fs/bpf/a'), { status: 0, stdout: '', stderr: '' });
  assert.deepEqual(await run('map freeze pinned /sys/fs/bpf/a'), { status: 255, stdout: '', stderr: 'Error: failed to freeze map: Operation not permitted\n' });
  assert.match((await run('map show name arr')).stdout, /\n\tfrozen\n$/);
  assert.match((await run('-j map show name arr')).stdout, /"frozen":1}\n$/);
  assert.deepEqual(await run('map update id 1 key 0 0 0 0 value ' + '0 '.repeat(40)), { status: 255, stdout: '', stderr: 'Error: update failed: Operation not permitted\n' });
  assert.deepEqual(await run('map pin id 1 /sys/fs/bpf/c'), { status: 0, stdout: '', stderr: '' });
  assert.deepEqual(await run('map pin id 1 /sys/fs/bpf/c'), { status: 239, stdout: '', stderr: "Error: can't pin the object (/sys/fs/bpf/c): File exists\n" });
  assert.equal((await run('map list')).stdout.split('\n').filter((l) => /^\d+:/.test(l)).length, 2);
  assert.match((await run('-j map')).stdout, /^\[\{"id":1,.*\},\{"id":2,.*\}\]\n$/);

  assert.equal((await run('map create /sys/fs/bpf/q type queue key 0 value 4 entries 4 name q')).status, 0);
  assert.deepEqual(await run('map push pinned /sys/fs/bpf/q value 1 2 3 4'), { status: 0, stdout: '', stderr: '' });
  assert.deepEqual(await run('map peek pinned /sys/fs/bpf/q'), { status: 0, stdout: 'value: 01 02 03 04\n', stderr: '' });
  assert.deepEqual(await run('map pop pinned /sys/fs/bpf/q'), { status: 0, stdout: 'value: 01 02 03 04\n', stderr: '' });
  assert.deepEqual(await run('map pop pinned /sys/fs/bpf/q'), { status: 254, stdout: 'Error: empty map\n', stderr: '' });
  assert.deepEqual(await run('map peek pinned /sys/fs/bpf/q'), { status: 254, stdout: 'key:\n\n\nNot found\n', stderr: '' });
  assert.deepEqual(await run('-j map dequeue pinned /sys/fs/bpf/q'), { status: 254, stdout: 'null\n', stderr: '' });
  assert.deepEqual(await run('map dump pinned /sys/fs/bpf/q'), { status: 234, stdout: 'Found 0 elements\n', stderr: '' });
  setCliKernel(undefined);
});

test('strtoul and fprint_hex as glibc and bpftool', () => {
  assert.deepEqual(strtoul('0x10'), { value: 16n, ok: true });
  assert.deepEqual(strtoul('010'), { value: 8n, ok: true });
  assert.deepEqual(strtoul('-1'), { value: 2n ** 64n - 1n, ok: true });
  assert.deepEqual(strtoul(''), { value: 0n, ok: true });
  assert.deepEqual(strtoul('08'), { value: 0n, ok: false });
  assert.deepEqual(strtoul('ff', 16), { value: 255n, ok: true });
  assert.deepEqual(strtoul('0x', 16), { value: 0n, ok: false });
  assert.equal(fprintHex(new Uint8Array(18).fill(1)), '01 01 01 01 01 01 01 01  01 01 01 01 01 01 01 01\n01 01');
  const jw = new BpfJsonWriter(true);
  jw.startObject(); jw.uintField('big', 2n ** 64n - 1n); jw.endObject();
  assert.equal(jw.finish(), '{\n    "big": 18446744073709551615\n}\n');
});
