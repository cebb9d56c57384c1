/*
 * Writing the --html page (see html_page.h): the recorded steps as one JSON object inside
 * a page with its script and style inline. The JSON is written with every '<' as \u003c
 * (it only occurs inside strings), so no text of the run can end the script element.
 */
#include "views/html_page.h"

#include <stdlib.h>
#include <string.h>

#include "views/report_json.h"

/* The page is page_title FILE page_style FILE page_body JSON page_tail. */
static const char page_title[] =
	"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	"<title>mmsim: ";

static const char page_style[] =
	"</title>\n<style>\n"
	"body{margin:0;font:14px/1.35 system-ui,sans-serif;color:#1d1d1f;background:#f4f4f0}\n"
	"header{position:sticky;top:0;z-index:2;background:#23395d;color:#fff;padding:8px 14px;"
	"display:flex;flex-wrap:wrap;gap:12px;align-items:center}\n"
	"header h1{font-size:17px;margin:0 12px 0 0;font-weight:600}\n"
	"button{font:inherit;padding:4px 12px;border-radius:4px;border:1px solid #9fb3d1;"
	"background:#e8eef8;color:#102040;cursor:pointer}\n"
	"button:disabled{opacity:.45;cursor:default}\n"
	"#step-label{font-variant-numeric:tabular-nums;min-width:17em}\n"
	"#hint{opacity:.75;font-size:12px}\n"
	"main{display:grid;grid-template-columns:minmax(300px,38%) 1fr;gap:12px;padding:12px}\n"
	"#source{background:#fff;border:1px solid #d5d5cf;border-radius:6px;overflow:auto;"
	"max-height:calc(100vh - 80px);position:sticky;top:60px}\n"
	"#lines{margin:0;padding:6px 0 6px 3.6em;font:12.5px/1.45 ui-monospace,monospace}\n"
	"#lines li{white-space:pre;padding:0 8px;color:#555}\n"
	"#lines li.code{color:#111}\n#lines li.comment{color:#8a8a80}\n"
	"#lines li.done{background:#eef6ee}\n"
	"#lines li.current{background:#ffe27a;color:#000;font-weight:600;outline:1px solid #d4a900}\n"
	"#lines li.failed{background:#ffc9c4}\n"
	".panel{background:#fff;border:1px solid #d5d5cf;border-radius:6px;padding:8px 12px;"
	"margin-bottom:12px}\n"
	".panel h2{font-size:14px;margin:0 0 6px;color:#23395d;text-transform:uppercase;"
	"letter-spacing:.04em}\n"
	".panel h3{font-size:13.5px;margin:8px 0 4px}\n"
	"pre{font:12px/1.35 ui-monospace,monospace;background:#f7f7f3;padding:6px 8px;margin:4px 0;"
	"overflow:auto;max-height:28em;border-radius:4px}\n"
	"#current-line{font:13px ui-monospace,monospace;font-weight:600}\n"
	".ok{color:#11772b}.bad{color:#b3261e;font-weight:600}\n"
	"#events li{margin:2px 0}\n"
	"table{border-collapse:collapse;font-size:12.5px}\n"
	"td,th{border:1px solid #ddd;padding:2px 8px;text-align:left}\n"
	".state-killed,.state-exited{color:#b3261e}\n"
	".grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(380px,1fr));gap:10px}\n"
	"</style>\n</head>\n<body>\n"
	"<header><h1>mmsim: ";

static const char page_body[] =
	"</h1>\n"
	"<button id=\"first\" title=\"first step (Home)\">first</button>\n"
	"<button id=\"prev\" title=\"one step back (left arrow)\">&#x25C0; back</button>\n"
	"<span id=\"step-label\"></span>\n"
	"<button id=\"next\" title=\"one step forward (right arrow)\">forward &#x25B6;</button>\n"
	"<button id=\"last\" title=\"last step (End)\">last</button>\n"
	"<span id=\"hint\">arrow keys step; the address ends in #step=N</span></header>\n"
	"<main>\n<section id=\"source\"><ol id=\"lines\"></ol></section>\n<section>\n"
	"<div class=\"panel\"><h2>This step</h2><div id=\"current-line\"></div>"
	"<div id=\"status\"></div><pre id=\"output\"></pre><ul id=\"events\"></ul>"
	"<div id=\"note\"></div></div>\n"
	"<div class=\"panel\"><h2>Processes and their page tables</h2><div id=\"processes\"></div></div>\n"
	"<div class=\"panel\"><h2>Memory pressure</h2><div id=\"pressure\"></div></div>\n"
	"<div class=\"panel\"><h2>Swap and page replacement</h2><pre id=\"swap\"></pre></div>\n"
	"<div class=\"panel\"><h2>CPUs and their TLBs</h2><div id=\"cpus\" class=\"grid2\"></div></div>\n"
	"<div class=\"panel\"><h2>Physical frames</h2><pre id=\"frames\"></pre></div>\n"
	"</section>\n</main>\n<script type=\"application/json\" id=\"mmsim-data\">";

