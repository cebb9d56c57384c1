#!/usr/bin/env python3
"""Write the seed corpora under fuzz/corpus/ (run from anywhere; idempotent).

- scenario_parser: a copy of every scenarios/**/*.scn (named after its path, / -> _), plus
  the golden-test scenarios of tests/golden. Re-run after adding a scenario.
- walker_differential: hand-built inputs in the target's byte format (see the comments in
  fuzz_walker_differential.c): a 4 KiB walk, a 2 MiB and a 1 GiB page, reserved bits, keys,
  SMEP/SMAP, a recursive PML4 slot, accesses of every kind.
- frame_allocator: operation sequences on the default map and on a map with holes.
- fault_handler: operation sequences (see fuzz_fault_handler.c): demand-zero and
  copy-on-write over a fork, shared memory, a shootdown between two CPUs, borrow and
  transfer, device memory, kernel copies, failure injection and exhaustion, a file server
  with clients, exhaustion by faults (the OOM killer).
"""
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def scenario_seeds():
    for base in (ROOT / "scenarios", ROOT / "tests" / "golden"):
        for p in sorted(base.rglob("*.scn")):
            rel = p.relative_to(ROOT).as_posix().replace("/", "_")
            write("scenario_parser", rel, p.read_bytes())


# ---- walker_differential --------------------------------------------------------------

def entry(flags, target, f2=0, x=0):
    """make_entry's 4 bytes: f1 (low flags), f2 (modifiers), tgt (page), x (extra)."""
    return bytes([flags & 0xFF, f2, target, x])


def poke(table_page, index_byte, e):
    return bytes([0, table_page, index_byte]) + e


def access(kind, user=False, implicit=False, idx=(0, 0, 0, 0), off=0x123):
    a = kind | (4 if user else 0) | (8 if implicit else 0)
    return bytes([5, a, 0x20]) + bytes(idx) + struct.pack("<H", off)


def ctrl(which, on, extra=b""):
    """A control write: the target takes which = w % 10 and on = w & 0x80."""
    w = next(v for v in range(0x80 if on else 0, 0x100 if on else 0x80) if v % 10 == which)
    return bytes([4, w]) + extra


def header(flags=0x01, maxphy=46 - 36, tlb=6, pkru=0, cr3_page=1):
    return bytes([flags, maxphy, tlb]) + struct.pack("<I", pkru) + struct.pack("<H", cr3_page)


