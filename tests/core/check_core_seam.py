#!/usr/bin/env python3
"""core/ reaches the machine only through its seam: every symbol the core library uses and
does not define must be a seam function (core/platform.h, core/arch/x86_64/cpu_ops.h), one
of the four functions a freestanding C environment provides, or the compiler's own runtime.

Usage: check_core_seam.py NM LIBRARY"""
import subprocess
import sys

# core/platform.h: what the host provides.
PLATFORM = {
    "plat_cpu_count", "plat_barrier_all_cpus", "plat_panic", "plat_trace", "plat_trace_mask",
    "plat_trace_on", "plat_frame_events", "plat_frame_event",
}
# The variable behind the host's inline plat_cpu_id (sim/host/inline/host_cpu_id.h).
HOST_INLINE = {"host_this_cpu"}
# core/arch/x86_64/cpu_ops.h: the processor's instructions.
CPU_OPS = {
    "arch_write_cr3", "arch_read_cr3", "arch_read_cr2", "arch_invlpg", "arch_flush_tlb_all",
    "arch_cpuid_paging", "arch_cpuid", "arch_user_access", "arch_send_ipi", "arch_cpu_relax",
}
# GCC and Clang may emit calls to these in freestanding code; a kernel brings its own.
FREESTANDING = {"memcpy", "memmove", "memset", "memcmp"}
# The compiler's runtime (libgcc / compiler-rt) and the linker.
COMPILER = {"__popcountdi2", "__popcountsi2", "_GLOBAL_OFFSET_TABLE_", "__stack_chk_fail"}
# Instrumentation added by sanitizer, coverage and fuzzing builds.
INSTRUMENTATION = ("__asan_", "__ubsan_", "__tsan_", "__msan_", "__sanitizer_", "__sancov_",
                   "__gcov_", "__llvm_", "__start___sancov", "__stop___sancov", "__dfsan_")

ALLOWED = PLATFORM | HOST_INLINE | CPU_OPS | FREESTANDING | COMPILER


def main():
    nm, lib = sys.argv[1], sys.argv[2]
    out = subprocess.run([nm, "--format=posix", lib], check=True, capture_output=True,
                         text=True).stdout
    undefined, defined = set(), set()
    for line in out.splitlines():
        f = line.split()
        if len(f) < 2 or line.endswith(":"):
            continue
        name, kind = f[0], f[1]
        if kind == "U":
            undefined.add(name)
        elif kind not in "wv":
            defined.add(name)
    if not defined:
        print("no symbols in %s (an LTO build?): nothing to check" % lib)
        return 77
    outside = sorted(s for s in undefined - defined
                     if s not in ALLOWED and not s.startswith(INSTRUMENTATION))
    for s in outside:
        print("core uses %s, which is not a seam function" % s)
    print("%d symbols from outside core, %d not through the seam" %
          (len(undefined - defined), len(outside)))
    return 1 if outside else 0


if __name__ == "__main__":
    sys.exit(main())
