/*
 * The scenario parser: numbers, lexical rules, and every class of bad input, each with the
 * exact FILE:LINE:COL the user will see. Nothing here runs a machine.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/numbers.h"
#include "scenario/scenario.h"
#include "../check_main.h"

static char errbuf[8192];

/* Parses text as file "t.scn"; errbuf gets what the user would see on stderr. */
static bool parse(struct scenario *sc, const char *text, size_t len)
{
	FILE *err = fmemopen(errbuf, sizeof(errbuf), "w");
	bool ok;

	ck_assert_ptr_nonnull(err);
	memset(errbuf, 0, sizeof(errbuf));
	ok = scenario_parse(sc, "t.scn", text, len, err);
	fclose(err);
	return ok;
}

static void expect_error(const char *text, const char *first_error)
{
	struct scenario sc;

	ck_assert_msg(!parse(&sc, text, strlen(text)), "parsed: %s", text);
	ck_assert_msg(strncmp(errbuf, first_error, strlen(first_error)) == 0,
		      "for %s\nwanted: %s\ngot:    %s", text, first_error, errbuf);
	scenario_free(&sc);
}

START_TEST(numbers_accepted)
{
	uint64_t v;

	ck_assert_int_eq(parse_number("0x7fff_f000", &v), NUM_OK);
	ck_assert_uint_eq(v, 0x7ffff000);
	ck_assert_int_eq(parse_number("1_000_000", &v), NUM_OK);
	ck_assert_uint_eq(v, 1000000);
	ck_assert_int_eq(parse_number("4K", &v), NUM_OK);
	ck_assert_uint_eq(v, 4096);
	ck_assert_int_eq(parse_number("256M", &v), NUM_OK);
	ck_assert_uint_eq(v, 256u << 20);
	ck_assert_int_eq(parse_number("64G", &v), NUM_OK);
	ck_assert_uint_eq(v, 64ull << 30);
	ck_assert_int_eq(parse_number("0x10K", &v), NUM_HEX_SUFFIX);
	ck_assert_int_eq(parse_number("0x12g", &v), NUM_HEX_SUFFIX);
	ck_assert_int_eq(parse_number("0xffff_ffff_ffff_ffff", &v), NUM_OK);
	ck_assert_uint_eq(v, ~0ull);
	ck_assert_int_eq(parse_number("18446744073709551615", &v), NUM_OK);
	ck_assert_uint_eq(v, ~0ull);
	ck_assert_int_eq(parse_number("0", &v), NUM_OK);
	ck_assert_uint_eq(v, 0);
}
END_TEST

START_TEST(numbers_rejected)
{
	uint64_t v = 77;

	ck_assert_int_eq(parse_number("", &v), NUM_EMPTY);
	ck_assert_int_eq(parse_number("0x", &v), NUM_EMPTY);
	ck_assert_int_eq(parse_number("K", &v), NUM_EMPTY);
	ck_assert_int_eq(parse_number("_1", &v), NUM_BAD_SEPARATOR);
	ck_assert_int_eq(parse_number("1_", &v), NUM_BAD_SEPARATOR);
	ck_assert_int_eq(parse_number("1__0", &v), NUM_BAD_SEPARATOR);
	ck_assert_int_eq(parse_number("0x_1", &v), NUM_BAD_SEPARATOR);
	ck_assert_int_eq(parse_number("12a", &v), NUM_BAD_DIGIT);
	ck_assert_int_eq(parse_number("0xz", &v), NUM_BAD_DIGIT);
	ck_assert_int_eq(parse_number("0xg", &v), NUM_EMPTY); /* "0x" with a G suffix */
	ck_assert_int_eq(parse_number("-1", &v), NUM_BAD_DIGIT);
	ck_assert_int_eq(parse_number("4KB", &v), NUM_BAD_DIGIT);
	ck_assert_int_eq(parse_number("18446744073709551616", &v), NUM_OVERFLOW);
	ck_assert_int_eq(parse_number("0x1_0000_0000_0000_0000", &v), NUM_OVERFLOW);
	ck_assert_int_eq(parse_number("17179869184G", &v), NUM_OVERFLOW);
	ck_assert_uint_eq(v, 77); /* untouched on error */
}
END_TEST

