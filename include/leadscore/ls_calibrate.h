/*
 * ls_calibrate.h - calibration of a scoring model from history and
 * outcomes (`leadscore calibrate`, docs/CALIBRATE.md).
 *
 * A calibration watches one model of a model set while the history is
 * scored through the one door (ls_scorer.h): the caller loads the
 * outcomes (ls_calib_outcome_line()), then, for every input the scorer
 * reads and applies, hands over the input (ls_calib_observe_input(): the
 * profile attributes), the engine's outputs (ls_calib_observe_outputs():
 * totals, grades and bands) and what the shard's observer reports
 * (ls_calib_attach(): every rule match and fit change). Every
 * feature of a lead is taken as of its outcome time, so nothing that
 * happened after the outcome leaks into it. ls_calib_finish() then
 * computes the report: close rates with Wilson intervals (per rule,
 * attribute value and grid cell), suggested points, an MQL threshold on
 * the total and one on the grid (grade x band), a logistic regression
 * fitted with liblinear, and its evaluation on a time-based held-out
 * split. The report is printed as text, JSON or an HTML page with charts
 * (ls_calib_html.c, drawn with cairo).
 *
 * The statistics (Wilson interval, AUC, threshold search, the fit) are
 * exposed for the unit tests and for reuse.
 *
 * Threading: a calibration is used by one thread at a time; the model set
 * is borrowed read-only and must outlive it. Everything allocates through
 * ls_alloc.h, except liblinear's own buffers.
 */
#ifndef LS_CALIBRATE_H
#define LS_CALIBRATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "leadscore/ls_buf.h"
#include "leadscore/ls_engine.h"
#include "leadscore/ls_err.h"
#include "leadscore/ls_model.h"

#define LS_CALIB_DECILES 10
/* Values listed per attribute (those with min_leads or more); the rest
 * are pooled as "(other)". */
#define LS_CALIB_MAX_VALUES 12
/* Grades and bands of a model: at most 8 of each (docs/MODEL.md). */
#define LS_CALIB_MAX_LEVELS 8
#define LS_CALIB_MAX_CELLS (LS_CALIB_MAX_LEVELS * LS_CALIB_MAX_LEVELS)
/* Bins of the histogram of totals by outcome. */
#define LS_CALIB_MAX_BINS 40

/** Settings of a calibration; zero means the default. */
typedef struct ls_calib_conf_s {
        size_t model_idx;  /* the model of the set to calibrate */
        int64_t window_ms; /* rule counts are taken within this long
                            * before the outcome; 0: the model's decay
                            * horizon (last step, or 4 half-lives), else
                            * 90 days */
        int has_split;
        int64_t split_time;      /* outcomes before it train, at or after
                                  * it test; default: the outcome time of
                                  * the 80th percentile */
        double target_precision; /* > 0: the threshold with the best
                                  * recall whose precision reaches it */
        double target_recall;    /* > 0: the highest threshold whose
                                  * recall reaches it; neither: best F1 */
        double c;                /* liblinear's C (inverse L2 strength) on
                                  * standardized features; 0: 1.0 */
        uint32_t buckets;        /* the window's time buckets (ls_logit.h);
                                  * 0: 8. The window is rounded up to whole
                                  * buckets of whole milliseconds */
        uint32_t min_leads;      /* leads needed on each side of a rule
                                  * for a suggestion, and per attribute
                                  * value listed; 0: 30 */
} ls_calib_conf_t;

typedef struct ls_calib_s ls_calib_t;

/**
 * @returns a calibration of model conf->model_idx of @p ms (borrowed), or
 *          NULL with errstr saying why (no such model, out of memory).
 */
ls_calib_t *ls_calib_new(const ls_modelset_t *ms, const ls_calib_conf_t *conf,
                         char *errstr, size_t errstr_size);
void ls_calib_destroy(ls_calib_t *cal);

/**
 * Parses one line of an outcomes file (JSON: {"lead_id": string,
 * "time": ms or RFC 3339, "won": true|false}; other keys are ignored)
 * and records it. A blank line is skipped. @p name and @p lineno locate
 * it in messages (the name is copied once).
 * @returns LS_OK, or LS_ERR_INVALID with errstr "name:line: field: why"
 *          (bad JSON, a missing or bad field, a second outcome for the
 *          same lead), nothing recorded; LS_ERR_NOMEM.
 */
ls_err_t ls_calib_outcome_line(ls_calib_t *cal, const char *name,
                               uint64_t lineno, const char *line, size_t len,
                               char *errstr, size_t errstr_size);

/**
 * Takes the calibrated model's features from @p shard (the shard the
 * history is scored with), as a logistic model counts them (ls_logit.h):
 * every rule occurrence up to a lead's outcome, capped or not, and its
 * fit matches after every profile update dated up to it.
 */
