/*
 * plot.c - `zswapsim plot [-o OUT.svg] [--title T] FILE`: a series written
 * by libzswapsim.so (ZSWAPSIM_STATS_INTERVAL) as an SVG chart.
 *
 * Input: CSV (a header line naming the columns, then rows) or JSON lines
 * (one flat object per line), told apart by the first character of the
 * first line that is not empty ('{' for JSON).  Only five columns are read:
 * time_s, pool_total_size, stored_pages, swap_pages and thaws; any others
 * are ignored, so an older or newer series plots as long as those are in
 * it.  Bad input stops with exit status 2 and "FILE:LINE: what was
 * expected": a missing column, a field that is not a number, time going
 * backwards (two runs in one file).  A counter that goes down (a reset) is
 * noted once and counted from zero again.
 *
 * Output: one self-contained SVG (no scripts, no external references),
 * three panels stacked on a shared time axis, each a <g class="panel">
 * with a frame, tick labels (class "tick") and units on both axes, one
 * polyline per line drawn (class "line") and a legend:
 *   pool    pool_total_size in MiB
 *   pages   stored_pages and swap_pages
 *   faults  thaws per second, from the thaw counter's change between rows
 *           (one point fewer than rows, placed at the later row's time)
 */
#include "config.h"

#include <errno.h>
#include <float.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum col { C_TIME, C_POOL, C_STORED, C_SWAP, C_THAWS, C_COUNT };

static const char *const col_names[C_COUNT] = {
	"time_s", "pool_total_size", "stored_pages", "swap_pages", "thaws"
};

struct series {
	const char *file;
	size_t rows, cap;
	double *v[C_COUNT];     /* v[col][row] */
	double *rate;           /* thaws per second, rows - 1 of them */
	unsigned long resets;
};

/* Bad input: the message, exit status 2. */
static int bad(const struct series *s, unsigned long line, const char *fmt, const char *what)
{
	fprintf(stderr, "zswapsim: plot: %s:%lu: ", s->file, line);
	fprintf(stderr, fmt, what);
	fputc('\n', stderr);
	return ZS_EXIT_USAGE;
}

/* A number: finite, not negative, the whole text.  0 or -EINVAL. */
static int number(const char *text, size_t len, double *out)
{
	char buf[64], *end;

	if (!len || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, text, len);
	buf[len] = '\0';
	*out = strtod(buf, &end);
	if (*end || !__builtin_isfinite(*out) || *out < 0)
		return -EINVAL;
	return 0;
}

static int add_row(struct series *s, const double row[C_COUNT])
{
	int c;

	if (s->rows == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		for (c = 0; c < C_COUNT; c++) {
			double *p = realloc(s->v[c], s->cap * sizeof(double));

			if (!p)
				return -ENOMEM;
			s->v[c] = p;
		}
	}
	for (c = 0; c < C_COUNT; c++)
		s->v[c][s->rows] = row[c];
	s->rows++;
	return 0;
}

/* The CSV header: where each needed column is.  0 or exit status. */
static int csv_header(struct series *s, char *line, unsigned long no, int where[C_COUNT],
		      int *fields)
{
	char *tok, *save;
	int c, i = 0;

	for (c = 0; c < C_COUNT; c++)
		where[c] = -1;
	line[strcspn(line, "\r\n")] = '\0';
	for (tok = strtok_r(line, ",", &save); tok; tok = strtok_r(NULL, ",", &save), i++)
		for (c = 0; c < C_COUNT; c++)
			if (!strcmp(tok, col_names[c]) && where[c] < 0)
				where[c] = i;
	*fields = i;
	for (c = 0; c < C_COUNT; c++)
		if (where[c] < 0)
			return bad(s, no, "expected a CSV header naming time_s, pool_total_size, "
				   "stored_pages, swap_pages and thaws, or JSON lines; no %s column",
				   col_names[c]);
	return 0;
}