def walker_seeds():
    URW = 0x07
    # PML4 at page 1, PDPT 2, PD 3, PT 4, data page 5; every index 0
    path = (poke(1, 0, entry(URW, 2)) + poke(2, 0, entry(URW, 3)) + poke(3, 0, entry(URW, 4))
            + poke(4, 0, entry(URW, 5)))
    every = b"".join(access(k, u, i) for k in range(3) for u in (False, True)
                     for i in (False, True))
    write("walker_differential", "walk-4k", header() + path + every)
    # read-only leaf, NX leaf, supervisor leaf, with SMEP/SMAP/WP variations
    ro = poke(4, 1, entry(0x05, 6))
    nx = poke(4, 2, entry(URW, 7, f2=0x02))
    sup = poke(4, 3, entry(0x03, 8))
    rights = b"".join(access(k, u, False, (0, 0, 0, i)) for i in (1, 2, 3) for k in range(3)
                      for u in (False, True))
    write("walker_differential", "rights", header(flags=0x07) + path + ro + nx + sup + rights
          + ctrl(0, False) + rights + ctrl(3, True) + rights)
    # 2 MiB and 1 GiB pages (PS), with PAT, and a reserved bit 13
    big = (poke(3, 1, entry(URW | 0x80, 1, f2=0x10)) + poke(2, 1, entry(URW | 0x80, 0x41))
           + poke(3, 2, entry(URW | 0x80, 1, f2=0x08, x=0x00)))
    write("walker_differential", "large-pages", header() + path + big
          + access(1, True, False, (0, 0, 1, 0)) + access(0, True, False, (0, 1, 0, 0))
          + access(0, False, False, (0, 0, 2, 0)))
    # no 1 GiB pages, AMD, NXE=0 with XD set, maxphyaddr 36 with bit 40
    write("walker_differential", "reserved", header(flags=0x01 | 0x20 | 0x40 | 0x80, maxphy=0)
          + path + poke(4, 1, entry(URW, 6, f2=0x02)) + poke(4, 2, entry(URW, 6, f2=0x08, x=0xA0))
          + poke(2, 1, entry(URW | 0x80, 0x41)) + poke(1, 1, entry(URW, 2, f2=0x01))
          + access(0, True, False, (0, 0, 0, 1)) + access(0, True, False, (0, 0, 0, 2))
          + access(0, True, False, (0, 1, 0, 0)) + access(0, True, False, (1, 0, 0, 0)))
    # protection keys: key 3 in the leaf, PKRU AD/WD for it
    write("walker_differential", "pkeys", header(flags=0x01 | 0x10, pkru=0x80) + path
          + poke(4, 1, entry(URW, 6, f2=0x04, x=3)) + poke(4, 2, entry(URW, 6, f2=0x04, x=2))
          + every.replace(b"\x00\x00\x00\x00#", b"\x00\x00\x00\x01#")
          + access(1, True, False, (0, 0, 0, 2)) + access(1, False, False, (0, 0, 0, 2)))
    # a recursive slot: PML4[511] points at the PML4 itself, and a fill of a whole PT
    write("walker_differential", "recursive-fill", header() + path
          + poke(1, 0x47, entry(URW, 1)) + bytes([2, 4, 1]) + entry(URW, 5)
          + access(1, False, False, (0x47, 0x47, 0x47, 0x47)) + access(0, True, False, (0, 0, 0, 7))
          + access(1, True, False, (0, 0, 0, 0x41)) + ctrl(9, False, bytes([0x20, 0, 0, 0, 7, 0, 0]))
          + access(0, True, False, (0, 0, 0, 7)))
    # non-canonical and out-of-memory walks
    write("walker_differential", "gp-bus", header(cr3_page=20) + bytes([5, 0, 0])
          + struct.pack("<Q", 0x0000800000000000) + access(0) + ctrl(7, False, b"\x01\x00")
          + poke(1, 0, entry(URW, 0x90)) + access(0))


# ---- frame_allocator ------------------------------------------------------------------

def frame_seeds():
    # default map; allocs of several orders and strategies, frees, a split, refcounts
    ops = bytes([
        0, 0x00, 0x00,        # allocate_frame
        1, 0x20, 0x00,        # allocate_zeroed_frame
        2, 0x42, 0x00,        # allocate_p2frame(order 2)
        0, 0xE5, 0xC2,        # complex order 5..2, ZERO, LOWEST
        0, 0xEA, 0x07,        # complex order 10
        5, 0x02, 0x00,        # split block #2
        7, 0x00, 7, 0x01,     # init_frame One, Shared(2)
        0x88, 0x00, 0x00, 0x01,   # add_ref shared on #0
        8, 0x01, 0x00,        # remove_ref on #1
        9, 0x03, 0x00, 0x05,  # set_refcount
        6 | 0x10, 0, 0x00, 0x00, 6 | 0x20, 3, 0x00, 0x00, 0x86,   # cpu 1, alloc, cpu 2, free, drain
        3, 0x01, 0x00, 4, 0x00, 0x00, 3, 0x02, 0x00,
    ])
    write("frame_allocator", "default-map", bytes([0]) + ops)
    # kernel_init with a map: free [1M, 8M) with a reserved hole and a device island
    regions = (struct.pack("<HHB", 256, 1792, 0) + struct.pack("<HHB", 700, 40, 3)
               + struct.pack("<HHB", 1200, 3, 6) + struct.pack("<HHB", 1500, 300, 1))
    write("frame_allocator", "holes", bytes([1 | (3 << 1)]) + regions + ops + ops)
    # exhaustion: order-10 allocations until failure, then order 0 until failure
    write("frame_allocator", "exhaust", bytes([0]) + bytes([0, 0xEA, 0x0A]) * 6
          + bytes([0, 0x80, 0x00]) * 40 + bytes([3, 0, 0]) * 10)


# ---- fault_handler ---------------------------------------------------------------------

FH_R, FH_W, FH_X = 1, 2, 4
FH_FIXED, FH_SHARED, FH_POPULATE = 0x08, 0x10, 0x20


def fh_range(first, n):
    """pick_range's two bytes for pages [first, first + n), n <= 4 or up to the window."""
    if n <= 4:
        return bytes([first, n - 1])
    return bytes([first, 0x80 | (n - 1)])