void ls_calib_attach(ls_calib_t *cal, ls_shard_t *shard);

/** The observer ls_calib_attach() sets, for a caller that sets it on
 *  shards it does not hold (ls_replay_conf_t.shard_observer). */
const ls_observer_t *ls_calib_observer(const ls_calib_t *cal);

/** @returns the latest outcome time recorded (INT64_MIN: none), for
 *  ls_shard_advance() so that decay due before it fires. */
int64_t ls_calib_last_outcome(const ls_calib_t *cal);

/**
 * Observes an input the scorer applied (verdict LS_V_APPLIED): the lead
 * is in the history; a profile update dated at or before the lead's
 * outcome sets the attribute values it names.
 * @returns LS_OK or LS_ERR_NOMEM.
 */
ls_err_t ls_calib_observe_input(ls_calib_t *cal, const ls_input_t *in);

/**
 * Observes the engine's outputs in @p ob (all of them, in order; outputs
 * of other models are skipped). Score updates dated at or before the
 * lead's outcome set its total and fit-rule matches and count its rule
 * occurrences; alerts repeat their update's reasons and are skipped.
 * @returns LS_OK or LS_ERR_NOMEM.
 */
ls_err_t ls_calib_observe_outputs(ls_calib_t *cal, const ls_outbuf_t *ob);

/** A close rate: won of n, with its Wilson 95% interval. */
typedef struct ls_calib_rate_s {
        uint64_t n, won;
        double rate, lo, hi; /* rate = won / n (0 when n = 0) */
} ls_calib_rate_t;

/** One rule: close rates of the leads it matched (fit) or that did it
 *  at least once before their outcome (engagement), and of the rest. */
typedef struct ls_calib_rule_s {
        const char *rule_id; /* borrowed from the model */
        int fit;             /* 1: fit rule, 0: engagement rule */
        int32_t points;      /* the model's points */
        ls_calib_rate_t with, without;
        double lift;       /* with.rate / the base rate; NaN: no lead
                            * with */
        double log_odds;   /* log odds ratio with vs without, 0.5
                            * added to each cell; NaN: a side empty */
        int has_suggested; /* 0: too few leads on a side (min_leads) */
        int32_t suggested; /* points proportional to log_odds */
} ls_calib_rule_t;

/** Close rate of one value of one fit attribute ("(none)": absent,
 *  "(other)": values with fewer than min_leads leads, or past
 *  LS_CALIB_MAX_VALUES). */
typedef struct ls_calib_value_s {
        const char *attribute; /* borrowed from the model */
        const char *value;     /* lowercased; borrowed from the calibration */
        ls_calib_rate_t r;
} ls_calib_value_t;

/** One feature of the logistic regression. */
typedef struct ls_calib_coef_s {
        char *feature;   /* "fit:<id>", "rule:<id>", "recency_days" */
        double mean, sd; /* over the training leads */
        double std_coef; /* per standard deviation (what liblinear fits) */
        double coef;     /* per unit: std_coef / sd */
        int constant;    /* sd = 0 on the training part: left out */
} ls_calib_coef_t;

/** One decile of the held-out leads, best predicted first. */
typedef struct ls_calib_decile_s {
        uint64_t n, won;
        double p_min, p_max; /* predicted probability range */
        double predicted;    /* mean predicted probability */
        double observed;     /* won / n */
        double lift;         /* observed / the held-out base rate */
        double capture;      /* share of the held-out wins in deciles
                              * 1..this one */
} ls_calib_decile_t;

/** The result of a threshold search over totals. */
typedef struct ls_calib_thresh_s {
        int found;        /* 0: no threshold meets the target */
        double threshold; /* flag leads whose score >= it */
        uint64_t flagged, tp;
        double precision, recall;
} ls_calib_thresh_t;

/** The close rate of one grid cell: the leads whose grade and band at
 *  their outcome were these. */
typedef struct ls_calib_cell_s {
        char cell[40];   /* grade name (its first 22 bytes, as the
                          * engine cuts it) + band number from 1: "A1" */
        int grade, band; /* indices: grade 0 is the best, band 0 the
                          * coldest */
        const char *grade_name, *band_name; /* borrowed from the model */
        ls_calib_rate_t r;
} ls_calib_cell_t;

/** The result of a search over grid qualifications (grade index <=
 *  min_grade and band index >= min_band), or of one evaluated. */
typedef struct ls_calib_grid_s {
        int found; /* 0: no pair meets the target */
        int min_grade, min_band;
        uint64_t flagged, tp;
        double precision, recall;
} ls_calib_grid_t;

/** The totals at the cut-off of every lead with an outcome, by outcome:
 *  bin i counts the totals in [lo + i * width, lo + (i + 1) * width). */