static const char page_tail[] =
	"</script>\n<script>\n"
	"(function () {\n"
	"'use strict';\n"
	"var D = JSON.parse(document.getElementById('mmsim-data').textContent);\n"
	"var S = D.steps, T = D.texts, cur = -1;\n"
	"function $(id) { return document.getElementById(id); }\n"
	"function add(parent, tag, text, cls) {\n"
	"  var e = document.createElement(tag);\n"
	"  if (text !== undefined && text !== null) e.textContent = text;\n"
	"  if (cls) e.className = cls;\n"
	"  parent.appendChild(e);\n"
	"  return e;\n"
	"}\n"
	"function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }\n"
	"function text(i) { return i >= 0 ? T[i] : ''; }\n"
	"var lines = $('lines'), items = [];\n"
	"D.source.forEach(function (l, i) {\n"
	"  var code = l.replace(/#.*/, '').trim() !== '';\n"
	"  var li = add(lines, 'li', l === '' ? ' ' : l, code ? 'code' : (l.trim() ? 'comment' : ''));\n"
	"  li.id = 'L' + (i + 1);\n"
	"  items.push(li);\n"
	"});\n"
	"function faultsRow(f) {\n"
	"  var parts = [];\n"
	"  for (var k in f) if (f[k]) parts.push(k.replace('_', '-') + ' ' + f[k]);\n"
	"  return parts.length ? parts.join(', ') : 'none';\n"
	"}\n"
	"function show(k) {\n"
	"  k = Math.max(0, Math.min(S.length - 1, k | 0));\n"
	"  var s = S[k], st = s.state;\n"
	"  cur = k;\n"
	"  items.forEach(function (li) { li.classList.remove('done', 'current', 'failed'); });\n"
	"  for (var j = 1; j < k; j++) if (items[S[j].line - 1]) items[S[j].line - 1].classList.add('done');\n"
	"  if (s.line && items[s.line - 1]) {\n"
	"    items[s.line - 1].classList.add(s.status === 'ok' ? 'current' : 'failed');\n"
	"    items[s.line - 1].classList.add('current');\n"
	"    items[s.line - 1].scrollIntoView({block: 'nearest'});\n"
	"  }\n"
	"  $('step-label').textContent = 'step ' + k + ' of ' + (S.length - 1) +\n"
	"    (s.line ? ', line ' + s.line : ', before the first line');\n"
	"  $('prev').disabled = $('first').disabled = k === 0;\n"
	"  $('next').disabled = $('last').disabled = k === S.length - 1;\n"
	"  $('current-line').textContent = s.line ? 'line ' + s.line + ': ' + s.text :\n"
	"    'Nothing has run yet: step forward to run the first line.';\n"
	"  var status = $('status');\n"
	"  status.textContent = s.line ? 'result: ' + s.status : '';\n"
	"  status.className = s.status === 'ok' ? 'ok' : 'bad';\n"
	"  $('output').textContent = (s.output + s.messages) || '(printed nothing)';\n"
	"  var ev = $('events');\n"
	"  clear(ev);\n"
	"  (st ? st.events : []).forEach(function (e) { add(ev, 'li', e); });\n"
	"  $('note').textContent = s.line && !st ? 'No snapshot of this step: the page keeps ' +\n"
	"    D.max_steps + ' (the run went on; its output is still here).' : '';\n"
	"  var pr = $('processes');\n"
	"  clear(pr);\n"
	"  if (!st || !st.processes || !st.processes.length) add(pr, 'p', st && st.processes ?\n"
	"    'No process yet.' : (D.kernel ? 'The kernel has not booted yet.' :\n"
	"    'The bare processor (kernel=off): no processes; see the CPUs.'));\n"
	"  (st && st.processes || []).forEach(function (p, i) {\n"
	"    var h = add(pr, 'h3', p.name + ': ' + p.state, 'state-' + p.state);\n"
	"    h.id = 'proc-' + p.name;\n"
	"    if (!p.alive) return;\n"
	"    var t = add(pr, 'table');\n"
	"    var r = add(t, 'tr');\n"
	"    add(r, 'th', 'rss'); add(r, 'td', p.rss + ' pages');\n"
	"    add(r, 'th', 'tables'); add(r, 'td', p.table_frames + ' frames');\n"
	"    add(r, 'th', 'faults'); add(r, 'td', faultsRow(p.faults));\n"
	"    add(pr, 'pre', text(st.pagetables[i]), 'pagetables');\n"
	"  });\n"
	"  var pz = $('pressure');\n"
	"  clear(pz);\n"
	"  if (st && st.pressure) {\n"
	"    var q = st.pressure;\n"
	"    add(pz, 'p', 'state ' + q.state + (q.frozen ? ' (frozen: at the picker)' : '') +\n"
	"      '; available ' + q.available_frames + ' frames; warning below ' + q.warning_below +\n"
	"      ', emergency below ' + q.emergency_below + '; sacred reserve ' + q.reserve_frames +\n"
	"      ' of ' + q.reserve_pool + '; oom=' + q.oom, q.state === 'normal' ? 'ok' : 'bad');\n"
	"  } else add(pz, 'p', 'No pressure governor: the kernel has not booted' +\n"
	"    (D.kernel ? ' yet.' : ' (kernel=off).'));\n"
	"  var cp = $('cpus');\n"
	"  clear(cp);\n"
	"  (st && st.cpus || []).forEach(function (c, i) {\n"
	"    var d = add(cp, 'div');\n"
	"    add(d, 'h3', 'cpu' + c.cpu + ': CR3 0x' + c.cr3.toString(16) + ', CR2 0x' +\n"
	"      c.cr2.toString(16) + ', ' + c.page_faults + ' page faults');\n"
	"    add(d, 'pre', text(st.regs[i]), 'regs');\n"
	"    add(d, 'pre', text(st.tlb[i]), 'tlb').id = 'tlb' + c.cpu;\n"
	"  });\n"
	"  $('swap').textContent = st && st.swap >= 0 ? text(st.swap) :\n"
	"    'No swap area (machine swap=SIZE adds one).';\n"
	"  $('frames').textContent = st && st.frames >= 0 ? text(st.frames) :\n"
	"    (D.kernel ? 'The frame allocator exists once the kernel has booted.' :\n"
	"    'The bare processor (kernel=off) has no frame allocator.');\n"
	"  if (location.hash !== '#step=' + k) history.replaceState(null, '', '#step=' + k);\n"
	"}\n"
	"function fromHash() {\n"
	"  var m = /step=(\\d+)/.exec(location.hash);\n"
	"  show(m ? parseInt(m[1], 10) : 0);\n"
	"}\n"
	"$('first').onclick = function () { show(0); };\n"
	"$('prev').onclick = function () { show(cur - 1); };\n"
	"$('next').onclick = function () { show(cur + 1); };\n"
	"$('last').onclick = function () { show(S.length - 1); };\n"
	"document.addEventListener('keydown', function (e) {\n"
	"  if (e.key === 'ArrowRight' || e.key === 'ArrowDown' || e.key === 'PageDown') show(cur + 1);\n"
	"  else if (e.key === 'ArrowLeft' || e.key === 'ArrowUp' || e.key === 'PageUp') show(cur - 1);\n"
	"  else if (e.key === 'Home') show(0);\n"
	"  else if (e.key === 'End') show(S.length - 1);\n"
	"  else return;\n"
	"  e.preventDefault();\n"
	"});\n"
	"window.addEventListener('hashchange', fromHash);\n"
	"fromHash();\n"
	"})();\n"
	"</script>\n</body>\n</html>\n";

