#!/usr/bin/env bash
# Record the shipped traces again with the mmsim of a build folder (default build/).
# Usage: bash bench/traces/record.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
mmsim=${1:-build}/sim/mmsim
"$mmsim" run bench/traces/fork-storm.scn --alloc-trace bench/traces/fork-storm.trace >/dev/null
"$mmsim" run scenarios/pressure/08-repeated-oom-cycles.scn --alloc-trace bench/traces/oom.trace >/dev/null
"$mmsim" run bench/traces/mixed-teaching.scn --alloc-trace bench/traces/mixed-teaching.trace >/dev/null