/* One CSV row: 0 or exit status. */
static int csv_row(struct series *s, const char *line, unsigned long no, const int where[C_COUNT],
		   int fields, double row[C_COUNT])
{
	const char *p = line;
	char count[32];
	int i, c;

	for (i = 0; i < fields; i++) {
		size_t len = strcspn(p, ",\r\n");

		for (c = 0; c < C_COUNT; c++)
			if (where[c] == i && number(p, len, &row[c]))
				return bad(s, no, "expected a number for %s", col_names[c]);
		p += len;
		if (i + 1 < fields && *p++ != ',')
			break;
	}
	if (i < fields || (*p && *p != '\r' && *p != '\n')) {
		snprintf(count, sizeof(count), "%d", fields);
		return bad(s, no, "expected %s comma-separated fields, as in the header", count);
	}
	return 0;
}

/* One JSON line, a flat object of numbers ({"time_s":1.5,"thaws":3,...}):
 * 0 or exit status. */
static int json_row(struct series *s, const char *p, unsigned long no, double row[C_COUNT])
{
	bool seen[C_COUNT] = { false };
	int c;

	p += strspn(p, " \t");
	if (*p++ != '{')
		return bad(s, no, "expected %s", "a JSON object, one per line");
	for (p += strspn(p, " \t"); *p == '"';) {
		const char *key = ++p, *val;
		size_t klen = strcspn(key, "\"");

		p += klen;
		if (*p++ != '"' || *(p += strspn(p, " \t")) != ':')
			return bad(s, no, "expected %s", "\"name\": number");
		p++;
		val = p + strspn(p, " \t");
		p = val + strcspn(val, ",} \t");
		for (c = 0; c < C_COUNT; c++)
			if (strlen(col_names[c]) == klen && !strncmp(key, col_names[c], klen)) {
				if (number(val, (size_t)(p - val), &row[c]))
					return bad(s, no, "expected a number for %s", col_names[c]);
				seen[c] = true;
			}
		p += strspn(p, " \t");
		if (*p == ',')
			p += 1 + strspn(p + 1, " \t");
	}
	if (*p != '}')
		return bad(s, no, "expected %s", "a flat JSON object of numbers");
	for (c = 0; c < C_COUNT; c++)
		if (!seen[c])
			return bad(s, no, "expected a %s field", col_names[c]);
	return 0;
}

/* Time must not go backwards; a thaw counter that goes down was reset. */
static int check_row(struct series *s, unsigned long no, const double row[C_COUNT])
{
	char msg[160];

	if (!s->rows)
		return 0;
	if (row[C_TIME] < s->v[C_TIME][s->rows - 1]) {
		snprintf(msg, sizeof(msg), "time_s %g is before the previous row's %g",
			 row[C_TIME], s->v[C_TIME][s->rows - 1]);
		return bad(s, no, "%s: expected rising time (two runs in one file?)", msg);
	}
	if (row[C_THAWS] < s->v[C_THAWS][s->rows - 1] && !s->resets++)
		fprintf(stderr, "zswapsim: plot: %s:%lu: thaws went down (a counter reset); the "
			"fault rate counts from zero there\n", s->file, no);
	return 0;
}

/* Read the whole series: 0 or exit status. */
static int read_series(struct series *s, FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	unsigned long no = 0;
	int where[C_COUNT], fields = 0, ret = 0, json = -1;
	double row[C_COUNT];

	while (!ret && getline(&line, &cap, f) > 0) {
		no++;
		if (!line[strspn(line, " \t\r\n")])
			continue;
		if (json < 0) {
			json = line[strspn(line, " \t")] == '{';
			if (!json) {
				ret = csv_header(s, line, no, where, &fields);
				continue;
			}
		}
		ret = json ? json_row(s, line, no, row) : csv_row(s, line, no, where, fields, row);
		if (!ret)
			ret = check_row(s, no, row);
		if (!ret && add_row(s, row))
			ret = bad(s, no, "%s", strerror(ENOMEM));
	}
	free(line);
	if (!ret && ferror(f))
		ret = bad(s, no, "cannot read: %s", strerror(errno));
	if (!ret && !s->rows)
		ret = bad(s, no ? no : 1, "expected %s", json < 0 ? "a CSV header and rows, or JSON lines: "
			  "the file is empty" : "rows after the header: the series is empty");
	return ret;
}

