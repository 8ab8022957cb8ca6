/*
 * ls_calib_stats.c - the statistics of a calibration: Wilson intervals,
 * the AUC, the threshold searches (on the total, and on the grid of
 * grades x bands) and the logistic regression, whose
 * optimiser is liblinear's (L2R_LR, a trust-region Newton method), not
 * ours. Pure functions of their arguments; see ls_calibrate.h.
 */
#include <linear.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_calibrate.h"

#define LS_CALIB_Z 1.959963984540054 /* two-sided 95% */

void ls_calib_rate(uint64_t won, uint64_t n, ls_calib_rate_t *r) {
        double p, z2, den, center, half;

        r->n = n;
        r->won = won;
        if (n == 0) {
                r->rate = 0;
                r->lo = 0;
                r->hi = 1;
                return;
        }
        p = (double)won / (double)n;
        z2 = LS_CALIB_Z * LS_CALIB_Z;
        den = 1 + z2 / (double)n;
        center = (p + z2 / (2 * (double)n)) / den;
        half = LS_CALIB_Z / den *
               sqrt(p * (1 - p) / (double)n + z2 / (4 * (double)n * (double)n));
        r->rate = p;
        r->lo = center - half < 0 ? 0 : center - half;
        r->hi = center + half > 1 ? 1 : center + half;
}

/* Sort key: a score and its row, for a deterministic order on ties. */
typedef struct ls_calib_sk_s {
        double s;
        size_t i;
} ls_calib_sk_t;

static int ls_calib_sk_asc(const void *a, const void *b) {
        const ls_calib_sk_t *x = a, *y = b;

        if (x->s != y->s)
                return x->s < y->s ? -1 : 1;
        return x->i < y->i ? -1 : x->i > y->i;
}

static ls_calib_sk_t *ls_calib_sorted(const double *score, size_t n) {
        ls_calib_sk_t *sk = ls_malloc((n ? n : 1) * sizeof(*sk));
        size_t i;

        if (!sk)
                return NULL;
        for (i = 0; i < n; i++) {
                sk[i].s = score[i];
                sk[i].i = i;
        }
        qsort(sk, n, sizeof(*sk), ls_calib_sk_asc);
        return sk;
}

double ls_calib_auc(const double *score, const uint8_t *y, size_t n) {
        ls_calib_sk_t *sk;
        double rank_sum = 0, npos = 0, nneg, avg;
        size_t i, j, k;

        for (i = 0; i < n; i++)
                npos += y[i] ? 1 : 0;
        nneg = (double)n - npos;
        if (npos == 0 || nneg == 0 || !(sk = ls_calib_sorted(score, n)))
                return NAN;
        /* Mann-Whitney: ranks from 1, tied scores share their mean rank */
        for (i = 0; i < n; i = j) {
                for (j = i + 1; j < n && sk[j].s == sk[i].s; j++)
                        ;
                avg = ((double)i + 1 + (double)j) / 2;
                for (k = i; k < j; k++)
                        if (y[sk[k].i])
                                rank_sum += avg;
        }
        ls_free(sk);
        return (rank_sum - npos * (npos + 1) / 2) / (npos * nneg);
}

/* Precision and recall of flagging @p flagged leads, @p tp of them won,
 * of @p positives won in all (0 when undefined). */
static void ls_calib_pr(uint64_t flagged, uint64_t tp, uint64_t positives,
                        double *precision, double *recall) {
        *precision = flagged ? (double)tp / (double)flagged : 0;
        *recall = positives ? (double)tp / (double)positives : 0;
}

static void ls_calib_thresh_fill(ls_calib_thresh_t *t, double threshold,
                                 uint64_t flagged, uint64_t tp,
                                 uint64_t positives) {
        t->found = 1;
        t->threshold = threshold;
        t->flagged = flagged;
        t->tp = tp;
        ls_calib_pr(flagged, tp, positives, &t->precision, &t->recall);
}

