#!/bin/bash -eu
# ClusterFuzzLite's build step: the same build as OSS-Fuzz's (compiler, flags and engine from
# $CC, $CFLAGS and $LIB_FUZZING_ENGINE; targets, seed corpora and dictionaries into $OUT).
bash "$SRC/mmsim/fuzz/oss-fuzz/build.sh"