/* Thaws per second between rows (a reset counts from zero; rows at the
 * same millisecond keep the previous rate). */
static void fault_rate(struct series *s)
{
	size_t i;

	s->rate = calloc(s->rows, sizeof(double));
	for (i = 1; s->rate && i < s->rows; i++) {
		double dt = s->v[C_TIME][i] - s->v[C_TIME][i - 1];
		double d = s->v[C_THAWS][i] - s->v[C_THAWS][i - 1];

		if (d < 0)
			d = s->v[C_THAWS][i];
		s->rate[i - 1] = dt > 0 ? d / dt : i > 1 ? s->rate[i - 2] : 0;
	}
}

/* ---- SVG ---------------------------------------------------------------- */

#define W 960
#define LEFT 90
#define RIGHT 220
#define TOP 60
#define PANEL_H 180
#define GAP 70
#define PLOT_W (W - LEFT - RIGHT)
#define H (TOP + 3 * PANEL_H + 2 * GAP + 70)

/*
 * An axis: ticks at lo + i * step for i < ticks (a bounded integer index,
 * never a running sum), the last one at hi (or below it near DBL_MAX).
 * Equal, huge, tiny or negative ends all give a bounded axis: when no step
 * of 1, 2 or 5 times a power of ten moves lo or hi (1e20 + 1 == 1e20), or
 * the span is not positive, it is one tick at lo, drawn in the middle.
 * MAX_TICKS bounds the output.
 */
#define MAX_TICKS 10

struct axis {
	double lo, hi, step;    /* hi: the last tick, or past it near DBL_MAX */
	int ticks;              /* 1 to MAX_TICKS + 1; 1: step 0, hi == lo */
};

/* v as a finite number: NaN is 0, an infinity the largest double. */
static double clamp_finite(double v)
{
	return v != v ? 0 : v > DBL_MAX ? DBL_MAX : v < -DBL_MAX ? -DBL_MAX : v;
}

/* The power of ten at or below x > 0, as its exponent (and *mag, its
 * value), in bounded steps; 0 (and 1) for x that is not positive. */
static int decade(double x, double *mag)
{
	double m = 1;
	int e = 0;

	while (x > 0 && e < DBL_MAX_10_EXP && m * 10 <= x) {
		m *= 10;
		e++;
	}
	while (x > 0 && e > DBL_MIN_10_EXP - DBL_DIG && m > x) {
		m /= 10;
		e--;
	}
	if (mag)
		*mag = m;
	return e;
}

/* lo + i * step, without overflow in i * step when the sum is finite. */
static double step_at(double lo, double step, int i)
{
	double v = lo + (double)i * step;

	return __builtin_isfinite(v) ? v : (lo / 2 + (double)i * (step / 2)) * 2;
}

/* Ticks for [lo, hi]: a step of 1, 2 or 5 times a power of ten, about five
 * of them; hi rounded up to a whole step when that stays finite. */
static struct axis nice_axis(double lo, double hi)
{
	struct axis a;
	double raw, mag, q;
	int k;

