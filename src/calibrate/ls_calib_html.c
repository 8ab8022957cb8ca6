/*
 * ls_calib_html.c - a calibration report as one self-contained HTML page
 * (`leadscore calibrate --html FILE`, docs/CALIBRATE.md "The HTML
 * report"): the headline numbers as a table, then four charts drawn with
 * cairo on its SVG surface and inlined: the totals by outcome, the close
 * rate per grid cell, the lift and the calibration by held-out decile.
 *
 * The page needs nothing else: no script, no style sheet, no font or
 * image from elsewhere (cairo writes the glyphs it uses into each SVG).
 * Several SVG documents in one page share one id space, so the ids of
 * each chart (glyphs, clip paths) are given a prefix of their own.
 * Every string that comes from the model is escaped.
 */
#include <cairo-svg.h>
#include <cairo.h>
#include <errno.h>
#include <fontconfig/fontconfig.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "leadscore/ls_calibrate.h"

#define LS_HTML_W 560 /* a chart's size in CSS pixels */
#define LS_HTML_H 380
#define LS_HTML_PI 3.14159265358979323846

/* The colours of the series (the integration test looks for them). */
typedef struct ls_html_rgb_s {
        unsigned char r, g, b;
} ls_html_rgb_t;

static const ls_html_rgb_t ls_html_won = {31, 119, 180};   /* blue */
static const ls_html_rgb_t ls_html_lost = {255, 127, 14};  /* orange */
static const ls_html_rgb_t ls_html_lift = {106, 81, 163};  /* purple */
static const ls_html_rgb_t ls_html_calib = {214, 39, 40};  /* red */
static const ls_html_rgb_t ls_html_grey = {120, 120, 120}; /* references */
static const ls_html_rgb_t ls_html_ink = {34, 34, 34};     /* text, axes */
/* The heat map: close rate 0 to 1, linear from light to dark green. */
static const ls_html_rgb_t ls_html_heat0 = {229, 245, 224};
static const ls_html_rgb_t ls_html_heat1 = {0, 109, 44};

static void ls_html_color(cairo_t *cr, ls_html_rgb_t c) {
        cairo_set_source_rgb(cr, c.r / 255.0, c.g / 255.0, c.b / 255.0);
}

static ls_html_rgb_t ls_html_heat(double rate) {
        ls_html_rgb_t c;

        rate = rate < 0 ? 0 : rate > 1 ? 1 : rate;
        c.r = (unsigned char)lround(ls_html_heat0.r +
                                    rate * (ls_html_heat1.r - ls_html_heat0.r));
        c.g = (unsigned char)lround(ls_html_heat0.g +
                                    rate * (ls_html_heat1.g - ls_html_heat0.g));
        c.b = (unsigned char)lround(ls_html_heat0.b +
                                    rate * (ls_html_heat1.b - ls_html_heat0.b));
        return c;
}

/* ---- text ---- */

/* Appends @p s with &, <, >, " and ' escaped. */
static ls_err_t ls_html_esc(ls_buf_t *buf, const char *s) {
        const char *p, *rep;
        ls_err_t err;

        for (p = s; *p; p++) {
                switch (*p) {
                case '&':
                        rep = "&amp;";
                        break;
                case '<':
                        rep = "&lt;";
                        break;
                case '>':
                        rep = "&gt;";
                        break;
                case '"':
                        rep = "&quot;";
                        break;
                case '\'':
                        rep = "&#39;";
                        break;
                default:
                        continue;
                }
                if ((err = ls_buf_append(buf, s, (size_t)(p - s))) != LS_OK ||
                    (err = ls_buf_append(buf, rep, strlen(rep))) != LS_OK)
                        return err;
                s = p + 1;
        }
        return ls_buf_append(buf, s, strlen(s));
}