def fh_spawn(cpu=0):
    return bytes([0, cpu])


def fh_fork(p, cpu=0):
    return bytes([1, p, cpu])


def fh_exit(p, cpu=0):
    return bytes([2, p, cpu])


def fh_mmap(p, first, n, prot, flags=FH_FIXED, cpu=0):
    return bytes([3, p, cpu, prot | flags]) + fh_range(first, n)


def fh_mmap_phys(p, first, n, prot, dev_page, cpu=0):
    return bytes([4, p, cpu, prot | FH_FIXED]) + fh_range(first, n) + bytes([dev_page])


def fh_munmap(p, first, n, cpu=0):
    return bytes([5, p, cpu, 0]) + fh_range(first, n)


def fh_mprotect(p, first, n, prot, cpu=0):
    return bytes([6, p, cpu, prot]) + fh_range(first, n)


def fh_borrow(a, sfirst, b, dfirst, n, prot, cpu=0, transfer=False):
    return bytes([8 if transfer else 7, a, b, cpu, prot]) + fh_range(sfirst, n) + fh_range(dfirst, n)


def fh_write(page, off, value, size_log=3):
    return bytes([1 | size_log << 2, page]) + struct.pack("<H", off) + bytes([value])


def fh_read(page, off, size_log=3):
    return bytes([2 | size_log << 2, page]) + struct.pack("<H", off)


def fh_fetch(page, off=0):
    return bytes([3, page]) + struct.pack("<H", off)


def fh_access(p, cpu, *accesses):
    return bytes([9, p, cpu, len(accesses) - 1]) + b"".join(accesses)


def fh_kcopy(p, out, page, off, length, cpu=0):
    return bytes([12, p, cpu, 1 if out else 0, page]) + struct.pack("<HH", off, length - 1)


def fh_switch(p, cpu, to_kernel=False):
    return bytes([13, 0 if to_kernel else 1, p, cpu])


def fh_inject(mode, n):
    """mode 0 off, 1 nth, 2 after: the target takes b % 3 and (b >> 2) % 24."""
    b = next(v for v in range(256) if v % 3 == mode and (v >> 2) % 24 == n)
    return bytes([14, b])


def fh_hog(p, quarter_mib=None, release=False, cpu=0):
    if release:
        return bytes([15, 0x80, p, cpu])
    if quarter_mib is None:
        return bytes([15, 0x70, p, cpu])  # 12 MiB: more than the machine has free
    return bytes([15, quarter_mib - 1, p, cpu])


def fh_fserve(p, first, n, cpu=0):
    return bytes([0xF0, p, cpu]) + fh_range(first, n)


def fh_fmap(a, srv, first, n, prot, file_page, flags=FH_FIXED, cpu=0):
    return bytes([0xF8, a, srv, cpu, prot | flags, file_page]) + fh_range(first, n)


def fh_hog_touch(p, mib, cpu=0):
    return bytes([0xFC, mib - 1, p, cpu])