typedef struct ls_calib_hist_s {
        double lo, width;
        size_t n_bins; /* 0 when no lead has an outcome */
        uint64_t won[LS_CALIB_MAX_BINS], lost[LS_CALIB_MAX_BINS];
} ls_calib_hist_t;

typedef struct ls_calib_report_s {
        const char *model_id, *model_version; /* borrowed from the model */
        int64_t window_ms, split_time;
        uint32_t buckets;
        uint64_t leads;              /* leads in the history */
        uint64_t open;               /* in the history, without an outcome */
        ls_calib_rate_t base;        /* every lead with an outcome */
        ls_calib_rate_t train, test; /* the two parts of the split */

        ls_calib_rule_t *rules; /* fit rules, then engagement rules */
        size_t n_rules;
        ls_calib_value_t *values; /* per attribute, most leads first */
        size_t n_values;

        const char *target; /* "precision", "recall" or "f1" */
        double target_value;
        ls_calib_thresh_t thr_train; /* chosen on the training part */
        ls_calib_thresh_t thr_test;  /* the same threshold, held out */

        /* grid cells of every lead with an outcome: grades (best first)
         * times bands (coldest first), row by row */
        ls_calib_cell_t cells[LS_CALIB_MAX_CELLS];
        size_t n_grades, n_bands, n_cells;
        ls_calib_grid_t grid_train; /* chosen on the training part */
        ls_calib_grid_t grid_test;  /* the same pair, held out */
        ls_calib_hist_t hist;       /* totals by outcome */

        ls_calib_coef_t *coefs; /* in feature order */
        size_t n_coefs;
        double intercept_std; /* at the training means */
        double intercept;     /* per unit */
        double auc_train;
        double auc_test;        /* fitted model, held out (NaN: one class) */
        double auc_test_points; /* the model's total, held out */
        ls_calib_decile_t deciles[LS_CALIB_DECILES];
        size_t n_deciles; /* 0 when the held-out part is empty */

        /* The logistic model of the fit (ls_calib_write_model()): per-unit
         * coefficients in the model's rule order (0 for a feature constant
         * on the training part), grades and bands splitting the training
         * leads into equal shares (grade_min[i] for grade i, band_min[i]
         * for band i; the catch-all's unused), and the MQL threshold on
         * its total (0-100), chosen on training and held out. */
        double *w_fit, *w_rule, w_fresh;
        double fit_offset; /* the training leads' mean log-odds from
                            * engagement: fit is the chance at it */
        int32_t *grade_min, *band_min;
        ls_calib_thresh_t logit_thr_train, logit_thr_test;
} ls_calib_report_t;

/**
 * Computes the report. Every outcome's lead must be in the history.
 * @returns LS_OK and *reportp (free with ls_calib_report_destroy(), before
 *          ls_calib_destroy(): it borrows from the calibration), or
 *          LS_ERR_INVALID with errstr (no outcomes; an outcome for a
 *          lead the history never names, as "name:line: lead_id: ..."),
 *          LS_ERR_UNSUPPORTED (nothing to fit: no training lead, or only
 *          won or only lost ones), LS_ERR_NOMEM.
 */
ls_err_t ls_calib_finish(ls_calib_t *cal, ls_calib_report_t **reportp,
                         char *errstr, size_t errstr_size);
void ls_calib_report_destroy(ls_calib_report_t *r);

/**
 * Writes the model file of report @p r's fit to @p fp: the set's settings
 * and a logistic copy of the calibrated model with the fitted
 * coefficients, the window and buckets the features were counted in, and
 * the report's grades, bands and MQL threshold
 * (ls_modelset_write_logistic(), docs/CALIBRATE.md "The model file").
 * @returns LS_OK, or an error with errstr.
 */
ls_err_t ls_calib_write_model(const ls_calib_t *cal, const ls_calib_report_t *r,
                              FILE *fp, char *errstr, size_t errstr_size);

/** Writes the report for people (docs/CALIBRATE.md, "The report"). */
void ls_calib_report_print(const ls_calib_report_t *r, FILE *fp);

/** Appends the report as one JSON object (docs/CALIBRATE.md); NaN is
 *  written as null. @returns LS_OK or LS_ERR_NOMEM. */
ls_err_t ls_calib_report_json(const ls_calib_report_t *r, ls_buf_t *buf);

/**
 * Appends the report as one self-contained HTML page (docs/CALIBRATE.md,
 * "The HTML report"): the headline numbers as a table and four charts
 * drawn with cairo as inline SVG (totals by outcome, conversion by grid
 * cell, lift and calibration by decile). Every string from the model is
 * escaped. When done it releases the font caches cairo and fontconfig
 * keep for the process (cairo_debug_reset_static_data(), FcFini()): call
 * it while the process holds no other cairo or fontconfig object.
 * @returns LS_OK, or LS_ERR_NOMEM / LS_ERR_IO (cairo could not draw) with
 * errstr.
 */