/* Appends the printf() of @p fmt, escaped. */
static ls_err_t ls_html_escf(ls_buf_t *buf, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static ls_err_t ls_html_escf(ls_buf_t *buf, const char *fmt, ...) {
        char text[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        return ls_html_esc(buf, text);
}

/* ---- drawing ---- */

/* A chart being drawn: the cairo SVG surface writes into svg. */
typedef struct ls_html_chart_s {
        ls_buf_t svg;
        int nomem; /* an append failed */
        cairo_surface_t *surface;
        cairo_t *cr;
} ls_html_chart_t;

/* The plot area in pixels and the data range it shows. */
typedef struct ls_html_plot_s {
        double x0, y0, x1, y1; /* left, top, right, bottom */
        double xmin, xmax, ymin, ymax;
} ls_html_plot_t;

static double ls_html_px(const ls_html_plot_t *p, double x) {
        return p->x0 + (x - p->xmin) / (p->xmax - p->xmin) * (p->x1 - p->x0);
}

static double ls_html_py(const ls_html_plot_t *p, double y) {
        return p->y1 - (y - p->ymin) / (p->ymax - p->ymin) * (p->y1 - p->y0);
}

static cairo_status_t ls_html_write(void *closure, const unsigned char *data,
                                    unsigned int len) {
        ls_html_chart_t *ch = closure;

        if (ls_buf_append(&ch->svg, data, len) != LS_OK) {
                ch->nomem = 1;
                return CAIRO_STATUS_WRITE_ERROR;
        }
        return CAIRO_STATUS_SUCCESS;
}

static void ls_html_chart_begin(ls_html_chart_t *ch) {
        memset(ch, 0, sizeof(*ch));
        ls_buf_init(&ch->svg);
        ch->surface = cairo_svg_surface_create_for_stream(ls_html_write, ch,
                                                          LS_HTML_W, LS_HTML_H);
        cairo_svg_surface_restrict_to_version(ch->surface,
                                              CAIRO_SVG_VERSION_1_1);
        cairo_svg_surface_set_document_unit(ch->surface, CAIRO_SVG_UNIT_PX);
        ch->cr = cairo_create(ch->surface);
        cairo_set_source_rgb(ch->cr, 1, 1, 1);
        cairo_paint(ch->cr);
        cairo_select_font_face(ch->cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                               CAIRO_FONT_WEIGHT_NORMAL);
}

/* Finishes the SVG document. @returns LS_OK, LS_ERR_NOMEM, or LS_ERR_IO
 * with errstr (cairo failed). */
static ls_err_t ls_html_chart_end(ls_html_chart_t *ch, char *errstr,
                                  size_t errstr_size) {
        cairo_status_t st = cairo_status(ch->cr);

        cairo_destroy(ch->cr);
        ch->cr = NULL;
        cairo_surface_finish(ch->surface);
        if (st == CAIRO_STATUS_SUCCESS)
                st = cairo_surface_status(ch->surface);
        cairo_surface_destroy(ch->surface);
        ch->surface = NULL;
        if (ch->nomem || st == CAIRO_STATUS_NO_MEMORY)
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "out of memory");
        if (st != CAIRO_STATUS_SUCCESS)
                return ls_seterr(errstr, errstr_size, LS_ERR_IO, "cairo: %s",
                                 cairo_status_to_string(st));
        return LS_OK;
}

static void ls_html_chart_free(ls_html_chart_t *ch) {
        if (ch->cr)
                cairo_destroy(ch->cr);
        if (ch->surface)
                cairo_surface_destroy(ch->surface);
        ls_buf_free(&ch->svg);
}

/* Draws @p s with its anchor at (@p x, @p y): @p ha 0 left, 0.5 centre,
 * 1 right of it; @p va 0: y is the baseline, 0.5: y is the middle. */
static void ls_html_text(cairo_t *cr, double x, double y, double size, int bold,
                         double ha, double va, const char *s) {
        cairo_text_extents_t te;
        cairo_font_extents_t fe;

        cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                               bold ? CAIRO_FONT_WEIGHT_BOLD
                                    : CAIRO_FONT_WEIGHT_NORMAL);
        cairo_set_font_size(cr, size);
        cairo_text_extents(cr, s, &te);
        cairo_font_extents(cr, &fe);
        cairo_move_to(cr, x - te.x_advance * ha,
                      y + va * (fe.ascent - fe.descent));
        cairo_show_text(cr, s);
}

/* The title above the plot, and the axis labels. */
static void ls_html_frame(cairo_t *cr, const char *title, const char *xlabel,
                          const char *ylabel, const ls_html_plot_t *p) {
        ls_html_color(cr, ls_html_ink);
        ls_html_text(cr, LS_HTML_W / 2.0, 22, 15, 1, 0.5, 0, title);
        if (xlabel)
                ls_html_text(cr, (p->x0 + p->x1) / 2, p->y1 + 40, 12, 0, 0.5, 0,
                             xlabel);
        if (ylabel) {
                cairo_save(cr);
                cairo_translate(cr, 16, (p->y0 + p->y1) / 2);
                cairo_rotate(cr, -LS_HTML_PI / 2);
                ls_html_text(cr, 0, 0, 12, 0, 0.5, 0.5, ylabel);
                cairo_restore(cr);
        }
}

