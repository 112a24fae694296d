#!/bin/sh
# Rebuild the committed objects from their sources, so tests run on machines without clang:
#   test/fixtures/*.s  -> *.o  with llvm-mc-19 (cpu v4)
#   test/fixtures/*.c  -> *.o  with clang-19 -O2 -g -target bpf
#   examples/*.c       -> *.o  with clang-19 -O2 -g -target bpf
#   examples/*.bin     packets, from scripts/make-packets.mjs
# test/fixtures/llvm/ has its own recipe and is left alone.
# Usage: scripts/build-fixtures.sh   (from anywhere; LLVM_MC / CLANG override the tools)
set -eu
cd "$(dirname "$0")/.."
LLVM_MC=${LLVM_MC:-llvm-mc-19}
CLANG=${CLANG:-clang-19}

for s in test/fixtures/*.s; do
	[ -e "$s" ] || continue
	"$LLVM_MC" -triple bpfel -mcpu=v4 -filetype=obj "$s" -o "${s%.s}.o"
done
for c in test/fixtures/*.c examples/*.c; do
	[ -e "$c" ] || continue
	# -fdebug-prefix-map keeps the objects identical whatever the checkout path.
	"$CLANG" -O2 -g -target bpf -fdebug-prefix-map="$PWD"=. -c "$c" -o "${c%.c}.o"
done
for c in test/fixtures/btf/*.c; do "$CLANG" -O2 -g -target bpf -fdebug-prefix-map="$PWD"=. -c "$c" -o "${c%.c}.o"; done
for c in test/fixtures/progtypes/*.c; do
	"$CLANG" -O2 -g -target bpf -fdebug-prefix-map="$PWD"=. -c "$c" -o "${c%.c}.o"
done
# test/fixtures/loader/: the object loader's C fixtures (BTF maps, legacy and iproute2 maps,
# global data, subprograms, callbacks; btf_dump.c for BTF-formatted dumps, btf_reject.c for a
# verifier log with source lines), built against test/fixtures/loader/bpf_mini.h.
for c in test/fixtures/loader/*.c; do
	[ -e "$c" ] || continue
	"$CLANG" -O2 -g -target bpf -fdebug-prefix-map="$PWD"=. -c "$c" -o "${c%.c}.o"
done
# test/fixtures/xlated/: programs for `prog dump xlated` against the kernel's rewrites (sdiv/smod need cpu v4).
for s in test/fixtures/xlated/*.s; do "$LLVM_MC" -triple bpfel -mcpu=v4 -filetype=obj "$s" -o "${s%.s}.o"; done
for c in test/fixtures/xlated/*.c; do "$CLANG" -O2 -g -target bpf -fdebug-prefix-map="$PWD"=. -c "$c" -o "${c%.c}.o"; done
# test/fixtures/verifier/: one program each for the verifier's callbacks, spin locks, dynptrs,
# frozen .rodata and helper stack writes, loaded by bpfkit and the kernel (test/verifier_features).
for c in test/fixtures/verifier/*.c; do "$CLANG" -O2 -g -target bpf -fdebug-prefix-map="$PWD"=. -c "$c" -o "${c%.c}.o"; done
node scripts/make-packets.mjs examples
# test/fixtures/trace_printk.c (bpf_trace_printk for `prog tracelog`) is built by the test/fixtures/*.c loop above.
echo "fixtures and examples rebuilt"
