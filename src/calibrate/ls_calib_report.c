/*
 * ls_calib_report.c - a calibration report as text for people and as one
 * JSON object for machines (jansson, keys in a fixed order). The fields
 * are explained in docs/CALIBRATE.md; both forms carry the same numbers.
 */
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "leadscore/ls_calibrate.h"

#define LS_CALIB_DAY 86400000LL

const char *ls_calib_iso(int64_t ms, char *buf, size_t size) {
        time_t s = (time_t)(ms / 1000);
        struct tm tm;

        if (!gmtime_r(&s, &tm) ||
            !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
                snprintf(buf, size, "%lld", (long long)ms);
        return buf;
}

static void ls_calib_pct(FILE *fp, double v) {
        if (isnan(v))
                fprintf(fp, "   n/a");
        else
                fprintf(fp, "%5.1f%%", 100 * v);
}

/* @p fmt for a number, or "-" right-aligned in @p width when undefined */
static void ls_calib_num_print(FILE *fp, const char *fmt, int width, double v) {
        if (isnan(v))
                fprintf(fp, "%*s", width, "-");
        else
                fprintf(fp, fmt, v);
}

static void ls_calib_auc_print(FILE *fp, double v) {
        if (isnan(v))
                fprintf(fp, "n/a");
        else
                fprintf(fp, "%.4f", v);
}

static void ls_calib_print_rate(FILE *fp, const ls_calib_rate_t *r) {
        fprintf(fp, "%6llu %6llu ", (unsigned long long)r->n,
                (unsigned long long)r->won);
        ls_calib_pct(fp, r->rate);
        fprintf(fp, " [");
        ls_calib_pct(fp, r->lo);
        fprintf(fp, ", ");
        ls_calib_pct(fp, r->hi);
        fprintf(fp, "]");
}

/* One line of a flagging rule (a threshold or a grid pair) on a part. */
static void ls_calib_print_flagged(FILE *fp, const char *what, uint64_t flagged,
                                   double precision, double recall) {
        fprintf(fp, "  %-9s flagged %llu, precision ", what,
                (unsigned long long)flagged);
        ls_calib_pct(fp, precision);
        fprintf(fp, ", recall ");
        ls_calib_pct(fp, recall);
        fprintf(fp, "\n");
}

static void ls_calib_print_thresh(FILE *fp, const char *what,
                                  const ls_calib_thresh_t *t) {
        ls_calib_print_flagged(fp, what, t->flagged, t->precision, t->recall);
}

/* Appends @p name to @p buf (of @p size, holding @p *len bytes) as a YAML
 * scalar: plain when it is a word that YAML reads as a string, else
 * double-quoted. */
static void ls_calib_yaml_scalar(char *buf, size_t size, size_t *len,
                                 const char *name) {
        static const char *const words[] = {"true", "false", "yes", "no", "on",
                                            "off",  "null",  "y",   "n",  "~"};
        const char *p;
        int plain = *name && *name != '-';
        size_t i, n;

        for (p = name; *p && plain; p++)
                plain = isalnum((unsigned char)*p) || *p == '_' || *p == '-';
        for (i = 0; plain && i < sizeof(words) / sizeof(words[0]); i++)
                plain = strcasecmp(name, words[i]) != 0;
        if (plain) {
                n = (size_t)snprintf(buf + *len, size - *len, "%s", name);
        } else {
                n = (size_t)snprintf(buf + *len, size - *len, "\"");
                for (p = name; *p && *len + n < size; p++) {
                        size_t at = *len + n;

                        if (*p == '"' || *p == '\\')
                                n += (size_t)snprintf(buf + at, size - at,
                                                      "\\%c", *p);
                        else if ((unsigned char)*p < 0x20)
                                n += (size_t)snprintf(buf + at, size - at,
                                                      "\\x%02x",
                                                      (unsigned char)*p);
                        else
                                n += (size_t)snprintf(buf + at, size - at, "%c",
                                                      *p);
                }
                if (*len + n < size)
                        n += (size_t)snprintf(buf + *len + n, size - *len - n,
                                              "\"");
        }
        *len += n;
        if (*len >= size)
                *len = size - 1;
}

char *ls_calib_grid_yaml(const ls_calib_report_t *r, int min_grade,
                         int min_band, char *buf, size_t size) {
        size_t len = 0;

        if (size == 0)
                return buf;
        buf[0] = '\0';
        if (min_grade < 0 || (size_t)min_grade >= r->n_grades || min_band < 0 ||
            (size_t)min_band >= r->n_bands)
                return buf;
        len = (size_t)snprintf(buf, size, "mql:\n  enter: {min_grade: ");
        if (len >= size)
                return buf;
        ls_calib_yaml_scalar(
                buf, size, &len,
                r->cells[(size_t)min_grade * r->n_bands].grade_name);
        len += (size_t)snprintf(buf + len, size - len, ", min_band: ");
        if (len >= size)
                return buf;
        ls_calib_yaml_scalar(buf, size, &len, r->cells[min_band].band_name);
        snprintf(buf + len, size - len, "}\n");
        return buf;
}

/* The cells a grid qualification flags, "A3 A4 B3 B4", into @p buf. */
static char *ls_calib_grid_cells(const ls_calib_report_t *r,
                                 const ls_calib_grid_t *g, char *buf,
                                 size_t size) {
        size_t i, len = 0;

        buf[0] = '\0';
        for (i = 0; i < r->n_cells && len < size; i++) {
                const ls_calib_cell_t *c = &r->cells[i];

                if (c->grade > g->min_grade || c->band < g->min_band)
                        continue;
                len += (size_t)snprintf(buf + len, size - len, "%s%s",
                                        len ? " " : "", c->cell);
        }
        return buf;
}

static void ls_calib_print_grid(FILE *fp, const char *what,
                                const ls_calib_grid_t *g) {
        ls_calib_print_flagged(fp, what, g->flagged, g->precision, g->recall);
}

static void ls_calib_print_target(FILE *fp, const ls_calib_report_t *r) {
        if (!strcmp(r->target, "f1"))
                fprintf(fp, "best F1)\n");
        else
                fprintf(fp, "%s >= %.3g)\n", r->target, r->target_value);
}

void ls_calib_report_print(const ls_calib_report_t *r, FILE *fp) {
        char t1[40];
        size_t i;
        const char *attr = NULL;

        fprintf(fp, "model %s (version %s)\n", r->model_id, r->model_version);
        fprintf(fp,
                "leads: %llu in the history, %llu with an outcome, %llu "
                "open\n",
                (unsigned long long)r->leads, (unsigned long long)r->base.n,
                (unsigned long long)r->open);
        fprintf(fp, "window: %.4g days before each outcome; split at %s\n",
                (double)r->window_ms / LS_CALIB_DAY,
                ls_calib_iso(r->split_time, t1, sizeof(t1)));
        fprintf(fp, "\nlead-to-customer rate      leads    won   rate  "
                    "[95%% Wilson]\n");
        fprintf(fp, "  all                     ");
        ls_calib_print_rate(fp, &r->base);
        fprintf(fp, "\n  training (before split) ");
        ls_calib_print_rate(fp, &r->train);
        fprintf(fp, "\n  held out (from split)   ");
        ls_calib_print_rate(fp, &r->test);
        fprintf(fp, "\n");

        fprintf(fp, "\nclose rate per rule (with = matched / did it before "
                    "the outcome)\n");
        fprintf(fp, "  %-22s %6s %6s %6s  %-30s %-30s %5s %6s %9s\n", "rule",
                "points", "with", "won", "rate with [95%]",
                "rate without [95%]", "lift", "logodd", "suggested");
        for (i = 0; i < r->n_rules; i++) {
                const ls_calib_rule_t *ru = &r->rules[i];

                if (i == 0 || ru->fit != r->rules[i - 1].fit)
                        fprintf(fp, "  %s\n",
                                ru->fit ? "[fit]" : "[engagement]");
                fprintf(fp, "  %-22.22s %6d %6llu %6llu  ", ru->rule_id,
                        (int)ru->points, (unsigned long long)ru->with.n,
                        (unsigned long long)ru->with.won);
                ls_calib_pct(fp, ru->with.rate);
                fprintf(fp, " [");
                ls_calib_pct(fp, ru->with.lo);
                fprintf(fp, ",");
                ls_calib_pct(fp, ru->with.hi);
                fprintf(fp, "]  ");
                ls_calib_pct(fp, ru->without.rate);
                fprintf(fp, " [");
                ls_calib_pct(fp, ru->without.lo);
                fprintf(fp, ",");
                ls_calib_pct(fp, ru->without.hi);
                fprintf(fp, "]   ");
                ls_calib_num_print(fp, "%5.2f", 5, ru->lift);
                fprintf(fp, " ");
                ls_calib_num_print(fp, "%6.2f", 6, ru->log_odds);
                fprintf(fp, " ");
                if (ru->has_suggested)
                        fprintf(fp, "%9d\n", (int)ru->suggested);
                else
                        fprintf(fp, "%9s\n", "too few");
        }

        fprintf(fp, "\nclose rate per attribute value    leads    won   rate "
                    " [95%% Wilson]\n");
        for (i = 0; i < r->n_values; i++) {
                const ls_calib_value_t *v = &r->values[i];

                if (!attr || strcmp(attr, v->attribute) != 0) {
                        attr = v->attribute;
                        fprintf(fp, "  %s\n", attr);
                }
                fprintf(fp, "    %-28.28s ", v->value);
                ls_calib_print_rate(fp, &v->r);
                fprintf(fp, "\n");
        }

        fprintf(fp, "\nMQL threshold on the total (target: ");
        ls_calib_print_target(fp, r);
        if (!r->thr_train.found) {
                fprintf(fp, "  no threshold meets the target on the training "
                            "part\n");
        } else {
                fprintf(fp, "  total >= %g\n", r->thr_train.threshold);
                ls_calib_print_thresh(fp, "training", &r->thr_train);
                ls_calib_print_thresh(fp, "held out", &r->thr_test);
        }

        fprintf(fp, "\nclose rate per grid cell (grade and band at the "
                    "outcome)\n");
        fprintf(fp, "  %-6s %-12s %-12s %6s %6s   rate  [95%% Wilson]\n",
                "cell", "grade", "band", "leads", "won");
        for (i = 0; i < r->n_cells; i++) {
                const ls_calib_cell_t *c = &r->cells[i];

                fprintf(fp, "  %-6.6s %-12.12s %-12.12s ", c->cell,
                        c->grade_name, c->band_name);
                ls_calib_print_rate(fp, &c->r);
                fprintf(fp, "\n");
        }
        fprintf(fp, "\nMQL on the grid: grade at least min_grade and band "
                    "at least min_band (target: ");
        ls_calib_print_target(fp, r);
        if (!r->grid_train.found) {
                fprintf(fp, "  no grade and band meet the target on the "
                            "training part\n");
        } else {
                const ls_calib_grid_t *g = &r->grid_train;
                char yaml[256], cells[LS_CALIB_MAX_CELLS * 41];
                const char *line, *nl;

                fprintf(fp, "  min_grade %s, min_band %s: cells %s\n",
                        r->cells[(size_t)g->min_grade * r->n_bands].grade_name,
                        r->cells[g->min_band].band_name,
                        ls_calib_grid_cells(r, g, cells, sizeof(cells)));
                ls_calib_print_grid(fp, "training", &r->grid_train);
                ls_calib_print_grid(fp, "held out", &r->grid_test);
                fprintf(fp, "  in the model file:\n");
                ls_calib_grid_yaml(r, g->min_grade, g->min_band, yaml,
                                   sizeof(yaml));
                for (line = yaml; *line; line = nl + (*nl != '\0')) {
                        if (!(nl = strchr(line, '\n')))
                                nl = line + strlen(line);
                        fprintf(fp, "    %.*s\n", (int)(nl - line), line);
                }
        }

        fprintf(fp, "\nlogistic regression (liblinear, L2, standardized "
                    "features; training part)\n");
        fprintf(fp, "  %-28s %10s %10s %10s %10s\n", "feature", "per sd",
                "per unit", "mean", "sd");
        for (i = 0; i < r->n_coefs; i++) {
                const ls_calib_coef_t *c = &r->coefs[i];

                if (c->constant)
                        fprintf(fp, "  %-28.28s %10s %10s %10.4g %10.4g\n",
                                c->feature, "constant", "-", c->mean, c->sd);
                else
                        fprintf(fp, "  %-28.28s %10.4f %10.4f %10.4g %10.4g\n",
                                c->feature, c->std_coef, c->coef, c->mean,
                                c->sd);
        }
        fprintf(fp, "  %-28s %10.4f %10.4f\n", "(intercept)", r->intercept_std,
                r->intercept);
        if (r->logit_thr_train.found) {
                fprintf(fp,
                        "  as a logistic model (--write-model): MQL at "
                        "total >= %.0f of 100\n",
                        ceil(r->logit_thr_train.threshold));
                ls_calib_print_thresh(fp, "training", &r->logit_thr_train);
                ls_calib_print_thresh(fp, "held out", &r->logit_thr_test);
        }

        fprintf(fp, "\nheld-out evaluation (%llu leads)\n",
                (unsigned long long)r->test.n);
        fprintf(fp, "  AUC fitted model ");
        ls_calib_auc_print(fp, r->auc_test);
        fprintf(fp, ", AUC model total ");
        ls_calib_auc_print(fp, r->auc_test_points);
        fprintf(fp, ", AUC training ");
        ls_calib_auc_print(fp, r->auc_train);
        fprintf(fp, "\n");
        if (r->n_deciles) {
                fprintf(fp, "  %-6s %6s %6s %10s %10s %6s %8s  %s\n", "decile",
                        "leads", "won", "predicted", "observed", "lift",
                        "capture", "p range");
                for (i = 0; i < r->n_deciles; i++) {
                        const ls_calib_decile_t *d = &r->deciles[i];

                        fprintf(fp,
                                "  %-6zu %6llu %6llu %9.1f%% %9.1f%% %6.2f "
                                "%7.1f%%  %.3f-%.3f\n",
                                i + 1, (unsigned long long)d->n,
                                (unsigned long long)d->won, 100 * d->predicted,
                                100 * d->observed, d->lift, 100 * d->capture,
                                d->p_min, d->p_max);
                }
        }
}

/* ---- JSON ---- */

static json_t *ls_calib_num(double v) {
        return isfinite(v) ? json_real(v) : json_null();
}

static json_t *ls_calib_jrate(const ls_calib_rate_t *r) {
        return json_pack("{sI sI so so so}", "leads", (json_int_t)r->n, "won",
                         (json_int_t)r->won, "rate", ls_calib_num(r->rate),
                         "ci_low", ls_calib_num(r->lo), "ci_high",
                         ls_calib_num(r->hi));
}

static json_t *ls_calib_jthresh(const ls_calib_thresh_t *t) {
        return json_pack("{sI sI so so}", "flagged", (json_int_t)t->flagged,
                         "won", (json_int_t)t->tp, "precision",
                         ls_calib_num(t->precision), "recall",
                         ls_calib_num(t->recall));
}

static int ls_calib_jadd(json_t *arr, json_t *v) {
        return v ? json_array_append_new(arr, v) : -1;
}

static json_t *ls_calib_jgrid_part(const ls_calib_grid_t *g) {
        return json_pack("{sI sI so so}", "flagged", (json_int_t)g->flagged,
                         "won", (json_int_t)g->tp, "precision",
                         ls_calib_num(g->precision), "recall",
                         ls_calib_num(g->recall));
}

/* "cells": the close rate per grid cell. */
static json_t *ls_calib_jcells(const ls_calib_report_t *r) {
        json_t *cells = json_array();
        size_t i;
        int bad = !cells;

        for (i = 0; cells && i < r->n_cells; i++) {
                const ls_calib_cell_t *c = &r->cells[i];

                bad |= ls_calib_jadd(cells,
                                     json_pack("{ss ss ss so}", "cell", c->cell,
                                               "grade", c->grade_name, "band",
                                               c->band_name, "close",
                                               ls_calib_jrate(&c->r)));
        }
        if (bad) {
                json_decref(cells);
                return NULL;
        }
        return cells;
}

/* "grid": the grid qualification chosen on training, and held out. */
static json_t *ls_calib_jgrid(const ls_calib_report_t *r) {
        const ls_calib_grid_t *g = &r->grid_train;
        json_t *target = strcmp(r->target, "f1") ? ls_calib_num(r->target_value)
                                                 : json_null();
        json_t *cells;
        char yaml[256];
        size_t i;
        int bad = 0;

        if (!g->found)
                return json_pack("{ss so sn sn sn sn sn sn sn}", "target",
                                 r->target, "target_value", target, "min_grade",
                                 "min_band", "grade_index", "band_index",
                                 "cells", "train", "test");
        if (!(cells = json_array())) {
                json_decref(target);
                return NULL;
        }
        for (i = 0; i < r->n_cells; i++)
                if (r->cells[i].grade <= g->min_grade &&
                    r->cells[i].band >= g->min_band)
                        bad |= ls_calib_jadd(cells,
                                             json_string(r->cells[i].cell));
        if (bad) {
                json_decref(target);
                json_decref(cells);
                return NULL;
        }
        return json_pack("{ss so ss ss si si so so so ss}", "target", r->target,
                         "target_value", target, "min_grade",
                         r->cells[(size_t)g->min_grade * r->n_bands].grade_name,
                         "min_band", r->cells[g->min_band].band_name,
                         "grade_index", g->min_grade, "band_index", g->min_band,
                         "cells", cells, "train",
                         ls_calib_jgrid_part(&r->grid_train), "test",
                         ls_calib_jgrid_part(&r->grid_test), "yaml",
                         ls_calib_grid_yaml(r, g->min_grade, g->min_band, yaml,
                                            sizeof(yaml)));
}

/* "score_histogram": totals by outcome. */
static json_t *ls_calib_jhist(const ls_calib_hist_t *h) {
        json_t *bins = json_array();
        size_t i;
        int bad = !bins;

        for (i = 0; bins && i < h->n_bins; i++)
                bad |= ls_calib_jadd(
                        bins,
                        json_pack("{so so sI sI}", "from",
                                  ls_calib_num(h->lo + (double)i * h->width),
                                  "to",
                                  ls_calib_num(h->lo +
                                               (double)(i + 1) * h->width),
                                  "won", (json_int_t)h->won[i], "lost",
                                  (json_int_t)h->lost[i]));
        if (bad) {
                json_decref(bins);
                return NULL;
        }
        return json_pack("{so so}", "bin_width", ls_calib_num(h->width), "bins",
                         bins);
}

ls_err_t ls_calib_report_json(const ls_calib_report_t *r, ls_buf_t *buf) {
        json_t *root = NULL, *rules, *values, *coefs, *deciles, *thr;
        char *text = NULL;
        char t1[40];
        size_t i;
        int bad = 0;
        ls_err_t err = LS_ERR_NOMEM;

        rules = json_array();
        values = json_array();
        coefs = json_array();
        deciles = json_array();
        if (!rules || !values || !coefs || !deciles)
                goto done;
        for (i = 0; i < r->n_rules; i++) {
                const ls_calib_rule_t *ru = &r->rules[i];

                bad |= ls_calib_jadd(
                        rules,
                        json_pack(
                                "{ss ss si so so so so so}", "rule",
                                ru->rule_id, "kind",
                                ru->fit ? "fit" : "engagement", "points",
                                (int)ru->points, "with",
                                ls_calib_jrate(&ru->with), "without",
                                ls_calib_jrate(&ru->without), "lift",
                                ls_calib_num(ru->lift), "log_odds_ratio",
                                ls_calib_num(ru->log_odds), "suggested_points",
                                ru->has_suggested ? json_integer(ru->suggested)
                                                  : json_null()));
        }
        for (i = 0; i < r->n_values; i++)
                bad |= ls_calib_jadd(
                        values, json_pack("{ss ss so}", "attribute",
                                          r->values[i].attribute, "value",
                                          r->values[i].value, "close",
                                          ls_calib_jrate(&r->values[i].r)));
        for (i = 0; i < r->n_coefs; i++) {
                const ls_calib_coef_t *c = &r->coefs[i];

                bad |= ls_calib_jadd(coefs,
                                     json_pack("{ss so so so so sb}", "feature",
                                               c->feature, "std_coef",
                                               ls_calib_num(c->std_coef),
                                               "coef", ls_calib_num(c->coef),
                                               "mean", ls_calib_num(c->mean),
                                               "sd", ls_calib_num(c->sd),
                                               "constant", c->constant));
        }
        for (i = 0; i < r->n_deciles; i++) {
                const ls_calib_decile_t *d = &r->deciles[i];

                bad |= ls_calib_jadd(
                        deciles,
                        json_pack("{sI sI sI so so so so so so}", "decile",
                                  (json_int_t)(i + 1), "leads",
                                  (json_int_t)d->n, "won", (json_int_t)d->won,
                                  "p_min", ls_calib_num(d->p_min), "p_max",
                                  ls_calib_num(d->p_max), "predicted",
                                  ls_calib_num(d->predicted), "observed",
                                  ls_calib_num(d->observed), "lift",
                                  ls_calib_num(d->lift), "capture",
                                  ls_calib_num(d->capture)));
        }
        if (bad)
                goto done;
        if (r->thr_train.found)
                thr = json_pack(
                        "{ss so so so so}", "target", r->target, "target_value",
                        strcmp(r->target, "f1") ? ls_calib_num(r->target_value)
                                                : json_null(),
                        "threshold", ls_calib_num(r->thr_train.threshold),
                        "train", ls_calib_jthresh(&r->thr_train), "test",
                        ls_calib_jthresh(&r->thr_test));
        else
                thr = json_pack(
                        "{ss so sn}", "target", r->target, "target_value",
                        strcmp(r->target, "f1") ? ls_calib_num(r->target_value)
                                                : json_null(),
                        "threshold");
        root = json_pack(
                "{ss ss sI sI sI so sI ss so so so so so so so so so so "
                "s{so so so so so} s{so so so so}}",
                "model", r->model_id, "model_version", r->model_version,
                "leads", (json_int_t)r->leads, "open", (json_int_t)r->open,
                "window_ms", (json_int_t)r->window_ms, "window_days",
                ls_calib_num((double)r->window_ms / LS_CALIB_DAY), "split_time",
                (json_int_t)r->split_time, "split",
                ls_calib_iso(r->split_time, t1, sizeof(t1)), "base",
                ls_calib_jrate(&r->base), "train", ls_calib_jrate(&r->train),
                "test", ls_calib_jrate(&r->test), "rules", rules, "values",
                values, "threshold", thr, "cells", ls_calib_jcells(r), "grid",
                ls_calib_jgrid(r), "score_histogram", ls_calib_jhist(&r->hist),
                "deciles", deciles, "logistic", "solver",
                json_string("liblinear L2R_LR"), "features", coefs,
                "intercept_std", ls_calib_num(r->intercept_std), "intercept",
                ls_calib_num(r->intercept), "auc_train",
                ls_calib_num(r->auc_train), "evaluation", "leads",
                json_integer((json_int_t)r->test.n), "auc",
                ls_calib_num(r->auc_test), "auc_points",
                ls_calib_num(r->auc_test_points), "base_rate",
                ls_calib_num(r->test.rate));
        rules = values = coefs = deciles = NULL; /* root owns them */
        if (!root)
                goto done;
        if (r->logit_thr_train.found &&
            json_object_set_new(
                    json_object_get(root, "logistic"), "threshold",
                    json_pack("{so so so}", "min_total",
                              json_integer((json_int_t)ceil(
                                      r->logit_thr_train.threshold)),
                              "train", ls_calib_jthresh(&r->logit_thr_train),
                              "test", ls_calib_jthresh(&r->logit_thr_test))))
                goto done;
        if (!(text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER |
                                              JSON_REAL_PRECISION(10))))
                goto done;
        if (ls_buf_append(buf, text, strlen(text)) != LS_OK ||
            ls_buf_append(buf, "\n", 1) != LS_OK)
                goto done;
        err = LS_OK;
done:
        free(text); /* jansson's */
        json_decref(root);
        json_decref(rules);
        json_decref(values);
        json_decref(coefs);
        json_decref(deciles);
        return err;
}
