#!/usr/bin/env bash
# Source coverage of a fuzz target's corpus with llvm-cov: builds the target with clang's
# source-based coverage (no sanitizer) in build-cov/, replays the corpus once, and prints the
# per-file report of core/ and hw-x86/ and the functions the corpus never reaches (paths
# relative to the repository).
#
#   bash fuzz/coverage-report.sh [TARGET [CORPUS_DIR...]]
#       TARGET: fault_handler (default), frame_allocator, scenario_parser, walker_differential
#       CORPUS_DIR: default fuzz/corpus/TARGET
# Output: build-cov/coverage-TARGET.txt (report) and build-cov/unreached-TARGET.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-fault_handler}
shift || true
corpora=("$@")
[ ${#corpora[@]} -gt 0 ] || corpora=("fuzz/corpus/$target")
llvm_bin=$(dirname "$(readlink -f "$(command -v clang)")")
profdata=$(command -v llvm-profdata || echo "$llvm_bin/llvm-profdata")
llvmcov=$(command -v llvm-cov || echo "$llvm_bin/llvm-cov")

if [ ! -d build-cov ]; then
	CC=clang meson setup build-cov -Dfuzz=enabled -Dtests=disabled -Db_lundef=false \
		-Dc_args="-fprofile-instr-generate -fcoverage-mapping" \
		-Dc_link_args="-fprofile-instr-generate" >/dev/null
fi
ninja -C build-cov "fuzz/fuzz_$target" >/dev/null
bin=build-cov/fuzz/fuzz_$target
# the repository's fuzz/, tests/ and sim/ (compiled as ../DIR/ from build-cov), not any folder
# of that name the repository sits in
ignore='(^|/\.\./)(fuzz|tests|sim)/'
rm -f build-cov/cov-*.profraw
# -runs=0: every corpus input once, nothing new
LLVM_PROFILE_FILE="build-cov/cov-%p.profraw" "$bin" -runs=0 "${corpora[@]}" >/dev/null 2>&1
"$profdata" merge -sparse build-cov/cov-*.profraw -o "build-cov/cov-$target.profdata"
"$llvmcov" report "$bin" -instr-profile="build-cov/cov-$target.profdata" \
	-ignore-filename-regex="$ignore" >"build-cov/coverage-$target.txt"
# functions with an execution count of 0, by path relative to the repository: core/ and
# hw-x86/ (the report's scope) and the host side the target links (sim/); llvm-cov's export
# lists every function whatever the ignore regex says, so the filter is here
"$llvmcov" export "$bin" -instr-profile="build-cov/cov-$target.profdata" -summary-only=false \
	-ignore-filename-regex="$ignore" |
	python3 -c '
import json, os, sys
data = json.load(sys.stdin)["data"][0]
root = os.getcwd()
reached = {}
for f in data["functions"]:
    path = os.path.relpath(os.path.normpath(f["filenames"][0]), root)
    if not path.startswith(("core/", "hw-x86/", "sim/")):
        continue
    key = (path, f["name"].split(":")[-1])
    reached[key] = reached.get(key, False) or f["count"] > 0
for (path, name), hit in sorted(reached.items()):
    if not hit:
        print("%s: %s" % (path, name))
' >"build-cov/unreached-$target.txt"
tail -1 "build-cov/coverage-$target.txt"
echo "$(wc -l <"build-cov/unreached-$target.txt") functions never reached: build-cov/unreached-$target.txt"