	lo = clamp_finite(lo);
	hi = clamp_finite(hi);
	a = (struct axis){ lo, lo, 0, 1 };
	if (!(hi > lo))
		hi = lo + 1; /* may still equal lo: then one tick */
	raw = hi / 5 - lo / 5; /* the span / 5, without overflow */
	if (!(raw > 0))
		return a;
	decade(raw, &mag);
	q = raw / mag;
	a.step = q < 1.5 ? mag : q < 3 ? 2 * mag : q < 7 ? 5 * mag : 10 * mag;
	if (!(a.step > 0) || !__builtin_isfinite(a.step) || lo + a.step == lo ||
	    hi + a.step == hi) {
		a.step = 0;
		return a;
	}
	q = raw / a.step * 5; /* intervals: about 2.5 to 7.5 */
	k = q > MAX_TICKS ? MAX_TICKS : (int)q;
	if (k < q - 1e-9 && k < MAX_TICKS)
		k++;
	if (k < 1)
		k = 1;
	a.hi = step_at(lo, a.step, k);
	if (!__builtin_isfinite(a.hi)) { /* near DBL_MAX: ends at hi, ticks below it */
		while (k > 1 && !(step_at(lo, a.step, k) <= hi))
			k--;
		a.hi = hi;
	}
	a.ticks = k + 1;
	return a;
}

/* Tick i's value. */
static double tick_value(const struct axis *a, int i)
{
	double v = step_at(a->lo, a->step, i);

	return v < a->step * 1e-6 && v > -a->step * 1e-6 ? 0 : v; /* no "-0.0" */
}

/* Where v falls on the axis, 0 to 1 (the middle for a one-tick axis). */
static double axis_pos(const struct axis *a, double v)
{
	double f;

	if (a->ticks < 2 || !(a->hi > a->lo))
		return 0.5;
	f = (clamp_finite(v) / 2 - a->lo / 2) / (a->hi / 2 - a->lo / 2);
	return f != f ? 0.5 : f < 0 ? 0 : f > 1 ? 1 : f;
}

/* A tick value with as many decimals as the step needs; huge or tiny ones
 * with as many significant digits as tell ticks apart. */
static void tick_text(double v, const struct axis *a, char *buf, size_t len)
{
	double big = a->hi > -a->lo ? a->hi : -a->lo;
	int es = decade(a->step, NULL), digits;

	if (a->ticks < 2) {
		snprintf(buf, len, "%.6g", v);
	} else if (es >= -6 && big < 1e15) {
		snprintf(buf, len, "%.*f", es < 0 ? -es : 0, v);
	} else {
		digits = decade(big, NULL) - es + 1;
		snprintf(buf, len, "%.*g", digits < 1 ? 1 : digits > 17 ? 17 : digits, v);
	}
}

static void xml_text(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '&')
			fputs("&amp;", out);
		else if (*s == '<')
			fputs("&lt;", out);
		else if (*s == '>')
			fputs("&gt;", out);
		else if (*s == '"')
			fputs("&quot;", out);
		else if ((unsigned char)*s >= 0x20 || *s == '\t')
			fputc(*s, out);
	}
}

struct line {
	const char *label, *color;
	const double *y;
	size_t first, n;        /* points: rows first..first+n-1 of the time axis */
	double scale;           /* divide y by */
};

struct panel {
	const char *id, *title, *unit;
	bool whole;             /* counts: ticks 1 apart at least */
	struct line lines[2];
	int nlines;
};

static void draw_ticks(FILE *out, const struct axis *x, const struct axis *y, int top)
{
	char num[32];
	int i;

	for (i = 0; i < y->ticks; i++) {
		double v = tick_value(y, i), py = top + PANEL_H - axis_pos(y, v) * PANEL_H;

		tick_text(v, y, num, sizeof(num));
		fprintf(out, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>\n",
			LEFT, py, LEFT + PLOT_W, py);
		fprintf(out, "<text class=\"tick y\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
			LEFT - 6, py + 4, num);
	}
	for (i = 0; i < x->ticks; i++) {
		double v = tick_value(x, i), px = LEFT + axis_pos(x, v) * PLOT_W;

		tick_text(v, x, num, sizeof(num));
		fprintf(out, "<text class=\"tick x\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s"
			"</text>\n", px, top + PANEL_H + 16, num);
	}
}