START_TEST(lexical_rules)
{
	struct scenario sc;
	const char *text = "# a comment line\n"
			   "\n"
			   "machine kernel=off memory=2M   # trailing comment\r\n"
			   "poke 0x1000 \\\n"
			   "     0x2003 size=4\n"
			   "\tpeek\t0x1000  size=4\n"
			   "expect peek 0x1000 == 0x2003 mask=0xffff size=4\n";

	ck_assert_msg(parse(&sc, text, strlen(text)), "%s", errbuf);
	ck_assert_uint_eq(sc.nstmts, 4);
	ck_assert(!sc.machine.kernel);
	ck_assert_uint_eq(sc.machine.memory, 2u << 20);
	ck_assert_str_eq(sc.stmts[1].cmd->name, "poke");
	ck_assert_int_eq(sc.stmts[1].line, 4);
	ck_assert_uint_eq(sc.stmts[1].phys.paddr, 0x1000);
	ck_assert_uint_eq(sc.stmts[1].phys.value, 0x2003);
	ck_assert_uint_eq(sc.stmts[1].phys.size, 4);
	ck_assert_str_eq(sc.stmts[2].cmd->name, "peek");
	ck_assert_int_eq(sc.stmts[2].col, 2);
	ck_assert_str_eq(sc.stmts[3].cmd->name, "expect peek");
	ck_assert_uint_eq(sc.stmts[3].phys.mask, 0xffff);
	ck_assert_uint_eq(sc.stmts[3].phys.size, 4);
	ck_assert(sc.stmts[3].expect.has_value);
	ck_assert_int_eq(sc.stmts[3].expect.op, SC_EQ);
	ck_assert_uint_eq(sc.stmts[3].expect.value, 0x2003);
	ck_assert_str_eq(sc.stmts[3].text, "expect peek 0x1000 == 0x2003 mask=0xffff size=4");
	scenario_free(&sc);
}
END_TEST

START_TEST(defaults_without_machine_line)
{
	struct scenario sc;
	const char *text = "peek 0\n";

	ck_assert_msg(parse(&sc, text, strlen(text)), "%s", errbuf);
	ck_assert(sc.machine.kernel);
	ck_assert_uint_eq(sc.machine.memory, 256u << 20);
	ck_assert_uint_eq(sc.machine.cpus, 1);
	ck_assert_uint_eq(sc.machine.maxphyaddr, 46);
	scenario_free(&sc);
}
END_TEST

START_TEST(access_and_options_anywhere)
{
	struct scenario sc;
	const char *text = "machine kernel=off cpus=2\n"
			   "expect access 0xffff800000001000 fetch user implicit -> pf cpu=1 0x15\n"
			   "access 0x1234 write supervisor\n";

	ck_assert_msg(parse(&sc, text, strlen(text)), "%s", errbuf);
	ck_assert_uint_eq(sc.nstmts, 3);
	ck_assert_uint_eq(sc.stmts[1].translate.va, 0xffff800000001000ull);
	ck_assert_int_eq(sc.stmts[1].translate.kind, X86_FETCH);
	ck_assert(sc.stmts[1].translate.user);
	ck_assert(sc.stmts[1].translate.implicit);
	ck_assert(sc.stmts[1].expect.has_result);
	ck_assert_int_eq(sc.stmts[1].expect.result, 1); /* pf */
	ck_assert_uint_eq(sc.stmts[1].expect.value, 0x15);
	ck_assert_int_eq(sc.stmts[1].cpu, 1);
	ck_assert_int_eq(sc.stmts[2].translate.kind, X86_WRITE);
	ck_assert(!sc.stmts[2].translate.user);
	ck_assert(!sc.stmts[2].translate.implicit);
	ck_assert(!sc.stmts[2].expect.has_result);
	ck_assert_int_eq(sc.stmts[2].cpu, -1);
	scenario_free(&sc);
}
END_TEST

