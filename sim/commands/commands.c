/*
 * The list of command tables. Adding a subject to the language is adding its table here.
 */
#include "commands/commands.h"

#include <string.h>

static const struct sc_command *const tables[] = {
	machine_commands,
	phys_commands,
	cpu_commands,
	frame_commands,
	pressure_commands,
	dot_commands,
	process_commands,
	access_commands,
	parallel_commands,
	fmap_commands,
	mm_view_commands,
	explain_commands,
	framemap_commands,
	trace_commands,
	swap_commands,
};

#define NTABLES (sizeof(tables) / sizeof(tables[0]))

/* First words that only begin a two-word command. */
static const char *const prefixes[] = {"expect", "show", "dump", NULL};

bool sc_is_prefix(const char *word)
{
	for (int i = 0; prefixes[i]; i++)
		if (strcmp(prefixes[i], word) == 0)
			return true;
	return false;
}

const struct sc_command *sc_lookup(const char *first, const char *second, bool *used_second)
{
	size_t flen = strlen(first);

	*used_second = false;
	for (size_t t = 0; t < NTABLES; t++) {
		for (const struct sc_command *c = tables[t]; c->name; c++) {
			const char *sp = strchr(c->name, ' ');

			if (sp) {
				if (second && (size_t)(sp - c->name) == flen &&
				    strncmp(c->name, first, flen) == 0 && strcmp(sp + 1, second) == 0) {
					*used_second = true;
					return c;
				}
			} else if (strcmp(c->name, first) == 0) {
				return c;
			}
		}
	}
	return NULL;
}

const struct sc_command *sc_command_at(size_t i)
{
	for (size_t t = 0; t < NTABLES; t++) {
		for (const struct sc_command *c = tables[t]; c->name; c++)
			if (i-- == 0)
				return c;
	}
	return NULL;
}

bool sp_opt_cpu(struct sc_parse *p)
{
	uint64_t v;
	bool have;

	if (!sp_opt_num(p, "cpu", &v, &have))
		return false;
	if (have) {
		if (v >= p->sc->machine.cpus) {
			struct sc_option *o = sp_opt_find(p, "cpu");

			return sp_error_opt(p, o, "cpu=%llu: this machine has %u cpu%s (0..%u)",
					(unsigned long long)v, p->sc->machine.cpus,
					p->sc->machine.cpus == 1 ? "" : "s", p->sc->machine.cpus - 1);
		}
		p->st->cpu = (int)v;
	}
	return true;
}

void sc_print_help(FILE *out, const char *topic)
{
	size_t tlen = topic ? strlen(topic) : 0;
	bool any = false;

	for (size_t t = 0; t < NTABLES; t++) {
		for (const struct sc_command *c = tables[t]; c->name; c++) {
			if (topic && !(strncmp(c->name, topic, tlen) == 0 &&
				       (c->name[tlen] == '\0' || c->name[tlen] == ' ')))
				continue;
			fprintf(out, "  %s\n      %s%s\n", c->synopsis, c->help,
				c->modes == SC_KERNEL_OFF  ? " (kernel=off)"
				: c->modes == SC_KERNEL_ON ? " (kernel on)"
							   : "");
			any = true;
		}
	}
	if (!any)
		fprintf(out, "  no command '%s'\n", topic ? topic : "");
}