/* A round step of about (hi - lo) / n: 1, 2 or 5 times a power of ten. */
static double ls_html_step(double lo, double hi, int n) {
        double raw = (hi - lo) / n, mag, f;

        if (!(raw > 0))
                return 1;
        mag = pow(10, floor(log10(raw)));
        f = raw / mag;
        return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

/* The y axis with ticks and light grid lines every @p step, labelled
 * with @p fmt of the value times @p scale; the x axis line. */
static void ls_html_yaxis(cairo_t *cr, const ls_html_plot_t *p, double step,
                          const char *fmt, double scale) {
        char label[32];
        double v, y;

        cairo_set_line_width(cr, 1);
        for (v = ceil(p->ymin / step) * step; v <= p->ymax + step * 1e-9;
             v += step) {
                y = floor(ls_html_py(p, v)) + 0.5;
                cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
                cairo_move_to(cr, p->x0, y);
                cairo_line_to(cr, p->x1, y);
                cairo_stroke(cr);
                ls_html_color(cr, ls_html_ink);
                cairo_move_to(cr, p->x0 - 5, y);
                cairo_line_to(cr, p->x0, y);
                cairo_stroke(cr);
                snprintf(label, sizeof(label), fmt,
                         fabs(v) < step * 1e-9 ? 0.0 : v * scale);
                ls_html_text(cr, p->x0 - 8, y, 11, 0, 1, 0.5, label);
        }
        ls_html_color(cr, ls_html_ink);
        cairo_move_to(cr, p->x0 + 0.5, p->y0);
        cairo_line_to(cr, p->x0 + 0.5, p->y1 + 0.5);
        cairo_line_to(cr, p->x1, p->y1 + 0.5);
        cairo_stroke(cr);
}

/* Numeric x ticks every @p step, labelled with @p fmt (times @p scale). */
static void ls_html_xaxis(cairo_t *cr, const ls_html_plot_t *p, double step,
                          const char *fmt, double scale) {
        char label[32];
        double v, x;

        ls_html_color(cr, ls_html_ink);
        cairo_set_line_width(cr, 1);
        for (v = ceil(p->xmin / step) * step; v <= p->xmax + step * 1e-9;
             v += step) {
                x = floor(ls_html_px(p, v)) + 0.5;
                cairo_move_to(cr, x, p->y1);
                cairo_line_to(cr, x, p->y1 + 5);
                cairo_stroke(cr);
                snprintf(label, sizeof(label), fmt,
                         fabs(v) < step * 1e-9 ? 0.0 : v * scale);
                ls_html_text(cr, x, p->y1 + 18, 11, 0, 0.5, 0, label);
        }
}

typedef enum {
        LS_HTML_KEY_BOX,    /* a filled square */
        LS_HTML_KEY_LINE,   /* a solid line */
        LS_HTML_KEY_DASHED, /* a dashed line */
        LS_HTML_KEY_POINT,  /* a line through a dot */
        LS_HTML_KEY_FRAME   /* an outlined square */
} ls_html_key_t;

/* One legend entry at (@p x, @p y) (the middle of its swatch's left
 * edge). @returns the x after it. */
static double ls_html_key(cairo_t *cr, double x, double y, ls_html_key_t k,
                          ls_html_rgb_t c, const char *label) {
        cairo_text_extents_t te;
        static const double dash[] = {5, 3};

        cairo_save(cr);
        ls_html_color(cr, c);
        cairo_set_line_width(cr, 2);
        switch (k) {
        case LS_HTML_KEY_BOX:
                cairo_rectangle(cr, x, y - 6, 12, 12);
                cairo_fill(cr);
                break;
        case LS_HTML_KEY_FRAME:
                cairo_set_line_width(cr, 3);
                cairo_rectangle(cr, x + 1.5, y - 4.5, 9, 9);
                cairo_stroke(cr);
                break;
        case LS_HTML_KEY_DASHED:
                cairo_set_dash(cr, dash, 2, 0);
                /* fall through */
        case LS_HTML_KEY_LINE:
                cairo_move_to(cr, x, y);
                cairo_line_to(cr, x + 22, y);
                cairo_stroke(cr);
                x += 10;
                break;
        case LS_HTML_KEY_POINT:
                cairo_move_to(cr, x, y);
                cairo_line_to(cr, x + 22, y);
                cairo_stroke(cr);
                cairo_arc(cr, x + 11, y, 4, 0, 2 * LS_HTML_PI);
                cairo_fill(cr);
                x += 10;
                break;
        }
        cairo_restore(cr);
        ls_html_color(cr, ls_html_ink);
        ls_html_text(cr, x + 17, y, 11, 0, 0, 0.5, label);
        cairo_set_font_size(cr, 11);
        cairo_text_extents(cr, label, &te);
        return x + 17 + te.x_advance + 16;
}

static void ls_html_no_data(cairo_t *cr, const ls_html_plot_t *p,
                            const char *what) {
        ls_html_color(cr, ls_html_grey);
        ls_html_text(cr, (p->x0 + p->x1) / 2, (p->y0 + p->y1) / 2, 14, 0, 0.5,
                     0.5, what);
}

/* (a) The totals at the cut-off of every lead with an outcome: won and
 * lost side by side per bin, and the MQL threshold. */
static void ls_html_chart_scores(cairo_t *cr, const ls_calib_report_t *r) {
        const ls_calib_hist_t *h = &r->hist;
        ls_html_plot_t p = {70, 56, LS_HTML_W - 20, LS_HTML_H - 56, 0, 1, 0, 1};
        static const double dash[] = {6, 4};
        uint64_t max = 1;
        double x, lx, bw;
        size_t i;
        char label[64];

        for (i = 0; i < h->n_bins; i++) {
                if (h->won[i] > max)
                        max = h->won[i];
                if (h->lost[i] > max)
                        max = h->lost[i];
        }
        p.xmin = h->n_bins ? h->lo : 0;
        p.xmax = h->n_bins ? h->lo + (double)h->n_bins * h->width : 1;
        if (r->thr_train.found && r->thr_train.threshold > p.xmax)
                p.xmax = r->thr_train.threshold;
        p.ymax = (double)max * 1.1;
        ls_html_frame(cr, "Total at the outcome, by outcome (all closed leads)",
                      "total (fit + engagement) at the outcome", "leads", &p);
        ls_html_yaxis(cr, &p, ls_html_step(0, p.ymax, 5), "%.0f", 1);
        ls_html_xaxis(cr, &p, ls_html_step(p.xmin, p.xmax, 8), "%g", 1);
        if (!h->n_bins) {
                ls_html_no_data(cr, &p, "no closed leads");
                return;
        }
        bw = (ls_html_px(&p, h->width) - ls_html_px(&p, 0)) / 2;
        for (i = 0; i < h->n_bins; i++) {
                x = ls_html_px(&p, h->lo + (double)i * h->width);
                ls_html_color(cr, ls_html_won);
                cairo_rectangle(cr, x + 1, ls_html_py(&p, (double)h->won[i]),
                                bw - 1,
                                p.y1 - ls_html_py(&p, (double)h->won[i]));
                cairo_fill(cr);
                ls_html_color(cr, ls_html_lost);
                cairo_rectangle(cr, x + bw, ls_html_py(&p, (double)h->lost[i]),
                                bw - 1,
                                p.y1 - ls_html_py(&p, (double)h->lost[i]));
                cairo_fill(cr);
        }
        lx = p.x0 + 10;
        lx = ls_html_key(cr, lx, 44, LS_HTML_KEY_BOX, ls_html_won, "won");
        lx = ls_html_key(cr, lx, 44, LS_HTML_KEY_BOX, ls_html_lost, "lost");
        if (r->thr_train.found) {
                x = floor(ls_html_px(&p, r->thr_train.threshold)) + 0.5;
                cairo_save(cr);
                ls_html_color(cr, ls_html_ink);
                cairo_set_line_width(cr, 1.5);
                cairo_set_dash(cr, dash, 2, 0);
                cairo_move_to(cr, x, p.y0);
                cairo_line_to(cr, x, p.y1);
                cairo_stroke(cr);
                cairo_restore(cr);
                snprintf(label, sizeof(label), "MQL threshold (total >= %g)",
                         r->thr_train.threshold);
                ls_html_key(cr, lx, 44, LS_HTML_KEY_DASHED, ls_html_ink, label);
        }
}

/* (b) The close rate per grid cell as a heat map, grades down (best on
 * top), bands across (coldest left), the grid MQL outlined. */
static void ls_html_chart_cells(cairo_t *cr, const ls_calib_report_t *r) {
        ls_html_plot_t p = {80, 50, LS_HTML_W - 110, LS_HTML_H - 70, 0, 1,
                            0,  1};
        static const double dash[] = {6, 3};
        const ls_calib_grid_t *g = &r->grid_train;
        double cw, chh, x, y, fs, lx;
        char label[96];
        size_t i, k;

        ls_html_frame(cr,
                      "Close rate per grid cell (grade x band at the "
                      "outcome)",
                      "band (engagement), coldest first", "grade (fit)", &p);
        if (!r->n_cells) {
                ls_html_no_data(cr, &p, "no grades or bands");
                return;
        }
        cw = (p.x1 - p.x0) / (double)r->n_bands;
        chh = (p.y1 - p.y0) / (double)r->n_grades;
        fs = chh / 4 < 12 ? chh / 4 : 12;
        if (fs > cw / 6)
                fs = cw / 6;
        for (i = 0; i < r->n_cells; i++) {
                const ls_calib_cell_t *c = &r->cells[i];
                ls_html_rgb_t col = ls_html_heat(c->r.rate);
                int dark = c->r.n && c->r.rate > 0.5;

                x = p.x0 + cw * c->band;
                y = p.y0 + chh * c->grade;
                if (c->r.n)
                        ls_html_color(cr, col);
                else
                        cairo_set_source_rgb(cr, 0.87, 0.87, 0.87);
                cairo_rectangle(cr, x + 1, y + 1, cw - 2, chh - 2);
                cairo_fill(cr);
                if (dark)
                        cairo_set_source_rgb(cr, 1, 1, 1);
                else
                        ls_html_color(cr, ls_html_ink);
                ls_html_text(cr, x + cw / 2, y + chh / 2 - fs * 1.2, fs, 1, 0.5,
                             0.5, c->cell);
                if (c->r.n)
                        snprintf(label, sizeof(label), "%.1f%%",
                                 100 * c->r.rate);
                else
                        snprintf(label, sizeof(label), "no leads");
                ls_html_text(cr, x + cw / 2, y + chh / 2, fs, 0, 0.5, 0.5,
                             label);
                snprintf(label, sizeof(label), "%llu/%llu",
                         (unsigned long long)c->r.won,
                         (unsigned long long)c->r.n);
                ls_html_text(cr, x + cw / 2, y + chh / 2 + fs * 1.2, fs * 0.9,
                             0, 0.5, 0.5, label);
        }
        ls_html_color(cr, ls_html_ink);
        for (k = 0; k < r->n_bands; k++) {
                snprintf(label, sizeof(label), "%.20s (%zu)",
                         r->cells[k].band_name, k + 1);
                ls_html_text(cr, p.x0 + cw * ((double)k + 0.5), p.y1 + 16,
                             fs < 11 ? fs : 11, 0, 0.5, 0, label);
        }
        for (k = 0; k < r->n_grades; k++)
                ls_html_text(cr, p.x0 - 8, p.y0 + chh * ((double)k + 0.5), 12,
                             1, 1, 0.5, r->cells[k * r->n_bands].grade_name);
        /* the colour scale */
        for (k = 0; k < 100; k++) {
                ls_html_color(cr, ls_html_heat((k + 0.5) / 100));
                cairo_rectangle(cr, p.x1 + 20,
                                p.y1 - (p.y1 - p.y0) * (double)(k + 1) / 100,
                                14, (p.y1 - p.y0) / 100 + 0.5);
                cairo_fill(cr);
        }
        ls_html_color(cr, ls_html_ink);
        cairo_set_line_width(cr, 1);
        for (k = 0; k <= 4; k++) {
                y = p.y1 - (p.y1 - p.y0) * (double)k / 4;
                cairo_move_to(cr, p.x1 + 34, y);
                cairo_line_to(cr, p.x1 + 38, y);
                cairo_stroke(cr);
                snprintf(label, sizeof(label), "%zu%%", k * 25);
                ls_html_text(cr, p.x1 + 41, y, 10, 0, 0, 0.5, label);
        }
        cairo_save(cr);
        cairo_translate(cr, p.x1 + 86, (p.y0 + p.y1) / 2);
        cairo_rotate(cr, -LS_HTML_PI / 2);
        ls_html_text(cr, 0, 0, 11, 0, 0.5, 0, "close rate (won / leads)");
        cairo_restore(cr);
        /* the grid MQL chosen on training */
        lx = p.x0;
        if (g->found) {
                cairo_save(cr);
                ls_html_color(cr, ls_html_ink);
                cairo_set_line_width(cr, 3);
                cairo_set_dash(cr, dash, 2, 0);
                cairo_rectangle(
                        cr, p.x0 + cw * g->min_band + 1.5, p.y0 + 1.5,
                        cw * (double)(r->n_bands - (size_t)g->min_band) - 3,
                        chh * (g->min_grade + 1) - 3);
                cairo_stroke(cr);
                cairo_restore(cr);
                snprintf(label, sizeof(label),
                         "grid MQL: min_grade %.20s, min_band %.20s",
                         r->cells[(size_t)g->min_grade * r->n_bands].grade_name,
                         r->cells[g->min_band].band_name);
                ls_html_key(cr, lx, LS_HTML_H - 14, LS_HTML_KEY_FRAME,
                            ls_html_ink, label);
        } else {
                ls_html_text(cr, lx, LS_HTML_H - 14, 11, 0, 0, 0.5,
                             "no grid MQL meets the target");
        }
}

/* (c) Lift by held-out decile of the fitted probability. */
static void ls_html_chart_lift(cairo_t *cr, const ls_calib_report_t *r) {
        ls_html_plot_t p = {
                70, 56, LS_HTML_W - 20, LS_HTML_H - 56, 0, LS_CALIB_DECILES,
                0,  1};
        static const double dash[] = {6, 4};
        double max = 1, slot, x, y, lx;
        char label[32];
        size_t i;

        for (i = 0; i < r->n_deciles; i++)
                if (r->deciles[i].lift > max)
                        max = r->deciles[i].lift;
        p.ymax = max * 1.15;
        ls_html_frame(cr, "Lift by decile (held-out leads)",
                      "decile of the fitted probability (1 = highest)",
                      "lift (close rate / held-out rate)", &p);
        ls_html_yaxis(cr, &p, ls_html_step(0, p.ymax, 5), "%g", 1);
        if (!r->n_deciles) {
                ls_html_no_data(cr, &p, "no held-out leads");
                return;
        }
        slot = (p.x1 - p.x0) / LS_CALIB_DECILES;
        for (i = 0; i < r->n_deciles; i++) {
                const ls_calib_decile_t *d = &r->deciles[i];

                x = p.x0 + slot * (double)i;
                y = ls_html_py(&p, d->lift);
                ls_html_color(cr, ls_html_lift);
                cairo_rectangle(cr, x + slot * 0.15, y, slot * 0.7, p.y1 - y);
                cairo_fill(cr);
                ls_html_color(cr, ls_html_ink);
                snprintf(label, sizeof(label), "%.2f", d->lift);
                ls_html_text(cr, x + slot / 2, y - 4, 10, 0, 0.5, 0, label);
                snprintf(label, sizeof(label), "%zu", i + 1);
                ls_html_text(cr, x + slot / 2, p.y1 + 18, 11, 0, 0.5, 0, label);
        }
        y = floor(ls_html_py(&p, 1)) + 0.5;
        cairo_save(cr);
        ls_html_color(cr, ls_html_grey);
        cairo_set_line_width(cr, 1.5);
        cairo_set_dash(cr, dash, 2, 0);
        cairo_move_to(cr, p.x0, y);
        cairo_line_to(cr, p.x1, y);
        cairo_stroke(cr);
        cairo_restore(cr);
        lx = ls_html_key(cr, p.x0 + 150, 44, LS_HTML_KEY_BOX, ls_html_lift,
                         "lift");
        ls_html_key(cr, lx, 44, LS_HTML_KEY_DASHED, ls_html_grey,
                    "held-out rate (lift 1)");
}

/* (d) Calibration: observed against predicted per held-out decile, and
 * the diagonal. */
static void ls_html_chart_calibration(cairo_t *cr, const ls_calib_report_t *r) {
        ls_html_plot_t p = {70, 56, LS_HTML_W - 150, LS_HTML_H - 56, 0, 1,
                            0,  1};
        static const double dash[] = {6, 4};
        double max = 0, step, lx;
        size_t i;

        for (i = 0; i < r->n_deciles; i++) {
                if (r->deciles[i].predicted > max)
                        max = r->deciles[i].predicted;
                if (r->deciles[i].observed > max)
                        max = r->deciles[i].observed;
        }
        step = max > 0.5 ? 0.2 : 0.1;
        max = ceil(max / step + 1e-9) * step;
        if (max > 1 || max <= 0)
                max = 1;
        p.xmax = p.ymax = max;
        /* square: the diagonal at 45 degrees */
        p.x1 = p.x0 + (p.y1 - p.y0);
        ls_html_frame(cr, "Calibration by decile (held-out leads)",
                      "predicted close rate (mean of the decile)",
                      "observed close rate", &p);
        ls_html_yaxis(cr, &p, step, "%.0f%%", 100);
        ls_html_xaxis(cr, &p, step, "%.0f%%", 100);
        if (!r->n_deciles) {
                ls_html_no_data(cr, &p, "no held-out leads");
                return;
        }
        cairo_save(cr);
        ls_html_color(cr, ls_html_grey);
        cairo_set_line_width(cr, 1.5);
        cairo_set_dash(cr, dash, 2, 0);
        cairo_move_to(cr, ls_html_px(&p, 0), ls_html_py(&p, 0));
        cairo_line_to(cr, ls_html_px(&p, max), ls_html_py(&p, max));
        cairo_stroke(cr);
        cairo_restore(cr);
        ls_html_color(cr, ls_html_calib);
        cairo_set_line_width(cr, 2);
        for (i = 0; i < r->n_deciles; i++) {
                const ls_calib_decile_t *d = &r->deciles[i];

                if (i == 0)
                        cairo_move_to(cr, ls_html_px(&p, d->predicted),
                                      ls_html_py(&p, d->observed));
                else
                        cairo_line_to(cr, ls_html_px(&p, d->predicted),
                                      ls_html_py(&p, d->observed));
        }
        cairo_stroke(cr);
        for (i = 0; i < r->n_deciles; i++) {
                const ls_calib_decile_t *d = &r->deciles[i];

                cairo_arc(cr, ls_html_px(&p, d->predicted),
                          ls_html_py(&p, d->observed), 5, 0, 2 * LS_HTML_PI);
                cairo_fill(cr);
        }
        lx = p.x1 + 12;
        ls_html_key(cr, lx, p.y0 + 10, LS_HTML_KEY_POINT, ls_html_calib,
                    "deciles");
        ls_html_key(cr, lx, p.y0 + 32, LS_HTML_KEY_DASHED, ls_html_grey,
                    "perfect");
}

/* Appends the SVG of @p ch without its XML declaration, each id and each
 * reference to one prefixed with @p prefix. */
static ls_err_t ls_html_inline_svg(ls_buf_t *buf, const ls_buf_t *svg,
                                   const char *prefix) {
        static const char *const marks[] = {"id=\"", "href=\"#", "url(#"};
        const char *s = (const char *)svg->data, *end = s + svg->len, *p;
        size_t k = 0, n;
        ls_err_t err;

        if ((p = memchr(s, '<', (size_t)(end - s))) && end - p > 5 &&
            !memcmp(p, "<?xml", 5)) {
                while (p < end && *p != '>')
                        p++;
                s = p < end ? p + 1 : end;
        }
        while (s < end) {
                for (p = s; p < end; p++) {
                        for (k = 0; k < 3; k++) {
                                n = strlen(marks[k]);
                                if ((size_t)(end - p) >= n &&
                                    !memcmp(p, marks[k], n))
                                        break;
                        }
                        if (k < 3)
                                break;
                }
                if (p == end)
                        return ls_buf_append(buf, s, (size_t)(end - s));
                n = strlen(marks[k]);
                if ((err = ls_buf_append(buf, s, (size_t)(p - s) + n)) !=
                            LS_OK ||
                    (err = ls_buf_append(buf, prefix, strlen(prefix))) != LS_OK)
                        return err;
                s = p + n;
        }
        return LS_OK;
}

typedef void (*ls_html_draw_t)(cairo_t *cr, const ls_calib_report_t *r);

/* One chart as a figure: caption, then the inline SVG. */
static ls_err_t ls_html_figure(ls_buf_t *buf, const ls_calib_report_t *r,
                               const char *id, const char *caption,
                               ls_html_draw_t draw, char *errstr,
                               size_t errstr_size) {
        ls_html_chart_t ch;
        char prefix[40];
        ls_err_t err;

        ls_html_chart_begin(&ch);
        draw(ch.cr, r);
        if ((err = ls_html_chart_end(&ch, errstr, errstr_size)) != LS_OK)
                goto done;
        snprintf(prefix, sizeof(prefix), "%s-", id);
        err = LS_ERR_NOMEM;
        if (ls_buf_appendf(buf, "<figure id=\"%s\" class=\"chart\">\n", id) ||
            ls_buf_appendf(buf, "<figcaption>") || ls_html_esc(buf, caption) ||
            ls_buf_appendf(buf, "</figcaption>\n<div role=\"img\" "
                                "aria-label=\"") ||
            ls_html_esc(buf, caption) || ls_buf_appendf(buf, "\">\n") ||
            ls_html_inline_svg(buf, &ch.svg, prefix) ||
            ls_buf_appendf(buf, "</div>\n</figure>\n"))
                goto done;
        err = LS_OK;
done:
        if (err == LS_ERR_NOMEM)
                ls_seterr(errstr, errstr_size, err, "out of memory");
        ls_html_chart_free(&ch);
        return err;
}

/* ---- the page ---- */

static ls_err_t ls_html_row(ls_buf_t *buf, const char *id, const char *th) {
        if (ls_buf_appendf(buf, "<tr><th>") || ls_html_esc(buf, th) ||
            ls_buf_appendf(buf, "</th><td id=\"%s\">", id))
                return LS_ERR_NOMEM;
        return LS_OK;
}

static ls_err_t ls_html_rate(ls_buf_t *buf, const ls_calib_rate_t *r) {
        return ls_html_escf(buf, "%.1f%% [%.1f%%, %.1f%%] (%llu won of %llu)",
                            100 * r->rate, 100 * r->lo, 100 * r->hi,
                            (unsigned long long)r->won,
                            (unsigned long long)r->n);
}

static ls_err_t ls_html_auc(ls_buf_t *buf, double v) {
        return isnan(v) ? ls_buf_appendf(buf, "n/a")
                        : ls_buf_appendf(buf, "%.4f", v);
}

static ls_err_t ls_html_pr(ls_buf_t *buf, const char *what, uint64_t flagged,
                           double precision, double recall) {
        return ls_html_escf(buf,
                            "%s: %llu flagged, precision %.1f%%, recall "
                            "%.1f%%",
                            what, (unsigned long long)flagged, 100 * precision,
                            100 * recall);
}

/* The headline numbers. */
static ls_err_t ls_html_table(ls_buf_t *buf, const ls_calib_report_t *r) {
        const ls_calib_grid_t *g = &r->grid_train;
        char t1[40], yaml[256];

        if (ls_buf_appendf(buf, "<table id=\"headline\">\n") ||
            ls_html_row(buf, "model", "model") ||
            ls_html_esc(buf, r->model_id) ||
            ls_buf_appendf(buf, " (version ") ||
            ls_html_esc(buf, r->model_version) || ls_buf_appendf(buf, ")") ||
            ls_buf_appendf(buf, "</td></tr>\n") ||
            ls_html_row(buf, "leads", "leads in the history") ||
            ls_buf_appendf(buf,
                           "%llu (%llu with an outcome, %llu open)</td></"
                           "tr>\n",
                           (unsigned long long)r->leads,
                           (unsigned long long)r->base.n,
                           (unsigned long long)r->open) ||
            ls_html_row(buf, "base-rate",
                        "lead-to-customer rate [95% Wilson]") ||
            ls_html_rate(buf, &r->base) || ls_buf_appendf(buf, "</td></tr>\n"))
                return LS_ERR_NOMEM;
        if (ls_html_row(buf, "split", "training / held out") ||
            ls_html_escf(buf,
                         "%llu leads closed before %s / %llu from then on "
                         "(held-out rate %.1f%%)",
                         (unsigned long long)r->train.n,
                         ls_calib_iso(r->split_time, t1, sizeof(t1)),
                         (unsigned long long)r->test.n, 100 * r->test.rate) ||
            ls_buf_appendf(buf, "</td></tr>\n") ||
            ls_html_row(buf, "auc-test", "AUC held out, fitted model") ||
            ls_html_auc(buf, r->auc_test) ||
            ls_buf_appendf(buf, "</td></tr>\n") ||
            ls_html_row(buf, "auc-points", "AUC held out, the model's total") ||
            ls_html_auc(buf, r->auc_test_points) ||
            ls_buf_appendf(buf, "</td></tr>\n") ||
            ls_html_row(buf, "auc-train", "AUC training, fitted model") ||
            ls_html_auc(buf, r->auc_train) ||
            ls_buf_appendf(buf, "</td></tr>\n"))
                return LS_ERR_NOMEM;
        if (ls_html_row(buf, "target", "MQL target") ||
            (strcmp(r->target, "f1") ? ls_html_escf(buf, "%s >= %.3g",
                                                    r->target, r->target_value)
                                     : ls_buf_appendf(buf, "best F1")) ||
            ls_buf_appendf(buf, "</td></tr>\n") ||
            ls_html_row(buf, "threshold", "MQL threshold on the total"))
                return LS_ERR_NOMEM;
        if (r->thr_train.found) {
                if (ls_html_escf(buf, "total >= %g", r->thr_train.threshold) ||
                    ls_buf_appendf(buf, "<br>") ||
                    ls_html_pr(buf, "training", r->thr_train.flagged,
                               r->thr_train.precision, r->thr_train.recall) ||
                    ls_buf_appendf(buf, "<br>") ||
                    ls_html_pr(buf, "held out", r->thr_test.flagged,
                               r->thr_test.precision, r->thr_test.recall))
                        return LS_ERR_NOMEM;
        } else if (ls_buf_appendf(buf, "none meets the target")) {
                return LS_ERR_NOMEM;
        }
        if (ls_buf_appendf(buf, "</td></tr>\n") ||
            ls_html_row(buf, "grid", "MQL on the grid (grade x band)"))
                return LS_ERR_NOMEM;
        if (g->found) {
                if (ls_html_escf(buf, "min_grade %s, min_band %s",
                                 r->cells[(size_t)g->min_grade * r->n_bands]
                                         .grade_name,
                                 r->cells[g->min_band].band_name) ||
                    ls_buf_appendf(buf, "<br>") ||
                    ls_html_pr(buf, "training", g->flagged, g->precision,
                               g->recall) ||
                    ls_buf_appendf(buf, "<br>") ||
                    ls_html_pr(buf, "held out", r->grid_test.flagged,
                               r->grid_test.precision, r->grid_test.recall) ||
                    ls_buf_appendf(buf, "<pre id=\"grid-yaml\">") ||
                    ls_html_esc(buf,
                                ls_calib_grid_yaml(r, g->min_grade, g->min_band,
                                                   yaml, sizeof(yaml))) ||
                    ls_buf_appendf(buf, "</pre>"))
                        return LS_ERR_NOMEM;
        } else if (ls_buf_appendf(buf, "none meets the target")) {
                return LS_ERR_NOMEM;
        }
        if (ls_buf_appendf(buf, "</td></tr>\n</table>\n"))
                return LS_ERR_NOMEM;
        return LS_OK;
}

/* Drops the font caches cairo and fontconfig keep for the process once
 * the charts are drawn: a report is drawn once, and they would stay
 * allocated to the end (where the leak checker of a sanitized build sees
 * them). */
static void ls_html_fonts_release(void) {
        cairo_debug_reset_static_data();
        FcFini();
}

static ls_err_t ls_html_page(const ls_calib_report_t *r, ls_buf_t *buf,
                             char *errstr, size_t errstr_size) {
        ls_err_t err;

        if (ls_buf_appendf(buf, "<!DOCTYPE html>\n<html lang=\"en\">\n"
                                "<head>\n<meta charset=\"utf-8\">\n"
                                "<title>leadscore calibrate: ") ||
            ls_html_esc(buf, r->model_id) ||
            ls_buf_appendf(
                    buf,
                    "</title>\n<style>\n"
                    "body { font-family: sans-serif; margin: 20px; "
                    "color: #222; background: #fff; }\n"
                    "h1 { font-size: 22px; margin: 0 0 12px; }\n"
                    "table { border-collapse: collapse; font-size: 13px; "
                    "margin-bottom: 16px; }\n"
                    "th, td { border: 1px solid #ccc; padding: 4px 8px; "
                    "text-align: left; vertical-align: top; }\n"
                    "th { background: #f4f4f4; font-weight: normal; }\n"
                    "pre { margin: 4px 0 0; }\n"
                    ".charts { display: grid; grid-template-columns: "
                    "repeat(2, %dpx); gap: 16px 24px; }\n"
                    "figure { margin: 0; }\n"
                    "figcaption { font-size: 13px; color: #555; "
                    "margin-bottom: 4px; }\n"
                    "svg { display: block; }\n"
                    "</style>\n</head>\n<body>\n<h1>Calibration of model ",
                    LS_HTML_W) ||
            ls_html_esc(buf, r->model_id) || ls_buf_appendf(buf, "</h1>\n") ||
            ls_html_table(buf, r) ||
            ls_buf_appendf(buf, "<div class=\"charts\">\n"))
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "out of memory");
        if ((err = ls_html_figure(
                     buf, r, "chart-scores",
                     "(a) The total at the outcome of every closed lead "
                     "(training and held out), won and lost, and the MQL "
                     "threshold chosen on training.",
                     ls_html_chart_scores, errstr, errstr_size)) != LS_OK ||
            (err = ls_html_figure(
                     buf, r, "chart-cells",
                     "(b) The close rate per grid cell of every closed lead, "
                     "with won / leads; the dashed frame is the grid MQL "
                     "chosen on training.",
                     ls_html_chart_cells, errstr, errstr_size)) != LS_OK ||
            (err = ls_html_figure(
                     buf, r, "chart-lift",
                     "(c) Held-out leads by decile of the fitted "
                     "probability: close rate over the held-out rate.",
                     ls_html_chart_lift, errstr, errstr_size)) != LS_OK ||
            (err = ls_html_figure(
                     buf, r, "chart-calibration",
                     "(d) Held-out leads by decile: the mean fitted "
                     "probability against the observed close rate.",
                     ls_html_chart_calibration, errstr, errstr_size)) != LS_OK)
                return err;
        if (ls_buf_appendf(buf, "</div>\n</body>\n</html>\n"))
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "out of memory");
        return LS_OK;
}