START_TEST(bad_files)
{
	expect_error("", "t.scn:1:1: error: the scenario has no commands");
	expect_error("# only a comment\n\n", "t.scn:1:1: error: the scenario has no commands");
	expect_error("machine kernel=off\nfrobnicate 1\n",
		     "t.scn:2:1: error: unknown command 'frobnicate'");
	expect_error("machine kernel=off\n  \x01\x02\x03\n", "t.scn:2:3: error: unexpected byte 0x01");
	expect_error("machine kernel=off\npeek \xff\n", "t.scn:2:6: error: unexpected byte 0xff");
	expect_error("machine kernel=off\nexpect frob 1\n", "t.scn:2:8: error: unknown expect 'frob'");
	expect_error("machine kernel=off\nshow\n", "t.scn:2:5: error: 'show' needs a subject");
	expect_error("machine kernel=off\npoke 0x1000 \\\n", "t.scn:2:13: error: '\\' continues past");
}
END_TEST

START_TEST(nul_byte)
{
	struct scenario sc;
	static const char text[] = "machine kernel=off\npeek 0\0x\n";

	ck_assert(!parse(&sc, text, sizeof(text) - 1));
	ck_assert_str_eq(errbuf, "t.scn:2:7: error: NUL byte in the file (not a scenario?)\n");
	scenario_free(&sc);
}
END_TEST

START_TEST(bad_arguments)
{
	expect_error("machine kernel=off\npeek\n", "t.scn:2:5: error: missing argument: peek PADDR");
	expect_error("machine kernel=off\npeek 1 2\n", "t.scn:2:8: error: unexpected '2'");
	expect_error("machine kernel=off\npoke 0x10 99999999999999999999\n",
		     "t.scn:2:11: error: '99999999999999999999': number does not fit in 64 bits");
	expect_error("machine kernel=off\npoke 0x10 0x100 size=1\n",
		     "t.scn:2:11: error: 0x100 does not fit in 1 byte");
	expect_error("machine kernel=off\npoke 0x10 1 size=3\n",
		     "t.scn:2:18: error: size= must be 1, 2, 4 or 8 bytes");
	expect_error("machine kernel=off memory=1M\npeek 0xffffc\n",
		     "t.scn:2:6: error: physical address 0xffffc (+8 bytes) is outside physical memory");
	expect_error("machine kernel=off\nflush foo=1\n", "t.scn:2:7: error: 'flush' takes no option foo=");
	expect_error("machine kernel=off\nflush cpu=1 cpu=0\n", "t.scn:2:13: error: option cpu= given twice");
	expect_error("machine kernel=off\nflush cpu=1\n", "t.scn:2:11: error: cpu=1: this machine has 1 cpu");
	expect_error("machine kernel=off\naccess 0 jump user\n",
		     "t.scn:2:10: error: expected read|write|fetch, not 'jump'");
	expect_error("machine kernel=off\nexpect access 0 read user pf 0x4\n",
		     "t.scn:2:27: error: expected '->', not 'pf'");
	expect_error("machine kernel=off\nexpect access 0 read user -> pa\n",
		     "t.scn:2:32: error: missing argument");
	expect_error("machine kernel=off\nexpect access 0 read user -> gp 5\n",
		     "t.scn:2:33: error: unexpected '5'");
	expect_error("machine kernel=off maxphyaddr=40\ncpu cr3=0x10000000000\n",
		     "t.scn:2:9: error: cr3=0x10000000000 sets bits 63:40");
	expect_error("machine kernel=off\ncpu wp=2\n", "t.scn:2:8: error: wp= must be 0|1, not '2'");
	expect_error("machine kernel=off\nexpect cr2 < 5\n", "t.scn:2:12: error: expected ==|!=, not '<'");
}
END_TEST