def fault_handler_seeds():
    four_cpus = bytes([2])
    two_cpus = bytes([0])
    seeds = {
        "demand-zero-cow-fork": four_cpus + fh_spawn() + fh_mmap(0, 4, 4, FH_R | FH_W)
        + fh_access(0, 0, fh_write(5, 8, 0x11), fh_read(4, 0), fh_read(5, 8))
        + fh_fork(0, 1)
        + fh_access(1, 1, fh_read(5, 8), fh_write(5, 8, 0x22), fh_read(5, 8))
        + fh_access(0, 0, fh_read(5, 8), fh_write(6, 0, 0x33))
        + fh_exit(0) + fh_access(0, 1, fh_read(5, 8)),
        "shared-fork": two_cpus + fh_spawn() + fh_mmap(0, 8, 2, FH_R | FH_W, FH_FIXED | FH_SHARED)
        + fh_fork(0, 1) + fh_access(1, 1, fh_write(9, 16, 0x44))
        + fh_access(0, 0, fh_read(9, 16)),
        "shootdown-munmap-mprotect": four_cpus + fh_spawn() + fh_mmap(0, 0, 8, FH_R | FH_W)
        + fh_access(0, 1, fh_write(1, 0, 1), fh_write(2, 0, 2))
        + fh_access(0, 2, fh_read(1, 0), fh_read(2, 0))
        + fh_munmap(0, 1, 1, cpu=0) + fh_access(0, 1, fh_read(1, 0))
        + fh_mprotect(0, 2, 1, FH_R, cpu=3) + fh_access(0, 2, fh_write(2, 0, 3))
        + fh_mprotect(0, 2, 1, FH_R | FH_W) + fh_access(0, 2, fh_write(2, 0, 3))
        + fh_switch(0, 1, to_kernel=True) + fh_exit(0, cpu=3),
        "borrow-transfer": four_cpus + fh_spawn() + fh_spawn(1) + fh_mmap(0, 16, 4, FH_R | FH_W)
        + fh_access(0, 0, fh_write(16, 0, 0x55))
        + fh_borrow(0, 16, 1, 32, 4, FH_R | FH_W, cpu=1)
        + fh_access(1, 1, fh_read(32, 0), fh_write(33, 8, 0x66))
        + fh_access(0, 0, fh_read(17, 8))
        + fh_borrow(0, 18, 1, 40, 2, 0, cpu=2, transfer=True)
        + fh_access(1, 2, fh_read(40, 0)) + fh_access(0, 0, fh_read(18, 0)),
        "device-window": two_cpus + fh_spawn() + fh_spawn() + fh_mmap_phys(0, 2, 2, FH_R | FH_W, 3)
        + fh_mmap_phys(1, 10, 2, FH_R, 4)
        + fh_access(0, 1, fh_write(3, 0, 0x77)) + fh_access(1, 0, fh_read(10, 0), fh_write(10, 0, 1))
        + fh_fork(0) + fh_access(2, 1, fh_read(3, 0)),
        "kernel-copies": two_cpus + fh_spawn() + fh_mmap(0, 20, 3, FH_R | FH_W)
        + fh_kcopy(0, True, 20, 0xff0, 0x40) + fh_kcopy(0, False, 20, 0xfe0, 0x1000)
        + fh_mprotect(0, 22, 1, FH_R) + fh_kcopy(0, True, 21, 0x800, 0x1000)
        + fh_kcopy(0, False, 21, 0x800, 0x1000) + fh_access(0, 1, fh_fetch(20)),
        "injection-exhaustion": four_cpus + fh_spawn() + fh_spawn() + fh_mmap(0, 0, 16, FH_R | FH_W)
        + fh_inject(1, 3) + fh_access(0, 1, fh_write(0, 0, 1), fh_write(1, 0, 2), fh_write(2, 0, 3))
        + fh_inject(2, 2) + fh_fork(0) + fh_access(0, 2, fh_write(3, 0, 4))
        + fh_inject(0, 0) + fh_hog(1, 8) + fh_hog(0) + fh_access(0, 1, fh_read(0, 0))
        + fh_hog(1, release=True) + fh_access(0, 3, fh_write(4, 0, 5)),
        "file-server-clients": four_cpus + fh_spawn() + fh_spawn() + fh_spawn()
        + fh_mmap(0, 0, 8, FH_R | FH_W) + fh_access(0, 0, fh_write(1, 0, 0x5a))
        + fh_fserve(0, 0, 8) + fh_fmap(1, 0, 16, 4, FH_R | FH_W, 0)
        + fh_fmap(2, 0, 40, 2, FH_R, 1, flags=0, cpu=2)
        + fh_access(1, 1, fh_read(17, 0), fh_write(18, 8, 0x21)) + fh_access(0, 0, fh_read(2, 8))
        + fh_munmap(0, 0, 8) + fh_fork(1, 3) + fh_access(3, 3, fh_read(16, 0))
        + fh_exit(0, 2) + fh_access(2, 2, fh_read(40, 0)) + fh_munmap(1, 16, 4, 1),
        "exhaustion-by-faults": two_cpus + fh_spawn() + fh_spawn() + fh_mmap(1, 0, 4, FH_R | FH_W)
        + fh_access(1, 1, fh_write(0, 0, 9)) + fh_hog_touch(0, 12)
        + fh_access(1, 1, fh_read(0, 0)) + fh_hog_touch(1, 6, cpu=1) + fh_spawn()
        + fh_hog_touch(0, 3),
    }
    for name, data in seeds.items():
        write("fault_handler", name, data)


if __name__ == "__main__":
    scenario_seeds()
    walker_seeds()
    frame_seeds()
    fault_handler_seeds()