ls_err_t ls_calib_report_html(const ls_calib_report_t *r, ls_buf_t *buf,
                              char *errstr, size_t errstr_size) {
        ls_err_t err = ls_html_page(r, buf, errstr, errstr_size);

        ls_html_fonts_release();
        return err;
}

ls_err_t ls_calib_report_html_file(const ls_calib_report_t *r, const char *path,
                                   char *errstr, size_t errstr_size) {
        ls_buf_t buf;
        FILE *fp;
        ls_err_t err;
        int failed;

        ls_buf_init(&buf);
        if ((err = ls_calib_report_html(r, &buf, errstr, errstr_size)) !=
            LS_OK) {
                ls_buf_free(&buf);
                return err;
        }
        if (!(fp = fopen(path, "w"))) {
                err = ls_seterr(errstr, errstr_size, LS_ERR_IO, "%s: %s", path,
                                strerror(errno));
                ls_buf_free(&buf);
                return err;
        }
        failed = fwrite(buf.data, 1, buf.len, fp) != buf.len;
        failed |= fflush(fp) != 0;
        if (failed)
                err = ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                "%s: write error: %s", path, strerror(errno));
        if (fclose(fp) != 0 && !failed)
                err = ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                "%s: write error: %s", path, strerror(errno));
        ls_buf_free(&buf);
        return err;
}