ls_err_t ls_calib_report_html(const ls_calib_report_t *r, ls_buf_t *buf,
                              char *errstr, size_t errstr_size);

/**
 * Writes ls_calib_report_html() into the file @p path (created or
 * truncated). @returns LS_OK, or an error with errstr naming the file
 * ("PATH: why"); a partial file may remain.
 */
ls_err_t ls_calib_report_html_file(const ls_calib_report_t *r, const char *path,
                                   char *errstr, size_t errstr_size);

/**
 * Formats a grid qualification as the YAML of a model file's MQL:
 * "mql:\n  enter: {min_grade: G, min_band: B}\n" with the names of
 * grade @p min_grade and band @p min_band of @p r (quoted when they are
 * not plain). Truncated to @p size. @returns @p buf.
 */
char *ls_calib_grid_yaml(const ls_calib_report_t *r, int min_grade,
                         int min_band, char *buf, size_t size);

/** @returns @p buf holding @p ms since the epoch in RFC 3339, UTC (the
 *  number itself when out of range), as the reports write times. */
const char *ls_calib_iso(int64_t ms, char *buf, size_t size);

/* ---- statistics ---- */

/** Fills @p r: rate and Wilson score interval (z = 1.96) of @p won of
 *  @p n; n = 0 gives [0, 1]. */
void ls_calib_rate(uint64_t won, uint64_t n, ls_calib_rate_t *r);

/**
 * Area under the ROC curve of @p score for labels @p y (1 = won): the
 * probability that a random won lead scores above a random lost one,
 * ties counting half. @returns it, or NaN when a class is missing.
 * O(n log n); allocates (NaN on out of memory).
 */
double ls_calib_auc(const double *score, const uint8_t *y, size_t n);

/**
 * Searches thresholds over the distinct values of @p score (flagged:
 * score >= threshold). @p target_precision > 0: the lowest threshold with
 * precision >= it (so the best recall); else @p target_recall > 0: the
 * highest with recall >= it; else the best F1 (the higher on a tie).
 * @returns LS_OK with *out (out->found = 0 when none qualifies), or
 *          LS_ERR_NOMEM.
 */
ls_err_t ls_calib_threshold(const double *score, const uint8_t *y, size_t n,
                            double target_precision, double target_recall,
                            ls_calib_thresh_t *out);

/** Precision and recall of the fixed @p threshold (out->found = 1). */
void ls_calib_threshold_eval(const double *score, const uint8_t *y, size_t n,
                             double threshold, ls_calib_thresh_t *out);

/**
 * Searches grid qualifications: a lead qualifies under the pair (g, b)
 * when grade[i] <= g (0 = the best grade) and band[i] >= b (0 = the
 * coldest band), as `mql.enter: {min_grade, min_band}`. Every pair of
 * @p n_grades x @p n_bands (each at most LS_CALIB_MAX_LEVELS) is a
 * candidate, with the rules of ls_calib_threshold(): @p target_precision
 * > 0: the best recall with precision >= it (on a tie the higher
 * precision); else @p target_recall > 0: the best precision with recall
 * >= it (on a tie the higher recall); else the best F1. Remaining ties go
 * to the strictest pair (the lowest g, then the highest b). Leads whose
 * grade or band is out of range are never flagged.
 * @p out->found = 0 when no pair meets the target (or n_grades or
 * n_bands is 0 or too large).
 */
void ls_calib_grid_search(const uint8_t *grade, const uint8_t *band,
                          const uint8_t *y, size_t n, size_t n_grades,
                          size_t n_bands, double target_precision,
                          double target_recall, ls_calib_grid_t *out);

/** Precision and recall of the fixed pair (@p min_grade, @p min_band)
 *  on other leads (out->found = 1). */
void ls_calib_grid_eval(const uint8_t *grade, const uint8_t *band,
                        const uint8_t *y, size_t n, int min_grade, int min_band,
                        ls_calib_grid_t *out);

/**
 * Fits an L2-regularised logistic regression with liblinear (solver
 * L2R_LR, bias term, C = @p c) to the @p n rows of @p d features in
 * @p x (row-major) and labels @p y (1 = won, 0 = lost). Features are
 * used as given (standardize them first). @p coef receives d + 1 values:
 * the weights of P(won), then the intercept.
 * @returns LS_OK, or LS_ERR_UNSUPPORTED when a class is missing
 *          (errstr: nothing to fit), LS_ERR_NOMEM.
 */
ls_err_t ls_calib_logreg(const double *x, size_t n, size_t d, const uint8_t *y,
                         double c, double *coef, char *errstr,
                         size_t errstr_size);

#endif /* LS_CALIBRATE_H */