static void draw_line(FILE *out, const struct series *s, const struct line *l,
		      const struct axis *x, const struct axis *y, int top)
{
	size_t i;
	double px = 0, py = 0;

	fprintf(out, "<polyline class=\"line\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" "
		"points=\"", l->color);
	for (i = 0; i < l->n; i++) {
		double t = s->v[C_TIME][l->first + i], v = l->y[i] / l->scale;

		px = LEFT + axis_pos(x, t) * PLOT_W;
		py = top + PANEL_H - axis_pos(y, v) * PANEL_H;
		fprintf(out, "%s%.1f,%.1f", i ? " " : "", px, py);
	}
	fprintf(out, "\"/>\n");
	if (l->n == 1) /* a lone point draws no line: mark it */
		fprintf(out, "<circle class=\"point\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
			px, py, l->color);
	if (!l->n)
		fprintf(out, "<text class=\"note\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">"
			"(two rows are needed for a rate)</text>\n", LEFT + PLOT_W / 2,
			top + PANEL_H / 2);
}

static void draw_panel(FILE *out, const struct series *s, const struct panel *p,
		       const struct axis *x, int top)
{
	struct axis y;
	double min = 0, max = 0;
	size_t i;
	int k;

	for (k = 0; k < p->nlines; k++)
		for (i = 0; i < p->lines[k].n; i++) {
			double v = clamp_finite(p->lines[k].y[i] / p->lines[k].scale);

			min = v < min ? v : min;
			max = v > max ? v : max;
		}
	y = nice_axis(min, max);
	if (p->whole && y.ticks > 1 && y.step < 1)
		y = nice_axis(min, max > min + 5 ? max : min + 5);
	fprintf(out, "<g class=\"panel\" id=\"%s\">\n", p->id);
	fprintf(out, "<text class=\"panel-title\" x=\"%d\" y=\"%d\">%s</text>\n", LEFT, top - 8,
		p->title);
	fprintf(out, "<rect class=\"frame\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>\n", LEFT,
		top, PLOT_W, PANEL_H);
	draw_ticks(out, x, &y, top);
	fprintf(out, "<text class=\"unit\" x=\"%d\" y=\"%d\" text-anchor=\"middle\" "
		"transform=\"rotate(-90 %d %d)\">%s</text>\n", 24, top + PANEL_H / 2, 24,
		top + PANEL_H / 2, p->unit);
	fprintf(out, "<text class=\"unit\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">time (s)</text>\n",
		LEFT + PLOT_W / 2, top + PANEL_H + 34);
	for (k = 0; k < p->nlines; k++)
		draw_line(out, s, &p->lines[k], x, &y, top);
	fprintf(out, "<g class=\"legend\">\n");
	for (k = 0; k < p->nlines; k++) {
		int ly = top + 16 + 20 * k;

		fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
			"stroke-width=\"3\"/>\n", LEFT + PLOT_W + 12, ly - 4, LEFT + PLOT_W + 32,
			ly - 4, p->lines[k].color);
		fprintf(out, "<text x=\"%d\" y=\"%d\">%s</text>\n", LEFT + PLOT_W + 38, ly,
			p->lines[k].label);
	}
	fprintf(out, "</g>\n</g>\n");
}

