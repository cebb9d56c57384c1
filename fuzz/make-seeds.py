#!/usr/bin/env python3
"""Write the seed corpora under fuzz/corpus/ (run from anywhere; idempotent).

- scenario_parser: a copy of every scenarios/**/*.scn (named after its path, / -> _), plus
  the golden-test scenarios of tests/golden. Re-run after adding a scenario.
- walker_differential: hand-built inputs in the target's byte format (see the comments in
  fuzz_walker_differential.c): a 4 KiB walk, a 2 MiB and a 1 GiB page, reserved bits, keys,
  SMEP/SMAP, a recursive PML4 slot, accesses of every kind.
- frame_allocator: operation sequences on the default map and on a map with holes.
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


if __name__ == "__main__":
    scenario_seeds()
    walker_seeds()
    frame_seeds()