static const char *const status_words[] = {"ok", "expectation failed", "error", "kernel bug"};

/* Copies the JSON text to the page with every '<' escaped. */
static void put_json(FILE *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '<')
			fputs("\\u003c", out);
		else
			fputc(s[i], out);
	}
}

/* A line of the source as a JSON string: bytes of UTF-8 text pass as they are (the page is
 * UTF-8; a browser shows a stray byte as U+FFFD), quotes and control bytes escaped. */
static void source_string(FILE *out, const char *s, size_t n)
{
	fputc('"', out);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c == '\t')
			fputs("\\t", out);
		else if (c < 0x20 || c == 0x7f)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void html_escape(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '<')
			fputs("&lt;", out);
		else if (*s == '>')
			fputs("&gt;", out);
		else if (*s == '&')
			fputs("&amp;", out);
		else if (*s == '"')
			fputs("&quot;", out);
		else
			fputc(*s, out);
	}
}

static void write_data(FILE *m, const struct html_steps *v, const char *file,
		       const char *source, size_t len, int status, bool kernel)
{
	fputs("{\"file\": ", m);
	json_string(m, file);
	fprintf(m, ", \"status\": %d, \"kernel\": %s, \"max_steps\": %d, \"source\": [", status,
		kernel ? "true" : "false", HTML_MAX_STEPS);
	for (size_t pos = 0, i = 0; pos < len; i++) {
		const char *nl = memchr(source + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (source + pos)) : len - pos;

		fputs(i ? ", " : "", m);
		source_string(m, source + pos, n && source[pos + n - 1] == '\r' ? n - 1 : n);
		pos += n + (nl != NULL);
	}
	fputs("], \"texts\": [", m);
	for (size_t i = 0; i < v->ntexts; i++) {
		fputs(i ? ",\n" : "", m);
		json_string(m, v->texts[i]);
	}
	fputs("],\n\"steps\": [{\"line\": 0, \"text\": \"\", \"status\": \"ok\", \"output\": \"\", "
	      "\"messages\": \"\", \"state\": null}",
	      m);
	for (size_t i = 0; i < v->nsteps; i++) {
		const struct html_step *s = &v->steps[i];

		fprintf(m, ",\n{\"line\": %d, \"text\": ", s->line);
		json_string(m, s->text);
		fputs(", \"status\": ", m);
		json_string(m, status_words[s->status & 3]);
		fputs(", \"output\": ", m);
		json_string(m, s->output);
		fputs(", \"messages\": ", m);
		json_string(m, s->messages);
		fprintf(m, ", \"state\": %s}", s->state ? s->state : "null");
	}
	fputs("]}", m);
}

