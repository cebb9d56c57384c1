#!/bin/bash -eu
# Builds every fuzz target the way OSS-Fuzz and ClusterFuzzLite do: compiler and flags from
# $CC / $CFLAGS, the engine from $LIB_FUZZING_ENGINE, results into $OUT. No meson: the library
# sources are compiled directly (all of core/ with core/arch/x86_64/, hw-x86/ and sim/ but the
# mmsim program's main), with $CFLAGS, which under OSS-Fuzz already carry the sanitizer and the
# coverage flags.
#
# For each fuzz/fuzz_<name>.c it writes $OUT/fuzz_<name>, $OUT/fuzz_<name>_seed_corpus.zip
# (from fuzz/corpus/<name>/) and $OUT/fuzz_<name>.dict (from fuzz/<name>.dict, if any).
#
# Local check (see fuzz/README.md):
#   CC=clang CFLAGS="-fsanitize=address,fuzzer-no-link -g" LIB_FUZZING_ENGINE=-fsanitize=fuzzer \
#   OUT=/tmp/ossfuzz-out bash fuzz/oss-fuzz/build.sh
SRC=$(cd "$(dirname "$0")/../.." && pwd)
CC=${CC:-clang}
CFLAGS=${CFLAGS:-}
LIB_FUZZING_ENGINE=${LIB_FUZZING_ENGINE:--fsanitize=fuzzer}
OUT=${OUT:?set OUT to the output directory}
# libFuzzer (and the other engines OSS-Fuzz links) are C++: link with $CXX when there is one.
LINK=${CXX:-$CC}
OBJ=$(mktemp -d "${WORK:-/tmp}/mmsim-fuzz-obj.XXXXXX")
trap 'rm -rf "$OBJ"' EXIT

mkdir -p "$OUT"
cd "$SRC"
common=(-std=gnu11 -D_GNU_SOURCE -Icore -Ihw-x86 -Isim -Isim/host/inline -Ifuzz)

objs=()
compile() { # source, extra flags...
	local src=$1 obj
	shift
	obj="$OBJ/$(echo "$src" | tr '/' '_').o"
	# shellcheck disable=SC2086 # CFLAGS is a list of words by convention
	$CC $CFLAGS "${common[@]}" "$@" -c "$src" -o "$obj"
	objs+=("$obj")
}
for f in core/*.c core/arch/x86_64/*.c; do
	compile "$f" -ffreestanding -fno-builtin-malloc -nostdinc -idirafter "$($CC -print-file-name=include)"
done
for f in hw-x86/*.c; do
	compile "$f"
done
for f in sim/*/*.c; do
	[ "$f" = sim/cli/main.c ] || [ "$f" = sim/cli/repl.c ] || compile "$f"
done
ar rcs "$OBJ/libmmsim.a" "${objs[@]}"

for harness in fuzz/fuzz_*.c; do
	target=$(basename "$harness" .c)
	name=${target#fuzz_}
	# shellcheck disable=SC2086
	$CC $CFLAGS "${common[@]}" -c "$harness" -o "$OBJ/$target.o"
	# shellcheck disable=SC2086
	$LINK $CFLAGS "$OBJ/$target.o" -o "$OUT/$target" $LIB_FUZZING_ENGINE "$OBJ/libmmsim.a" -lpthread
	if [ -d "fuzz/corpus/$name" ]; then
		rm -f "$OUT/${target}_seed_corpus.zip"
		(cd "fuzz/corpus/$name" && zip -q -r "$OUT/${target}_seed_corpus.zip" .)
	fi
	if [ -f "fuzz/$name.dict" ]; then
		cp "fuzz/$name.dict" "$OUT/$target.dict"
	fi
	echo "built $OUT/$target"
done