START_TEST(bad_machine)
{
	expect_error("peek 0\nmachine kernel=off\n", "t.scn:2:1: error: machine must precede every other command");
	expect_error("machine kernel=off\nmachine kernel=off\n", "t.scn:2:1: error: a second machine line");
	expect_error("machine memory=1000\n", "t.scn:1:16: error: memory= must be a multiple of 4K");
	expect_error("machine memory=2M\n", "t.scn:1:16: error: memory= must be between 4M (with the kernel) and 64G");
	expect_error("machine kernel=off memory=128G\n", "t.scn:1:27: error: memory= must be between 1M and 64G");
	expect_error("machine kernel=off cpus=0\n", "t.scn:1:25: error: cpus= must be 1..64");
	expect_error("machine kernel=off maxphyaddr=53\n", "t.scn:1:31: error: maxphyaddr= must be 36..52");
	expect_error("machine kernel=off tlb=3\n", "t.scn:1:24: error: tlb= is the number of TLB entries");
	expect_error("machine kernel=maybe\n", "t.scn:1:16: error: kernel= must be off|on, not 'maybe'");
	expect_error("machine 5\n", "t.scn:1:9: error: unexpected '5'");
	expect_error("machine\npoke 0 0\n", "t.scn:2:1: error: 'poke' drives the bare processor: it needs `machine kernel=off`");
}
END_TEST

/* Each command's words land in its own named arguments (scenario/command_args.h). */
START_TEST(typed_arguments)
{
	struct scenario sc;
	const char *text = "machine cpus=2\n"
			   "spawn a\n"
			   "spawn srv\n"
			   "mmap a any 8K rw shared populate hint=0x400000 cpu=1\n"
			   "expect mmap a 0x10000 4K r phys=0xa0000 -> enomem\n"
			   "touch a 0x10000 8K write value=7\n"
			   "touch a 0x10000 4K read\n"
			   "kcopyout a 0x10000 100 byte=0x5a\n"
			   "expect read a 0x10008 != 3 size=4\n"
			   "borrow a 0x10000 srv 0x20000 4K rx\n"
			   "fork a b\n"
			   "expect different_frame a 0x10000 b 0x11000\n";
	const struct sc_stmt *st = NULL;

	ck_assert_msg(parse(&sc, text, strlen(text)), "%s", errbuf);
	ck_assert_uint_eq(sc.nstmts, 12);
	st = &sc.stmts[3];
	ck_assert_str_eq(st->proc, "a");
	ck_assert(st->mmap.any && st->mmap.shared && st->mmap.populate && !st->mmap.phys_given);
	ck_assert_uint_eq(st->mmap.size, 8192);
	ck_assert_uint_eq(st->mmap.prot, 0x3); /* MM_PROT_READ | MM_PROT_WRITE */
	ck_assert_uint_eq(st->mmap.hint, 0x400000);
	ck_assert_int_eq(st->cpu, 1);
	ck_assert(!st->expect.has_result);
	st = &sc.stmts[4];
	ck_assert(st->expect.has_result);
	ck_assert_int_eq(st->expect.result, 2); /* enomem */
	ck_assert(!st->mmap.any && !st->mmap.shared && st->mmap.phys_given);
	ck_assert_uint_eq(st->mmap.addr, 0x10000);
	ck_assert_uint_eq(st->mmap.phys, 0xa0000);
	st = &sc.stmts[5];
	ck_assert_int_eq(st->access.cmd, SC_TOUCH);
	ck_assert(st->access.write);
	ck_assert_uint_eq(st->access.addr, 0x10000);
	ck_assert_uint_eq(st->access.len, 8192);
	ck_assert_uint_eq(st->access.value, 7);
	ck_assert(!sc.stmts[6].access.write);
	st = &sc.stmts[7];
	ck_assert_int_eq(st->access.cmd, SC_KCOPYOUT);
	ck_assert_uint_eq(st->access.len, 100);
	ck_assert_uint_eq(st->access.fill, 0x5a);
	st = &sc.stmts[8];
	ck_assert_int_eq(st->access.cmd, SC_READ);
	ck_assert_uint_eq(st->access.len, 4);
	ck_assert(st->expect.has_value && !st->expect.has_result);
	ck_assert_int_eq(st->expect.op, SC_NE);
	ck_assert_uint_eq(st->expect.value, 3);
	st = &sc.stmts[9];
	ck_assert_str_eq(st->share.to, "srv");
	ck_assert_uint_eq(st->share.addr, 0x10000);
	ck_assert_uint_eq(st->share.to_addr, 0x20000);
	ck_assert_uint_eq(st->share.size, 4096);
	ck_assert_uint_eq(st->share.prot, 0x5); /* MM_PROT_READ | MM_PROT_EXEC */
	ck_assert_str_eq(sc.stmts[10].fork.child, "b");
	st = &sc.stmts[11];
	ck_assert_str_eq(st->frame_pair.other, "b");
	ck_assert_uint_eq(st->frame_pair.other_addr, 0x11000);
	scenario_free(&sc);
}
END_TEST

