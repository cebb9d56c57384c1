/*
 * Entries and error codes in words, for traces and inspection views.
 *
 * Rules:
 *  - A not-present entry has no meaningful bits: it is shown as "not present (raw 0x...)".
 *  - A bit is named by what it means at the entry's level: bit 6 is D only in a leaf, bit 7
 *    is PS in a PDPTE/PDE, PAT in a PTE and reserved in a PML4E; bit 12 is PAT in a large
 *    leaf; G and the protection key exist only in leaves.
 *  - With a CPU given, reserved bits are flagged as such (they would fault the walk) and the
 *    key is shown only when CR4.PKE=1 or the bits are non-zero.
 *  - Output is always NUL-terminated and never longer than n bytes.
 */
#include "x86_internal.h"

#include <stdarg.h>
#include <stdio.h>

const char *x86_level_name(int level)
{
	static const char *const names[5] = { "?", "PT", "PD", "PDPT", "PML4" };

	return level >= 1 && level <= 4 ? names[level] : "?";
}

struct sbuf {
	char *buf;
	size_t n, len;
};

static void put(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (b->len + 1 >= b->n)
		return;
	va_start(ap, fmt);
	r = vsnprintf(b->buf + b->len, b->n - b->len, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	b->len += (size_t)r;
	if (b->len >= b->n)
		b->len = b->n - 1;
}

static void word(struct sbuf *b, const char *w)
{
	put(b, "%s%s", b->len ? " " : "", w);
}

char *x86_format_entry(char *buf, size_t n, uint64_t entry, int level, const struct x86_cpu *cpu)
{
	struct sbuf b = { buf, n, 0 };
	bool large = (level == 2 || level == 3) && (entry & X86_PTE_PS);
	bool leaf = level == 1 || large;
	unsigned key = (unsigned)(entry >> 59) & 15;
	uint64_t addr;

	if (!n)
		return buf;
	buf[0] = '\0';
	if (!(entry & X86_PTE_P)) {
		put(&b, "not present (raw 0x%llx)", (unsigned long long)entry);
		return buf;
	}
	word(&b, "P");
	if (entry & X86_PTE_RW)
		word(&b, "RW");
	if (entry & X86_PTE_US)
		word(&b, "US");
	if (entry & X86_PTE_PWT)
		word(&b, "PWT");
	if (entry & X86_PTE_PCD)
		word(&b, "PCD");
	if (entry & X86_PTE_A)
		word(&b, "A");
	if (entry & X86_PTE_D)
		word(&b, leaf ? "D" : "bit6");
	if (entry & X86_PTE_PS)
		word(&b, level == 1 ? "PAT" : level == 4 ? "PS(reserved)" : "PS");
	if (large && (entry & (1ull << 12)))
		word(&b, "PAT");
	if (entry & X86_PTE_G)
		word(&b, leaf ? "G" : "bit8");
	if (entry & X86_PTE_XD)
		word(&b, cpu && !cpu->efer_nxe ? "XD(reserved: NXE=0)" : "XD");
	if (leaf && (key || (cpu && cpu->cr4_pke)))
		put(&b, " pkey=%u", key);

	if (level == 3 && large)
		addr = entry & X86_ADDR_MASK & ~((1ull << 30) - 1);
	else if (level == 2 && large)
		addr = entry & X86_ADDR_MASK & ~((1ull << 21) - 1);
	else
		addr = entry & X86_ADDR_MASK;
	put(&b, " -> 0x%llx", (unsigned long long)addr);
	if (level >= 2 && !large)
		put(&b, " (%s)", x86_level_name(level - 1));
	if (cpu && level >= 1 && level <= 4) {
		uint64_t rsvd = x86_reserved_bits(cpu, level, entry);

		if (rsvd)
			put(&b, " RESERVED=0x%llx", (unsigned long long)rsvd);
	}
	return buf;
}

char *x86_format_pf_error(char *buf, size_t n, uint32_t err)
{
	static const struct { uint32_t bit; const char *name; } flags[] = {
		{ X86_PF_P, "P" }, { X86_PF_W, "W" }, { X86_PF_U, "U" },
		{ X86_PF_RSVD, "RSVD" }, { X86_PF_ID, "I/D" }, { X86_PF_PK, "PK" },
	};
	struct sbuf b = { buf, n, 0 };
	const char *cause, *access;
	size_t i;

	if (!n)
		return buf;
	buf[0] = '\0';
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (err & flags[i].bit)
			put(&b, "%s%s", b.len ? "|" : "", flags[i].name);
	if (err & ~0x3fu)
		put(&b, "%s0x%x", b.len ? "|" : "", err & ~0x3fu);
	if (!b.len)
		put(&b, "0");

	if (err & X86_PF_RSVD)
		cause = "reserved bit set";
	else if (err & X86_PF_PK)
		cause = "protection key";
	else if (err & X86_PF_P)
		cause = "protection violation";
	else
		cause = "not present";
	if (err & X86_PF_ID)
		access = "instruction fetch";
	else if (err & X86_PF_W)
		access = "write";
	else
		access = "read";
	put(&b, " (%s, %s, %s)", cause, access, err & X86_PF_U ? "user" : "supervisor");
	return buf;
}