static void write_svg(FILE *out, const struct series *s, const char *title)
{
	const size_t n = s->rows;
	const struct panel panels[3] = {
		{ "pool", "Pool size", "MiB", false,
		  { { "pool_total_size (MiB)", "#1f77b4", s->v[C_POOL], 0, n, 1048576 } }, 1 },
		{ "pages", "Stored pages", "pages", true,
		  { { "stored_pages", "#2ca02c", s->v[C_STORED], 0, n, 1 },
		    { "swap_pages", "#d62728", s->v[C_SWAP], 0, n, 1 } }, 2 },
		{ "faults", "Fault rate", "thaws/s", false,
		  { { "thaws per second", "#9467bd", s->rate, 1, n - 1, 1 } }, 1 },
	};
	struct axis x = nice_axis(s->v[C_TIME][0], s->v[C_TIME][n - 1]);
	int i;

	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		"viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n",
		W, H, W, H);
	fprintf(out, "<title>");
	xml_text(out, title);
	fprintf(out, "</title>\n<style>.frame{fill:none;stroke:#444}.grid{stroke:#ddd}"
		".panel-title{font-weight:bold}.title{font-size:16px;font-weight:bold}</style>\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
		"<text class=\"title\" x=\"%d\" y=\"28\">", LEFT);
	xml_text(out, title);
	fprintf(out, "</text>\n");
	for (i = 0; i < 3; i++)
		draw_panel(out, s, &panels[i], &x, TOP + i * (PANEL_H + GAP));
	fprintf(out, "</svg>\n");
}

static void plot_usage(FILE *f)
{
	fprintf(f, "Usage: zswapsim plot [-o OUT.svg] [--title TITLE] FILE\n"
		"Draw a series written under ZSWAPSIM_STATS_INTERVAL (CSV or JSON lines) as an\n"
		"SVG chart: pool size, stored pages and fault rate over time.  Without -o, the\n"
		"SVG goes to standard output.\n");
}

/* Parse the arguments: 0, or an exit status (-1: --help done). */
static int plot_args(int argc, char **argv, const char **out, const char **title,
		     const char **file)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help")) {
			plot_usage(stdout);
			return -1;
		}
		if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--title")) && i + 1 < argc) {
			*(argv[i][1] == 'o' ? out : title) = argv[i + 1];
			i++;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "zswapsim: plot: unknown option or missing value '%s'\n",
				argv[i]);
			return ZS_EXIT_USAGE;
		} else if (*file) {
			fprintf(stderr, "zswapsim: plot: one FILE only ('%s' and '%s')\n", *file,
				argv[i]);
			return ZS_EXIT_USAGE;
		} else {
			*file = argv[i];
		}
	}
	if (!*file) {
		plot_usage(stderr);
		return ZS_EXIT_USAGE;
	}
	return 0;
}

static void series_free(struct series *s)
{
	int c;

	for (c = 0; c < C_COUNT; c++)
		free(s->v[c]);
	free(s->rate);
}

int cmd_plot(int argc, char **argv)
{
	const char *out_path = NULL, *title = NULL, *file = NULL;
	struct series s = { 0 };
	char deftitle[512];
	FILE *in, *out = stdout;
	int ret = plot_args(argc, argv, &out_path, &title, &file);

	if (ret)
		return ret < 0 ? 0 : ret;
	s.file = file;
	in = strcmp(file, "-") ? fopen(file, "r") : stdin;
	if (!in) {
		fprintf(stderr, "zswapsim: plot: %s: %s\n", file, strerror(errno));
		return ZS_EXIT_USAGE;
	}
	ret = read_series(&s, in);
	if (in != stdin)
		fclose(in);
	if (!ret)
		fault_rate(&s);
	if (!ret && !s.rate)
		ret = 1;
	if (!ret && out_path && !(out = fopen(out_path, "w"))) {
		fprintf(stderr, "zswapsim: plot: %s: %s\n", out_path, strerror(errno));
		ret = 1;
	}
	if (!ret) {
		snprintf(deftitle, sizeof(deftitle), "zswapsim: %s", file);
		write_svg(out, &s, title ? title : deftitle);
		if ((out != stdout ? fclose(out) : fflush(out)) != 0) {
			fprintf(stderr, "zswapsim: plot: %s: %s\n", out_path ? out_path : "stdout",
				strerror(errno));
			ret = 1;
		}
	}
	series_free(&s);
	return ret;
}