START_TEST(kernel_commands)
{
	struct scenario sc;
	const char *text = "machine memory=8M map=none audit=1 reserve=20 warning=300 emergency=100 oom=picker\n"
			   "bootmem 1M 7M free\n"
			   "bootmem 0x100000 0x1000 kernel\n"
			   "checkpoint start\n"
			   "expect free_frames == start - 5\n"
			   "expect used_frames >= 3\n"
			   "expect total_frames != start + 0x10\n";

	ck_assert_msg(parse(&sc, text, strlen(text)), "%s", errbuf);
	ck_assert_uint_eq(sc.nstmts, 7);
	ck_assert(!sc.machine.default_map);
	ck_assert(sc.machine.audit);
	ck_assert_uint_eq(sc.machine.reserve, 20);
	ck_assert_uint_eq(sc.machine.warning, 300);
	ck_assert_uint_eq(sc.machine.emergency, 100);
	ck_assert(sc.machine.oom_picker);
	ck_assert_uint_eq(sc.stmts[1].bootmem.base, 1u << 20);
	ck_assert_uint_eq(sc.stmts[1].bootmem.size, 7u << 20);
	ck_assert_str_eq(sc.stmts[3].checkpoint.name, "start");
	ck_assert(sc.stmts[4].counter.from_checkpoint);
	ck_assert_str_eq(sc.stmts[4].counter.checkpoint, "start");
	ck_assert_int_eq(sc.stmts[4].counter.delta, -5);
	ck_assert_int_eq(sc.stmts[4].expect.op, SC_EQ);
	ck_assert(!sc.stmts[5].counter.from_checkpoint);
	ck_assert_uint_eq(sc.stmts[5].expect.value, 3);
	ck_assert_int_eq(sc.stmts[5].expect.op, SC_GE);
	ck_assert_int_eq(sc.stmts[6].counter.delta, 16);
	scenario_free(&sc);
}
END_TEST

START_TEST(bad_kernel_commands)
{
	expect_error("machine\npeek 0\nbootmem 0 1M free\n",
		     "t.scn:3:1: error: 'bootmem' describes the machine: it must come right after the machine line");
	expect_error("machine kernel=off\nbootmem 0 1M free\n",
		     "t.scn:2:1: error: 'bootmem' needs the kernel, but this machine has kernel=off");
	expect_error("machine kernel=off map=none\n", "t.scn:1:20: error: map= describes the kernel");
	expect_error("machine\nbootmem 0x1001 1M free\n", "t.scn:2:9: error: 0x1001 is not page-aligned");
	expect_error("machine\nbootmem 0 1M ram\n", "t.scn:2:14: error: expected free|reclaim|reserved");
	expect_error("machine memory=8M\nbootmem 0 16M free\n", "t.scn:2:11: error: free memory beyond");
	expect_error("machine\nexpect free_frames == nope\n",
		     "t.scn:2:23: error: no checkpoint 'nope' before this line");
	expect_error("machine\nexpect free_frames == later\ncheckpoint later\n",
		     "t.scn:2:23: error: no checkpoint 'later' before this line");
	expect_error("machine\ncheckpoint a\nexpect free_frames == a * 5\n",
		     "t.scn:3:25: error: expected + or -, not '*'");
	expect_error("machine\ncheckpoint a\nexpect free_frames == a -\n", "t.scn:3:26: error: missing argument");
	expect_error("machine\nexpect free_frames = 5\n", "t.scn:2:20: error: expected ==|!=|<|<=|>|>=, not '='");
	expect_error("machine\nshow frames count=3\n", "t.scn:2:20: error: count= goes with a start address");
	expect_error("machine warning=10 emergency=20\n", "t.scn:1:30: error: emergency= must not be above warning=");
	expect_error("machine kernel=off oom=auto\n", "t.scn:1:20: error: oom= describes the kernel");
	expect_error("machine oom=random\n", "t.scn:1:13: error: oom= must be auto|picker");
	expect_error("machine\nexpect pressure == calm\n", "t.scn:2:20: error: expected normal|warning|emergency|evacuating|picker|restoring, not 'calm'");
	expect_error("machine\nexpect pressure < normal\n", "t.scn:2:17: error: expected ==|!=");
}
END_TEST