ls_err_t ls_calib_threshold(const double *score, const uint8_t *y, size_t n,
                            double target_precision, double target_recall,
                            ls_calib_thresh_t *out) {
        ls_calib_sk_t *sk;
        uint64_t pos = 0, flagged = 0, tp = 0;
        double best_f1 = -1, f1;
        ls_calib_thresh_t cur;
        size_t i, j;

        memset(out, 0, sizeof(*out));
        for (i = 0; i < n; i++)
                pos += y[i] ? 1 : 0;
        if (!(sk = ls_calib_sorted(score, n)))
                return LS_ERR_NOMEM;
        /* From the highest score down: each distinct score is a candidate
         * threshold that flags every lead at or above it. Recall only
         * grows on the way down. */
        for (i = n; i > 0; i = j) {
                for (j = i - 1; j > 0 && sk[j - 1].s == sk[i - 1].s; j--)
                        ;
                for (size_t k = j; k < i; k++) {
                        flagged++;
                        tp += y[sk[k].i] ? 1 : 0;
                }
                ls_calib_thresh_fill(&cur, sk[i - 1].s, flagged, tp, pos);
                if (target_precision > 0) {
                        if (cur.precision >= target_precision)
                                *out = cur; /* lower is better: more recall */
                } else if (target_recall > 0) {
                        if (cur.recall >= target_recall) {
                                *out = cur; /* the first is the highest */
                                break;
                        }
                } else {
                        f1 = cur.precision + cur.recall > 0
                                     ? 2 * cur.precision * cur.recall /
                                               (cur.precision + cur.recall)
                                     : 0;
                        if (f1 > best_f1) {
                                best_f1 = f1;
                                *out = cur;
                        }
                }
        }
        ls_free(sk);
        return LS_OK;
}

void ls_calib_threshold_eval(const double *score, const uint8_t *y, size_t n,
                             double threshold, ls_calib_thresh_t *out) {
        uint64_t pos = 0, flagged = 0, tp = 0;
        size_t i;

        for (i = 0; i < n; i++) {
                pos += y[i] ? 1 : 0;
                if (score[i] >= threshold) {
                        flagged++;
                        tp += y[i] ? 1 : 0;
                }
        }
        ls_calib_thresh_fill(out, threshold, flagged, tp, pos);
}

static void ls_calib_grid_fill(ls_calib_grid_t *g, int min_grade, int min_band,
                               uint64_t flagged, uint64_t tp,
                               uint64_t positives) {
        g->found = 1;
        g->min_grade = min_grade;
        g->min_band = min_band;
        g->flagged = flagged;
        g->tp = tp;
        ls_calib_pr(flagged, tp, positives, &g->precision, &g->recall);
}

static double ls_calib_f1(double precision, double recall) {
        return precision + recall > 0
                       ? 2 * precision * recall / (precision + recall)
                       : 0;
}

void ls_calib_grid_search(const uint8_t *grade, const uint8_t *band,
                          const uint8_t *y, size_t n, size_t n_grades,
                          size_t n_bands, double target_precision,
                          double target_recall, ls_calib_grid_t *out) {
        uint64_t cn[LS_CALIB_MAX_LEVELS][LS_CALIB_MAX_LEVELS];
        uint64_t cw[LS_CALIB_MAX_LEVELS][LS_CALIB_MAX_LEVELS];
        uint64_t pos = 0, flagged, tp;
        ls_calib_grid_t cur;
        size_t i, g, b, gg, bb;
        int better;

        memset(out, 0, sizeof(*out));
        if (n_grades == 0 || n_bands == 0 || n_grades > LS_CALIB_MAX_LEVELS ||
            n_bands > LS_CALIB_MAX_LEVELS)
                return;
        memset(cn, 0, sizeof(cn));
        memset(cw, 0, sizeof(cw));
        for (i = 0; i < n; i++) {
                pos += y[i] ? 1 : 0;
                if (grade[i] >= n_grades || band[i] >= n_bands)
                        continue;
                cn[grade[i]][band[i]]++;
                cw[grade[i]][band[i]] += y[i] ? 1 : 0;
        }
        /* the strictest pairs first, so that a tie keeps the strictest */
        for (g = 0; g < n_grades; g++) {
                for (b = n_bands; b-- > 0;) {
                        flagged = tp = 0;
                        for (gg = 0; gg <= g; gg++)
                                for (bb = b; bb < n_bands; bb++) {
                                        flagged += cn[gg][bb];
                                        tp += cw[gg][bb];
                                }
                        ls_calib_grid_fill(&cur, (int)g, (int)b, flagged, tp,
                                           pos);
                        if (target_precision > 0) {
                                if (cur.precision < target_precision)
                                        continue;
                                better = !out->found ||
                                         cur.recall > out->recall ||
                                         (cur.recall == out->recall &&
                                          cur.precision > out->precision);
                        } else if (target_recall > 0) {
                                if (cur.recall < target_recall)
                                        continue;
                                better = !out->found ||
                                         cur.precision > out->precision ||
                                         (cur.precision == out->precision &&
                                          cur.recall > out->recall);
                        } else {
                                better =
                                        !out->found ||
                                        ls_calib_f1(cur.precision, cur.recall) >
                                                ls_calib_f1(out->precision,
                                                            out->recall);
                        }
                        if (better)
                                *out = cur;
                }
        }
}

