/*
 * Encoding and decoding of x86_64 paging-structure entries (invariants in page_flags.h).
 */
#include "arch/x86_64/page_flags.h"

#include "platform.h"

static struct paging_caps caps = { .phys_addr_bits = 52, .page_1g = true };

void paging_caps_set(struct paging_caps c)
{
	KASSERT(c.phys_addr_bits >= 36 && c.phys_addr_bits <= 52,
		"paging_caps: MAXPHYADDR %u outside 36..52", c.phys_addr_bits);
	caps = c;
}

struct paging_caps paging_caps_get(void)
{
	return caps;
}

static bool pa_fits(paddr_t pa)
{
	return (pa >> caps.phys_addr_bits) == 0;
}

bool pte_leaf_encodable(paddr_t pa, page_flags_t flags, unsigned level)
{
	if (level < PT_LEVEL_PT || level > PT_LEVEL_PDPT)
		return false;
	if (level == PT_LEVEL_PDPT && !caps.page_1g)
		return false;
	if (flags & ~(page_flags_t)PG_ALL_LEAF_FLAGS)
		return false;
	if (!(flags & PG_PRESENT))
		return false;
	if (((flags & PG_HUGE) != 0) != (level > PT_LEVEL_PT))
		return false;
	if (pa & (pt_level_size(level) - 1))
		return false; /* also keeps the reserved bits 20:13 / 29:13 of huge leaves clear */
	return pa_fits(pa);
}

/*
 * Flag bits move to their entry bits by independent shifts, not a test per flag: the
 * compiler turned those tests into a chain of a dozen dependent conditional moves, which
 * every fault waited on. The shifts hold for exactly this numbering of both sides.
 */
_Static_assert(PG_WRITABLE == PTE_RW && PG_USER == PTE_US && PG_HUGE == PTE_PS,
	       "R/W, U/S and PS keep their bit");
_Static_assert(PG_WRITE_THROUGH >> 2 == PTE_PWT && PG_CACHE_DISABLE >> 2 == PTE_PCD,
	       "PWT and PCD are the flag bits 5 and 6 moved down by 2");
_Static_assert(PG_ACCESSED >> 3 == PTE_A && PG_DIRTY >> 3 == PTE_D,
	       "A and D are the flag bits 8 and 9 moved down by 3");
_Static_assert((pte_t)PG_GLOBAL << 4 == PTE_G, "G is flag bit 4 moved up by 4");
_Static_assert(PG_SOFT0 >> 1 == PTE_AVL9 && PG_SOFT1 >> 1 == PTE_AVL10,
	       "the software bits are the flag bits 10 and 11 moved down by 1");
_Static_assert((pte_t)PG_NO_EXEC << 60 == PTE_XD, "XD is flag bit 3 moved up by 60");

/* The bits a leaf and a PROT_NONE entry (which keeps the leaf's rights for later) share:
 * R/W, U/S, PWT, PCD, A, D; and XD. */
static pte_t rights_and_state_bits(page_flags_t flags)
{
	pte_t f = flags;

	return (f & (PTE_RW | PTE_US)) | ((f >> 2) & (PTE_PWT | PTE_PCD)) |
	       ((f >> 3) & (PTE_A | PTE_D)) | ((f & PG_NO_EXEC) << 60);
}

pte_t pte_make_checked_leaf(paddr_t pa, page_flags_t flags)
{
	pte_t f = flags;

	return PTE_P | pa | rights_and_state_bits(flags) | (f & PTE_PS) | ((f << 4) & PTE_G) |
	       ((f >> 1) & (PTE_AVL9 | PTE_AVL10));
}

pte_t pte_make_leaf(paddr_t pa, page_flags_t flags, unsigned level)
{
	KASSERT(pte_leaf_encodable(pa, flags, level),
		"refusing to encode leaf pa=0x%llx flags=0x%x level %u (reserved bits)",
		(unsigned long long)pa, flags, level);
	return pte_make_checked_leaf(pa, flags);
}

bool pte_protnone_encodable(paddr_t pa, page_flags_t flags)
{
	if (flags & ~(page_flags_t)(PG_PROTNONE_KEPT_FLAGS | PG_PROTNONE))
		return false;
	if (pa & PAGE_MASK)
		return false;
	return pa_fits(pa);
}

pte_t pte_make_protnone(paddr_t pa, page_flags_t flags)
{
	pte_t e = PTE_AVL11; /* and never PTE_P */

	KASSERT(pte_protnone_encodable(pa, flags),
		"refusing to encode protnone entry pa=0x%llx flags=0x%x", (unsigned long long)pa,
		flags);
	return e | pa | rights_and_state_bits(flags);
}

pte_t pte_make_table(paddr_t table_pa, page_flags_t flags, unsigned level)
{
	pte_t e = PTE_P;

	KASSERT(level >= PT_LEVEL_PD && level <= PT_LEVEL_PML4, "table entry at level %u", level);
	KASSERT((flags & PG_PRESENT) && !(flags & ~(page_flags_t)PG_ALL_TABLE_FLAGS),
		"table entry flags 0x%x", flags);
	KASSERT(!(table_pa & PAGE_MASK) && pa_fits(table_pa),
		"table address 0x%llx not encodable", (unsigned long long)table_pa);
	e |= table_pa;
	if (flags & PG_WRITABLE)
		e |= PTE_RW;
	if (flags & PG_USER)
		e |= PTE_US;
	if (flags & PG_ACCESSED)
		e |= PTE_A;
	return e;
}

page_flags_t pte_flags(pte_t e, unsigned level)
{
	page_flags_t f = 0;
	bool leaf = pte_is_leaf(e, level);

	if (e & PTE_P)
		f |= PG_PRESENT;
	if (e & PTE_RW)
		f |= PG_WRITABLE;
	if (e & PTE_US)
		f |= PG_USER;
	if (e & PTE_PWT)
		f |= PG_WRITE_THROUGH;
	if (e & PTE_PCD)
		f |= PG_CACHE_DISABLE;
	if (e & PTE_A)
		f |= PG_ACCESSED;
	if (e & PTE_XD)
		f |= PG_NO_EXEC;
	if (e & PTE_AVL9)
		f |= PG_SOFT0;
	if (e & PTE_AVL10)
		f |= PG_SOFT1;
	if (pte_is_protnone(e, level))
		f |= PG_PROTNONE;
	if (leaf) {
		if (e & PTE_D)
			f |= PG_DIRTY;
		if (e & PTE_G)
			f |= PG_GLOBAL;
		if (level > PT_LEVEL_PT)
			f |= PG_HUGE;
	}
	return f;
}

page_flags_t page_flags_from_prot(unsigned prot)
{
	page_flags_t f;

	if (!(prot & (PROT_BIT_READ | PROT_BIT_WRITE | PROT_BIT_EXEC)))
		return 0;
	f = PG_PRESENT | PG_USER;
	if (prot & PROT_BIT_WRITE)
		f |= PG_WRITABLE;
	if (!(prot & PROT_BIT_EXEC))
		f |= PG_NO_EXEC;
	return f;
}

unsigned page_flags_to_prot(page_flags_t flags)
{
	unsigned prot = 0;

	if (!(flags & PG_PRESENT))
		return 0;
	prot |= PROT_BIT_READ;
	if (flags & PG_WRITABLE)
		prot |= PROT_BIT_WRITE;
	if (!(flags & PG_NO_EXEC))
		prot |= PROT_BIT_EXEC;
	return prot;
}