START_TEST(errors_are_all_reported)
{
	struct scenario sc;
	const char *text = "machine kernel=off\nfoo\nbar\npeek 0\n";

	ck_assert(!parse(&sc, text, strlen(text)));
	ck_assert_uint_eq(sc.nerrors, 2);
	ck_assert_str_eq(errbuf, "t.scn:2:1: error: unknown command 'foo' (see `mmsim help`)\n"
				 "t.scn:3:1: error: unknown command 'bar' (see `mmsim help`)\n");
	scenario_free(&sc);
}
END_TEST

/* Every line of errbuf is "t.scn:LINE:COL: error: MESSAGE" with LINE and COL inside the
 * text (a file of n newlines has n + 1 lines; COL may be one past a line's end), the last
 * one possibly "t.scn: too many errors, stopping"; returns the number of error lines. */
static unsigned check_error_lines(const char *text, size_t len)
{
	unsigned lines = 1, n = 0;
	const char *p = errbuf;

	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	while (*p) {
		const char *eol = strchr(p, '\n');
		unsigned line = 0, col = 0;
		int used = 0;

		ck_assert_msg(eol, "error output does not end in a newline: %s", p);
		if (strncmp(p, "t.scn: too many errors, stopping\n", (size_t)(eol - p) + 1) == 0) {
			ck_assert_msg(!eol[1], "output after the last error: %s", eol + 1);
			break;
		}
		ck_assert_msg(sscanf(p, "t.scn:%u:%u: error: %n", &line, &col, &used) == 2 && used > 0,
			      "not FILE:LINE:COL: error: %.*s", (int)(eol - p), p);
		ck_assert_msg(line >= 1 && line <= lines && col >= 1 && col <= len + 1,
			      "position %u:%u outside the text (%u lines): %.*s", line, col, lines,
			      (int)(eol - p), p);
		ck_assert_msg(p + used < eol, "empty message: %.*s", (int)(eol - p), p);
		n++;
		p = eol + 1;
	}
	return n;
}

START_TEST(garbage_never_crashes)
{
	/* Random bytes, including long lines: a file either parses with no output at all, or
	 * fails with one FILE:LINE:COL error line per error, each inside the text. */
	char buf[4096];
	unsigned seed = 12345, failed = 0;

	for (int round = 0; round < 200; round++) {
		struct scenario sc;
		size_t len = (size_t)(seed % sizeof(buf));
		bool ok;
		unsigned lines;

		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = round % 2 ? (char)(seed >> 16) : " \n#\\=0x1poke"[(seed >> 16) % 12];
		}
		ok = parse(&sc, buf, len);
		lines = check_error_lines(buf, len);
		ck_assert_uint_eq(ok, sc.nerrors == 0);
		if (ok) {
			ck_assert_uint_eq(lines, 0);
		} else {
			ck_assert_uint_ge(lines, 1);
			ck_assert_uint_le(lines, sc.nerrors);
			failed++;
		}
		scenario_free(&sc);
	}
	/* garbage is rejected (an empty or comment-only file is the only way through) */
	ck_assert_uint_ge(failed, 150);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("scenario_parse");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, numbers_accepted);
	tcase_add_test(tc, numbers_rejected);
	tcase_add_test(tc, lexical_rules);
	tcase_add_test(tc, defaults_without_machine_line);
	tcase_add_test(tc, access_and_options_anywhere);
	tcase_add_test(tc, bad_files);
	tcase_add_test(tc, nul_byte);
	tcase_add_test(tc, bad_arguments);
	tcase_add_test(tc, bad_machine);
	tcase_add_test(tc, kernel_commands);
	tcase_add_test(tc, typed_arguments);
	tcase_add_test(tc, bad_kernel_commands);
	tcase_add_test(tc, errors_are_all_reported);
	tcase_add_test(tc, garbage_never_crashes);
	suite_add_tcase(s, tc);
	return run_check_suite(s);
}