void ls_calib_grid_eval(const uint8_t *grade, const uint8_t *band,
                        const uint8_t *y, size_t n, int min_grade, int min_band,
                        ls_calib_grid_t *out) {
        uint64_t pos = 0, flagged = 0, tp = 0;
        size_t i;

        for (i = 0; i < n; i++) {
                pos += y[i] ? 1 : 0;
                if ((int)grade[i] <= min_grade && (int)band[i] >= min_band) {
                        flagged++;
                        tp += y[i] ? 1 : 0;
                }
        }
        ls_calib_grid_fill(out, min_grade, min_band, flagged, tp, pos);
}

static void ls_calib_liblinear_quiet(const char *s) {
        (void)s;
}

ls_err_t ls_calib_logreg(const double *x, size_t n, size_t d, const uint8_t *y,
                         double c, double *coef, char *errstr,
                         size_t errstr_size) {
        struct feature_node *nodes = NULL, **rows = NULL;
        struct parameter param;
        struct problem prob;
        struct model *model;
        const char *bad;
        double *labels = NULL, sign;
        size_t i, j, k, pos = 0;
        ls_err_t err = LS_OK;

        for (i = 0; i < n; i++)
                pos += y[i] ? 1 : 0;
        if (pos == 0 || pos == n)
                return ls_seterr(errstr, errstr_size, LS_ERR_UNSUPPORTED,
                                 "the training part has only %s leads (%zu): "
                                 "nothing to fit",
                                 pos ? "won" : "lost", n);
        if (n > INT32_MAX || d >= INT32_MAX)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "too many rows or features to fit");
        /* liblinear's sparse rows: the non-zero features (1-based), the
         * bias node, and a terminator (index -1) */
        nodes = ls_malloc(n * (d + 2) * sizeof(*nodes));
        rows = ls_malloc(n * sizeof(*rows));
        labels = ls_malloc(n * sizeof(*labels));
        if (!nodes || !rows || !labels) {
                err = LS_ERR_NOMEM;
                goto done;
        }
        k = 0;
        for (i = 0; i < n; i++) {
                rows[i] = &nodes[k];
                for (j = 0; j < d; j++) {
                        if (x[i * d + j] == 0)
                                continue;
                        nodes[k].index = (int)j + 1;
                        nodes[k].value = x[i * d + j];
                        k++;
                }
                nodes[k].index = (int)d + 1; /* the bias term */
                nodes[k].value = 1;
                k++;
                nodes[k].index = -1;
                nodes[k].value = 0;
                k++;
                labels[i] = y[i] ? 1 : -1;
        }
        memset(&prob, 0, sizeof(prob));
        prob.l = (int)n;
        prob.n = (int)d + 1;
        prob.y = labels;
        prob.x = rows;
        prob.bias = 1;
        memset(&param, 0, sizeof(param));
        param.solver_type = L2R_LR;
        param.eps = 0.00001;
        param.C = c > 0 ? c : 1.0;
        param.p = 0.1;
        if ((bad = check_parameter(&prob, &param))) {
                err = ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                "liblinear: %s", bad);
                goto done;
        }
        set_print_string_function(ls_calib_liblinear_quiet);
        if (!(model = train(&prob, &param))) {
                err = ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                "liblinear: training failed");
                goto done;
        }
        /* two classes: w is the decision function of label[0] */
        sign = model->label[0] == 1 ? 1 : -1;
        for (j = 0; j <= d; j++)
                coef[j] = sign * model->w[j];
        free_and_destroy_model(&model);
done:
        ls_free(nodes);
        ls_free(rows);
        ls_free(labels);
        return err;
}