bool html_page_write(const struct html_steps *h, const char *path, const char *file,
		     const char *source, size_t len, int status, bool kernel, FILE *err)
{
	char *json = NULL;
	size_t jlen = 0;
	FILE *m = open_memstream(&json, &jlen), *out;
	bool ok;

	if (!m) {
		fprintf(err, "mmsim: out of host memory\n");
		return false;
	}
	write_data(m, h, file, source, len, status, kernel);
	fclose(m);
	out = fopen(path, "w");
	if (!out) {
		fprintf(err, "mmsim: cannot write %s: %m\n", path);
		free(json);
		return false;
	}
	fputs(page_title, out);
	html_escape(out, file);
	fputs(page_style, out);
	html_escape(out, file);
	fputs(page_body, out);
	put_json(out, json, jlen);
	fputs(page_tail, out);
	ok = fflush(out) == 0 && !ferror(out);
	if (fclose(out) != 0)
		ok = false;
	if (!ok)
		fprintf(err, "mmsim: cannot write %s\n", path);
	free(json);
	return ok;
}

int sim_run_html(const char *file, const char *out_path, const struct sim_options *opts,
		 FILE *out, FILE *err)
{
	struct scenario sc;
	struct sim sim;
	struct html_steps *h;
	FILE *hout, *herr;
	size_t len;
	char *source = scenario_read(file, &len, err);
	int status;

	if (!source)
		return 2;
	if (!scenario_parse(&sc, file, source, len, err)) {
		scenario_free(&sc);
		free(source);
		return 2;
	}
	h = html_steps_begin(out, err, &hout, &herr);
	if (!h) {
		fprintf(err, "mmsim: out of host memory\n");
		scenario_free(&sc);
		free(source);
		return 2;
	}
	if (!sim_create(&sim, &sc.machine, opts, sc.file, hout, herr)) {
		html_steps_free(h);
		scenario_free(&sc);
		free(source);
		return 2;
	}
	sim.html = h;
	status = sim_answers_finish(&sim, sim_run(&sim, &sc));
	html_steps_flush(h);
	if (!html_page_write(h, out_path, file, source, len, status, sc.machine.kernel, err) &&
	    status == 0)
		status = 2;
	sim_destroy(&sim);
	html_steps_free(h);
	scenario_free(&sc);
	free(source);
	return status;
}
