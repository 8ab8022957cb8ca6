/*
 * ls_calibrate.c - a calibration's lead table and its report.
 *
 * One block per lead (ls_lead_table.h): the outcome (time, won, the line
 * it came from), and the lead's features as of that time, kept up to date
 * as the scorer's inputs and the engine's outputs go by: fit-rule match
 * bits, occurrences per engagement rule (ever, and within the window that
 * ends at the outcome), last activity, total, grade and band, and one
 * value id per fit attribute. Outcomes are loaded first, so the cut-off is known while the
 * history streams and nothing after it is kept. Attribute values are
 * interned per attribute in a table of their own (lowercased).
 *
 * ls_calib_finish() turns the blocks into the report: close rates, the
 * suggested points (log odds ratio scaled to the model's largest points),
 * the threshold search on totals, the grid cells and the search over
 * grid qualifications, the histogram of totals, the standardized
 * features, the fit (ls_calib_logreg()) and the held-out evaluation.
 */
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_calibrate.h"
#include "leadscore/ls_json.h"
#include "leadscore/ls_lead_table.h"
#include "leadscore/ls_logit.h"

#define LS_CALIB_DAY 86400000LL
#define LS_CALIB_MAX_TIME 253402300799999LL /* 9999-12-31T23:59:59.999Z */

/* The fixed part of a lead's block; then uint32_t ever[n_rules],
 * uint32_t value[n_attrs] (0: none, else the value id + 1), then at
 * logit_off the lead's feature state (ls_logit.h). */
typedef struct ls_calib_lead_s {
        int64_t cutoff; /* outcome time; INT64_MAX while open */
        uint64_t line;  /* of the outcome; 0: no outcome */
        uint64_t fit_bits;
        int32_t total;
        uint8_t grade, band; /* of the last score update before the cutoff
                              * (indices into the model's levels) */
        uint8_t won, seen;
} ls_calib_lead_t;

struct ls_calib_s {
        const ls_modelset_t *ms;
        const ls_model_t *model;
        ls_calib_conf_t conf;
        ls_model_t probe;       /* the model with the window's buckets: what
                           * ls_logit.h counts features with */
        ls_observer_t observer; /* ls_calib_attach() */
        int32_t total0;         /* of a lead without a score update */
        size_t logit_off;       /* of the feature state in a lead's block */
        int nomem;              /* the match observer ran out of memory */
        char *outcomes_name;
        ls_lead_table_t *leads;
        size_t block_size;
        const char **attrs; /* distinct attributes of the fit rules */
        size_t n_attrs;
        ls_lead_table_t **values; /* per attribute: value -> id */
        uint64_t fit_init;        /* fit rules that hold for a new lead (they
                            * match an absent attribute): the engine sets
                            * them without a reason */
        int64_t last_outcome;
        uint64_t n_outcomes;
        uint8_t grade0, band0; /* of a lead without a score update: fit and
                                * engagement 0 */
};

static uint32_t *ls_calib_ever(const ls_calib_t *cal, ls_calib_lead_t *l) {
        (void)cal;
        return (uint32_t *)(l + 1);
}

static uint32_t *ls_calib_value(const ls_calib_t *cal, ls_calib_lead_t *l) {
        return (uint32_t *)(l + 1) + cal->model->n_rules;
}

static void *ls_calib_logit(const ls_calib_t *cal, ls_calib_lead_t *l) {
        return (unsigned char *)l + cal->logit_off;
}

static int64_t ls_calib_default_window(const ls_model_t *m) {
        if (m->decay.kind == LS_DECAY_STEPS && m->decay.n_steps > 0)
                return m->decay.steps[m->decay.n_steps - 1].after_ms;
        if (m->decay.kind == LS_DECAY_HALF_LIFE)
                return 4 * m->decay.half_life_ms;
        return 90 * LS_CALIB_DAY;
}

/* The scores of a new lead, as the engine starts it: the fit rules that
 * match absent attributes, no engagement (a logistic model: its
 * probability from those alone). */
static int ls_calib_initial(ls_calib_t *cal) {
        const ls_model_t *m = cal->model;
        int64_t fit = 0, eng = 0;
        size_t i;

        if (m->kind == LS_MODEL_LOGISTIC) {
                double *x = ls_calloc(ls_logit_n_features(m), sizeof(*x));
                ls_logit_score_t sc;

                if (!x)
                        return -1;
                for (i = 0; i < m->n_fit_rules; i++)
                        x[i] = (cal->fit_init >> i) & 1 ? 1.0 : 0.0;
                ls_logit_score(m, x, &sc);
                ls_free(x);
                fit = sc.fit;
                eng = sc.total - sc.fit;
        } else {
                for (i = 0; i < m->n_fit_rules; i++)
                        if ((cal->fit_init >> i) & 1)
                                fit += m->fit_rules[i].points;
                if (m->has_fit_max && fit > m->fit_max)
                        fit = m->fit_max;
                if (m->has_fit_min && fit < m->fit_min)
                        fit = m->fit_min;
                eng = m->engagement_floor > 0 ? m->engagement_floor : 0;
                if (m->has_engagement_max && eng > m->engagement_max)
                        eng = m->engagement_max;
        }
        cal->total0 = (int32_t)(fit + eng);
        cal->grade0 = (uint8_t)ls_model_grade_of(m, (int32_t)fit);
        cal->band0 = (uint8_t)ls_model_band_of(m, (int32_t)eng);
        return 0;
}

static void ls_calib_on_match(void *ctx, const char *lead_id, size_t model,
                              size_t rule, int64_t time);
static void ls_calib_on_fit(void *ctx, const char *lead_id, size_t model,
                            uint64_t fit_bits, int64_t time);

ls_calib_t *ls_calib_new(const ls_modelset_t *ms, const ls_calib_conf_t *conf,
                         char *errstr, size_t errstr_size) {
        ls_calib_t *cal;
        size_t i, j;

        if (conf->model_idx >= ms->n_models) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "model index %zu out of range (%zu models)",
                          conf->model_idx, ms->n_models);
                return NULL;
        }
        if (!(cal = ls_calloc(1, sizeof(*cal))))
                goto nomem;
        cal->ms = ms;
        cal->model = &ms->models[conf->model_idx];
        cal->conf = *conf;
        /* a logistic model is counted as it counts itself */
        if (cal->conf.window_ms <= 0)
                cal->conf.window_ms =
                        cal->model->kind == LS_MODEL_LOGISTIC
                                ? cal->model->logit.window_ms
                                : ls_calib_default_window(cal->model);
        if (cal->conf.buckets == 0)
                cal->conf.buckets = cal->model->kind == LS_MODEL_LOGISTIC
                                            ? cal->model->logit.buckets
                                            : 8;
        if (cal->conf.buckets > LS_LOGIT_MAX_BUCKETS) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "buckets: %u is more than %d", cal->conf.buckets,
                          LS_LOGIT_MAX_BUCKETS);
                ls_free(cal);
                return NULL;
        }
        /* whole buckets of whole milliseconds */
        cal->conf.window_ms += (int64_t)cal->conf.buckets - 1 -
                               (cal->conf.window_ms - 1) % cal->conf.buckets;
        cal->probe = *cal->model;
        cal->probe.logit.window_ms = cal->conf.window_ms;
        cal->probe.logit.buckets = cal->conf.buckets;
        cal->probe.logit.bucket_ms = cal->conf.window_ms / cal->conf.buckets;
        if (cal->conf.min_leads == 0)
                cal->conf.min_leads = 30;
        cal->last_outcome = INT64_MIN;
        cal->observer.match = ls_calib_on_match;
        cal->observer.fit = ls_calib_on_fit;
        cal->observer.ctx = cal;
        cal->attrs =
                ls_calloc(cal->model->n_fit_rules + 1, sizeof(*cal->attrs));
        if (!cal->attrs)
                goto nomem;
        for (i = 0; i < cal->model->n_fit_rules; i++) {
                const char *a = cal->model->fit_rules[i].cond.field;

                for (j = 0; j < cal->n_attrs; j++)
                        if (!strcmp(cal->attrs[j], a))
                                break;
                if (j == cal->n_attrs)
                        cal->attrs[cal->n_attrs++] = a;
        }
        for (i = 0; i < cal->model->n_fit_rules; i++)
                if (ls_cond_match(ms, &cal->model->fit_rules[i].cond, NULL))
                        cal->fit_init |= (uint64_t)1 << i;
        if (ls_calib_initial(cal) != 0)
                goto nomem;
        cal->values = ls_calloc(cal->n_attrs + 1, sizeof(*cal->values));
        if (!cal->values)
                goto nomem;
        for (i = 0; i < cal->n_attrs; i++)
                if (!(cal->values[i] = ls_lead_table_new(sizeof(uint32_t))))
                        goto nomem;
        /* the parts of a block: keep the doubles after them 8-aligned */
        cal->logit_off =
                (sizeof(ls_calib_lead_t) +
                 (cal->model->n_rules + cal->n_attrs) * sizeof(uint32_t) + 7) &
                ~(size_t)7;
        cal->block_size = cal->logit_off + ls_logit_size(&cal->probe);
        if (!(cal->leads = ls_lead_table_new(cal->block_size)))
                goto nomem;
        return cal;
nomem:
        ls_seterr(errstr, errstr_size, LS_ERR_NOMEM, "out of memory");
        ls_calib_destroy(cal);
        return NULL;
}

void ls_calib_destroy(ls_calib_t *cal) {
        size_t i;

        if (!cal)
                return;
        if (cal->leads)
                ls_lead_table_destroy(cal->leads);
        for (i = 0; cal->values && i < cal->n_attrs; i++)
                if (cal->values[i])
                        ls_lead_table_destroy(cal->values[i]);
        ls_free(cal->values);
        ls_free(cal->attrs);
        ls_free(cal->outcomes_name);
        ls_free(cal);
}

/* The lead's block, created (as an open lead) when @p create is set.
 * NULL: absent, or out of memory when creating. */
static ls_calib_lead_t *ls_calib_lead(ls_calib_t *cal, const char *id,
                                      int create) {
        ls_calib_lead_t *l;
        int created = 0;
        int64_t idx;

        idx = ls_lead_table_get(cal->leads, id, strlen(id), create, &created);
        if (idx < 0)
                return NULL;
        l = ls_lead_table_block(cal->leads, (uint32_t)idx);
        if (created) {
                l->cutoff = INT64_MAX;
                l->fit_bits = cal->fit_init;
                l->grade = cal->grade0;
                l->band = cal->band0;
                l->total = cal->total0;
                ls_logit_init(&cal->probe, ls_calib_logit(cal, l));
        }
        return l;
}

/* The lead of an observation of model @p model at @p time, when it is
 * the calibrated model's and up to the lead's outcome; NULL otherwise
 * (or out of memory: noted). */
static ls_calib_lead_t *ls_calib_observed(ls_calib_t *cal, const char *lead_id,
                                          size_t model, int64_t time) {
        ls_calib_lead_t *l;

        if (model != cal->conf.model_idx)
                return NULL;
        if (!(l = ls_calib_lead(cal, lead_id, 1))) {
                cal->nomem = 1;
                return NULL;
        }
        return time <= l->cutoff ? l : NULL; /* after it: not a feature */
}

/* Every rule occurrence of the calibrated model up to the lead's outcome
 * is counted as a logistic model of its rules counts it. */
static void ls_calib_on_match(void *ctx, const char *lead_id, size_t model,
                              size_t rule, int64_t time) {
        ls_calib_t *cal = ctx;
        ls_calib_lead_t *l = ls_calib_observed(cal, lead_id, model, time);

        if (!l)
                return;
        ls_calib_ever(cal, l)[rule]++;
        ls_logit_note(&cal->probe, ls_calib_logit(cal, l), rule, time);
}

/* The fit matches after every profile update dated up to the outcome. */
static void ls_calib_on_fit(void *ctx, const char *lead_id, size_t model,
                            uint64_t fit_bits, int64_t time) {
        ls_calib_lead_t *l = ls_calib_observed(ctx, lead_id, model, time);

        if (l)
                l->fit_bits = fit_bits;
}

const ls_observer_t *ls_calib_observer(const ls_calib_t *cal) {
        return &cal->observer;
}

void ls_calib_attach(ls_calib_t *cal, ls_shard_t *shard) {
        ls_shard_set_observer(shard, &cal->observer);
}

ls_err_t ls_calib_outcome_line(ls_calib_t *cal, const char *name,
                               uint64_t lineno, const char *line, size_t len,
                               char *errstr, size_t errstr_size) {
        json_error_t jerr;
        json_t *root, *v;
        const char *id;
        ls_calib_lead_t *l;
        int64_t time;
        int won;
        ls_err_t err = LS_ERR_INVALID;

        if (ls_json_blank(line, len))
                return LS_OK;
        if (!cal->outcomes_name && !(cal->outcomes_name = ls_strdup(name)))
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "out of memory");
        if (!(root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr)))
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "%s:%llu: invalid JSON: %s", name,
                                 (unsigned long long)lineno, jerr.text);
        if (!json_is_object(root)) {
                ls_seterr(errstr, errstr_size, err,
                          "%s:%llu: expected a JSON object", name,
                          (unsigned long long)lineno);
                goto done;
        }
        v = json_object_get(root, "lead_id");
        if (!json_is_string(v) || !*(id = json_string_value(v))) {
                ls_seterr(errstr, errstr_size, err, "%s:%llu: lead_id: %s",
                          name, (unsigned long long)lineno,
                          v ? "expected a non-empty string" : "missing");
                goto done;
        }
        v = json_object_get(root, "time");
        if (json_is_integer(v)) {
                time = (int64_t)json_integer_value(v);
                if (time < 0 || time > LS_CALIB_MAX_TIME) {
                        ls_seterr(errstr, errstr_size, err,
                                  "%s:%llu: time: %lld out of range "
                                  "(milliseconds from 1970 to 9999)",
                                  name, (unsigned long long)lineno,
                                  (long long)time);
                        goto done;
                }
                if (time >= 1000000000LL && time < 100000000000LL) {
                        ls_seterr(errstr, errstr_size, err,
                                  "%s:%llu: time: %lld looks like seconds "
                                  "since the epoch; give milliseconds "
                                  "(%lld000) or an RFC 3339 string",
                                  name, (unsigned long long)lineno,
                                  (long long)time, (long long)time);
                        goto done;
                }
        } else if (json_is_string(v)) {
                if (ls_json_parse_time(json_string_value(v), &time) != LS_OK) {
                        ls_seterr(errstr, errstr_size, err,
                                  "%s:%llu: time: \"%.64s\" is not an RFC "
                                  "3339 time between 1970 and 9999",
                                  name, (unsigned long long)lineno,
                                  json_string_value(v));
                        goto done;
                }
        } else {
                ls_seterr(errstr, errstr_size, err, "%s:%llu: time: %s", name,
                          (unsigned long long)lineno,
                          v ? "expected integer milliseconds or an RFC "
                              "3339 string"
                            : "missing");
                goto done;
        }
        v = json_object_get(root, "won");
        if (!json_is_boolean(v)) {
                char *text = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;

                ls_seterr(errstr, errstr_size, err, "%s:%llu: won: %s%.64s",
                          name, (unsigned long long)lineno,
                          v ? "expected true or false, got " : "missing",
                          text ? text : "");
                free(text); /* jansson's */
                goto done;
        }
        won = json_is_true(v);
        if (!(l = ls_calib_lead(cal, id, 1))) {
                err = ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                "out of memory");
                goto done;
        }
        if (l->line) {
                ls_seterr(errstr, errstr_size, err,
                          "%s:%llu: lead_id: '%.256s' already has an "
                          "outcome (line %llu)",
                          name, (unsigned long long)lineno, id,
                          (unsigned long long)l->line);
                goto done;
        }
        l->line = lineno;
        l->cutoff = time;
        l->won = (uint8_t)won;
        cal->n_outcomes++;
        if (time > cal->last_outcome)
                cal->last_outcome = time;
        err = LS_OK;
done:
        json_decref(root);
        return err;
}

int64_t ls_calib_last_outcome(const ls_calib_t *cal) {
        return cal->last_outcome;
}

/* Interns @p value (lowercased) for attribute @p a. @returns id + 1, 0
 * when empty (cleared), or -1 when memory is short. */
static int64_t ls_calib_intern(ls_calib_t *cal, size_t a, const char *value) {
        char buf[256];
        size_t i, n = strlen(value);
        int64_t idx;

        if (n == 0)
                return 0;
        if (n >= sizeof(buf))
                n = sizeof(buf) - 1; /* long values are told apart by
                                      * their first 255 bytes */
        for (i = 0; i < n; i++)
                buf[i] = (char)tolower((unsigned char)value[i]);
        buf[n] = '\0';
        idx = ls_lead_table_get(cal->values[a], buf, n, 1, NULL);
        return idx < 0 ? -1 : idx + 1;
}

ls_err_t ls_calib_observe_input(ls_calib_t *cal, const ls_input_t *in) {
        ls_calib_lead_t *l;
        uint32_t *vals;
        size_t a, k;
        int64_t id;

        if (!in->lead_id || !*in->lead_id)
                return LS_OK;
        if (!(l = ls_calib_lead(cal, in->lead_id, 1)))
                return LS_ERR_NOMEM;
        l->seen = 1;
        if (in->kind != LS_INPUT_PROFILE || in->time > l->cutoff)
                return LS_OK;
        vals = ls_calib_value(cal, l);
        for (a = 0; a < cal->n_attrs; a++) {
                /* the last occurrence of a key wins, as in the engine */
                for (k = in->n_fields; k-- > 0;) {
                        if (!in->fields[k].key ||
                            strcmp(in->fields[k].key, cal->attrs[a]) != 0)
                                continue;
                        id = ls_calib_intern(
                                cal, a,
                                in->fields[k].value ? in->fields[k].value : "");
                        if (id < 0)
                                return LS_ERR_NOMEM;
                        vals[a] = (uint32_t)id;
                        break;
                }
        }
        return LS_OK;
}

/* The index of @p id among @p n rule ids (pointers first: the engine's
 * reasons point at the model's own strings). -1 when absent. */
ls_err_t ls_calib_observe_outputs(ls_calib_t *cal, const ls_outbuf_t *ob) {
        const ls_model_t *m = cal->model;
        size_t i;

        for (i = 0; i < ob->n_outs; i++) {
                const ls_output_t *o = &ob->outs[i];
                ls_calib_lead_t *l;

                if (o->model != m || o->kind != LS_OUT_SCORE_UPDATE)
                        continue;
                if (!(l = ls_calib_lead(cal, o->lead_id, 1)))
                        return LS_ERR_NOMEM;
                l->seen = 1;
                if (o->time > l->cutoff)
                        continue; /* after the outcome: not a feature */
                l->total = o->total;
                l->grade = (uint8_t)o->grade;
                l->band = (uint8_t)o->band;
        }
        return cal->nomem ? LS_ERR_NOMEM : LS_OK;
}

/* ---- the report ---- */

typedef struct ls_calib_row_s {
        ls_calib_lead_t *l;
        uint32_t lead; /* table index */
        uint8_t test;
} ls_calib_row_t;

static int ls_calib_row_by_time(const void *a, const void *b) {
        const ls_calib_row_t *x = a, *y = b;

        if (x->l->cutoff != y->l->cutoff)
                return x->l->cutoff < y->l->cutoff ? -1 : 1;
        return x->lead < y->lead ? -1 : x->lead > y->lead;
}

/* The feature vector of a lead (ls_calibrate.h, "coefs" order). */
static void ls_calib_features(const ls_calib_t *cal, ls_calib_lead_t *l,
                              double *x) {
        ls_logit_features(&cal->probe, ls_calib_logit(cal, l), l->fit_bits,
                          l->cutoff, x);
}

static int ls_calib_cmp_i32(const void *a, const void *b) {
        int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

        return x < y ? -1 : x > y;
}

/*
 * The logistic model written from the fit (`--write-model`): its
 * coefficients per unit, scored with the engine's own ls_logit_score() on
 * every lead's features, so that its grades split the training leads'
 * fit scores into equal shares, its bands their engagement, and its MQL
 * threshold on the total meets the target on them (held out after).
 */
static ls_err_t ls_calib_logistic(const ls_calib_t *cal, ls_calib_report_t *r,
                                  const double *x, const uint8_t *y, size_t n,
                                  size_t n_train) {
        const ls_model_t *m = cal->model;
        size_t d = ls_logit_n_features(m), i, j, ng = m->n_grades;
        size_t nb = m->n_bands;
        int32_t *fit = NULL, *eng = NULL;
        double *tot = NULL;
        ls_model_t fitted = cal->probe;
        ls_logit_score_t sc;
        ls_err_t err = LS_ERR_NOMEM;

        r->w_fit = ls_calloc(m->n_fit_rules + 1, sizeof(double));
        r->w_rule = ls_calloc(m->n_rules + 1, sizeof(double));
        r->grade_min = ls_calloc(ng, sizeof(int32_t));
        r->band_min = ls_calloc(nb, sizeof(int32_t));
        fit = ls_malloc((n ? n : 1) * sizeof(*fit));
        eng = ls_malloc((n ? n : 1) * sizeof(*eng));
        tot = ls_malloc((n ? n : 1) * sizeof(*tot));
        if (!r->w_fit || !r->w_rule || !r->grade_min || !r->band_min || !fit ||
            !eng || !tot)
                goto done;
        for (j = 0; j < d; j++) {
                double w = r->coefs[j].constant ? 0 : r->coefs[j].coef;

                if (j < m->n_fit_rules)
                        r->w_fit[j] = w;
                else if (j < m->n_fit_rules + m->n_rules)
                        r->w_rule[j - m->n_fit_rules] = w;
                else
                        r->w_fresh = w;
        }
        fitted.logit.intercept = r->intercept;
        fitted.logit.w_fit = r->w_fit;
        fitted.logit.w_rule = r->w_rule;
        fitted.logit.w_fresh = r->w_fresh;
        /* fit: a lead's chance from its profile at the training leads'
         * mean engagement (the log-odds of everything but the profile) */
        for (i = 0; i < n_train; i++) {
                double e = 0;

                for (j = m->n_fit_rules; j < d; j++)
                        e += ls_logit_coef(&fitted, j) * x[i * d + j];
                r->fit_offset += e;
        }
        r->fit_offset = n_train ? r->fit_offset / (double)n_train : 0;
        fitted.logit.fit_offset = r->fit_offset;
        for (i = 0; i < n; i++) {
                ls_logit_score(&fitted, &x[i * d], &sc);
                fit[i] = sc.fit;
                eng[i] = sc.total - sc.fit;
                tot[i] = sc.total;
        }
        err = ls_calib_threshold(tot, y, n_train, cal->conf.target_precision,
                                 cal->conf.target_recall, &r->logit_thr_train);
        if (err)
                goto done;
        if (r->logit_thr_train.found)
                ls_calib_threshold_eval(tot + n_train, y + n_train, n - n_train,
                                        r->logit_thr_train.threshold,
                                        &r->logit_thr_test);
        /* equal shares of the training leads, levels strictly ordered */
        qsort(fit, n_train, sizeof(*fit), ls_calib_cmp_i32);
        qsort(eng, n_train, sizeof(*eng), ls_calib_cmp_i32);
        for (i = 0; i + 1 < ng; i++) {
                size_t k = n_train * (ng - 1 - i) / ng;

                r->grade_min[i] = n_train ? fit[k < n_train ? k : n_train - 1]
                                          : (int32_t)(100 - 10 * (i + 1));
                if (i > 0 && r->grade_min[i] >= r->grade_min[i - 1])
                        r->grade_min[i] = r->grade_min[i - 1] - 1;
        }
        for (i = 1; i < nb; i++) {
                size_t k = n_train * i / nb;

                r->band_min[i] = n_train ? eng[k < n_train ? k : n_train - 1]
                                         : (int32_t)(10 * i);
                if (i > 1 && r->band_min[i] <= r->band_min[i - 1])
                        r->band_min[i] = r->band_min[i - 1] + 1;
        }
        err = LS_OK;
done:
        ls_free(fit);
        ls_free(eng);
        ls_free(tot);
        return err;
}

/* Suggested points of the rules of one axis: log odds scaled so that the
 * strongest eligible rule (min_leads on each side) gets the largest
 * absolute points of the eligible rules. */
static void ls_calib_suggest(ls_calib_rule_t *rules, size_t n,
                             uint32_t min_leads) {
        double max_lor = 0, max_pts = 0, s;
        size_t i;

        for (i = 0; i < n; i++) {
                if (rules[i].with.n < min_leads ||
                    rules[i].without.n < min_leads)
                        continue;
                if (fabs((double)rules[i].points) > max_pts)
                        max_pts = fabs((double)rules[i].points);
                if (fabs(rules[i].log_odds) > max_lor)
                        max_lor = fabs(rules[i].log_odds);
        }
        for (i = 0; i < n; i++) {
                if (rules[i].with.n < min_leads ||
                    rules[i].without.n < min_leads || max_lor == 0)
                        continue;
                s = rules[i].log_odds * max_pts / max_lor;
                rules[i].has_suggested = 1;
                rules[i].suggested = (int32_t)lround(s);
        }
}

static void ls_calib_rule_stat(ls_calib_rule_t *r, uint64_t with_n,
                               uint64_t with_won, uint64_t n, uint64_t won,
                               double base) {
        double a = (double)with_won + 0.5,
               b = (double)(with_n - with_won) + 0.5;
        double c = (double)(won - with_won) + 0.5;
        double d = (double)((n - with_n) - (won - with_won)) + 0.5;

        ls_calib_rate(with_won, with_n, &r->with);
        ls_calib_rate(won - with_won, n - with_n, &r->without);
        /* undefined without leads on a side (the 0.5s would invent one) */
        r->lift = base > 0 && with_n > 0 ? r->with.rate / base : NAN;
        r->log_odds = with_n > 0 && with_n < n ? log((a * d) / (b * c)) : NAN;
}

typedef struct ls_calib_vc_s {
        uint32_t id; /* value id + 1; 0: none */
        uint64_t n, won;
} ls_calib_vc_t;

static int ls_calib_vc_cmp(const void *a, const void *b) {
        const ls_calib_vc_t *x = a, *y = b;

        if (x->n != y->n)
                return x->n > y->n ? -1 : 1;
        return x->id < y->id ? -1 : x->id > y->id;
}

/* Per attribute: the values with the most leads, "(other)", "(none)". */
static ls_err_t ls_calib_values(ls_calib_t *cal, ls_calib_row_t *rows, size_t n,
                                ls_calib_report_t *r) {
        size_t a, i, nv, cap = 0, keep;
        ls_calib_vc_t *vc;

        for (a = 0; a < cal->n_attrs; a++)
                cap += LS_CALIB_MAX_VALUES + 2;
        if (!(r->values = ls_calloc(cap + 1, sizeof(*r->values))))
                return LS_ERR_NOMEM;
        for (a = 0; a < cal->n_attrs; a++) {
                uint64_t other_n = 0, other_won = 0;

                nv = ls_lead_table_count(cal->values[a]) + 1;
                if (!(vc = ls_calloc(nv, sizeof(*vc))))
                        return LS_ERR_NOMEM;
                for (i = 0; i < nv; i++)
                        vc[i].id = (uint32_t)i;
                for (i = 0; i < n; i++) {
                        uint32_t v = ls_calib_value(cal, rows[i].l)[a];

                        vc[v].n++;
                        vc[v].won += rows[i].l->won;
                }
                qsort(vc, nv, sizeof(*vc), ls_calib_vc_cmp);
                keep = 0;
                for (i = 0; i < nv; i++) {
                        ls_calib_value_t *val;

                        if (vc[i].n == 0)
                                continue;
                        if (vc[i].id != 0 && (keep >= LS_CALIB_MAX_VALUES ||
                                              vc[i].n < cal->conf.min_leads)) {
                                other_n += vc[i].n;
                                other_won += vc[i].won;
                                continue;
                        }
                        val = &r->values[r->n_values++];
                        val->attribute = cal->attrs[a];
                        val->value = vc[i].id
                                             ? ls_lead_table_key(cal->values[a],
                                                                 vc[i].id - 1)
                                             : "(none)";
                        ls_calib_rate(vc[i].won, vc[i].n, &val->r);
                        keep += vc[i].id != 0;
                }
                if (other_n) {
                        ls_calib_value_t *val = &r->values[r->n_values++];

                        val->attribute = cal->attrs[a];
                        val->value = "(other)";
                        ls_calib_rate(other_won, other_n, &val->r);
                }
                ls_free(vc);
        }
        return LS_OK;
}

typedef struct ls_calib_pk_s {
        double p;
        size_t i;
} ls_calib_pk_t;

static int ls_calib_pk_desc(const void *a, const void *b) {
        const ls_calib_pk_t *x = a, *y = b;

        if (x->p != y->p)
                return x->p > y->p ? -1 : 1;
        return x->i < y->i ? -1 : x->i > y->i;
}

/* Deciles of the held-out leads by predicted probability, best first. */
static ls_err_t ls_calib_deciles(const double *p, const uint8_t *y, size_t n,
                                 ls_calib_report_t *r) {
        ls_calib_pk_t *pk;
        uint64_t won_all = 0, cum = 0;
        double base;
        size_t i, k, lo, hi;

        if (n == 0)
                return LS_OK;
        if (!(pk = ls_malloc(n * sizeof(*pk))))
                return LS_ERR_NOMEM;
        for (i = 0; i < n; i++) {
                pk[i].p = p[i];
                pk[i].i = i;
                won_all += y[i];
        }
        qsort(pk, n, sizeof(*pk), ls_calib_pk_desc);
        base = (double)won_all / (double)n;
        for (k = 0; k < LS_CALIB_DECILES; k++) {
                ls_calib_decile_t *d = &r->deciles[k];
                double sum = 0;

                lo = k * n / LS_CALIB_DECILES;
                hi = (k + 1) * n / LS_CALIB_DECILES;
                memset(d, 0, sizeof(*d));
                for (i = lo; i < hi; i++) {
                        sum += pk[i].p;
                        d->won += y[pk[i].i];
                }
                d->n = hi - lo;
                cum += d->won;
                if (d->n) {
                        d->p_max = pk[lo].p;
                        d->p_min = pk[hi - 1].p;
                        d->predicted = sum / (double)d->n;
                        d->observed = (double)d->won / (double)d->n;
                }
                d->lift = base > 0 ? d->observed / base : 0;
                d->capture = won_all ? (double)cum / (double)won_all : 0;
        }
        r->n_deciles = LS_CALIB_DECILES;
        ls_free(pk);
        return LS_OK;
}

/* Grid cells of every lead with an outcome, and the grid qualification
 * chosen on the training rows (first @p n_train of @p rows) then held
 * out. */
static ls_err_t ls_calib_grid(ls_calib_t *cal, ls_calib_row_t *rows, size_t n,
                              size_t n_train, ls_calib_report_t *r) {
        const ls_model_t *m = cal->model;
        uint64_t cn[LS_CALIB_MAX_CELLS], cw[LS_CALIB_MAX_CELLS];
        uint8_t *gr, *bd, *y;
        size_t i, g, b;

        r->n_grades = m->n_grades < LS_CALIB_MAX_LEVELS ? m->n_grades
                                                        : LS_CALIB_MAX_LEVELS;
        r->n_bands = m->n_bands < LS_CALIB_MAX_LEVELS ? m->n_bands
                                                      : LS_CALIB_MAX_LEVELS;
        r->n_cells = r->n_grades * r->n_bands;
        gr = ls_malloc(n ? n : 1);
        bd = ls_malloc(n ? n : 1);
        y = ls_malloc(n ? n : 1);
        if (!gr || !bd || !y) {
                ls_free(gr);
                ls_free(bd);
                ls_free(y);
                return LS_ERR_NOMEM;
        }
        memset(cn, 0, sizeof(cn));
        memset(cw, 0, sizeof(cw));
        for (i = 0; i < n; i++) {
                gr[i] = rows[i].l->grade;
                bd[i] = rows[i].l->band;
                y[i] = rows[i].l->won;
                if (gr[i] < r->n_grades && bd[i] < r->n_bands) {
                        cn[gr[i] * r->n_bands + bd[i]]++;
                        cw[gr[i] * r->n_bands + bd[i]] += y[i];
                }
        }
        for (g = 0; g < r->n_grades; g++)
                for (b = 0; b < r->n_bands; b++) {
                        ls_calib_cell_t *c = &r->cells[g * r->n_bands + b];

                        c->grade = (int)g;
                        c->band = (int)b;
                        c->grade_name = m->grades[g].name;
                        c->band_name = m->bands[b].name;
                        snprintf(c->cell, sizeof(c->cell), "%.22s%d",
                                 c->grade_name, (int)b + 1);
                        ls_calib_rate(cw[g * r->n_bands + b],
                                      cn[g * r->n_bands + b], &c->r);
                }
        ls_calib_grid_search(gr, bd, y, n_train, r->n_grades, r->n_bands,
                             cal->conf.target_precision,
                             cal->conf.target_recall, &r->grid_train);
        if (r->grid_train.found)
                ls_calib_grid_eval(gr + n_train, bd + n_train, y + n_train,
                                   n - n_train, r->grid_train.min_grade,
                                   r->grid_train.min_band, &r->grid_test);
        ls_free(gr);
        ls_free(bd);
        ls_free(y);
        return LS_OK;
}

/* The histogram of the totals of @p rows by outcome: bins of a round
 * width (1, 2 or 5 times a power of ten) so that at most 30 cover the
 * range. */
static void ls_calib_hist(const ls_calib_row_t *rows, size_t n,
                          ls_calib_hist_t *h) {
        static const double steps[] = {1, 2, 5};
        int32_t lo = INT32_MAX, hi = INT32_MIN;
        double width = 1, scale = 1, start;
        size_t i, k, bin;

        memset(h, 0, sizeof(*h));
        if (n == 0)
                return;
        for (i = 0; i < n; i++) {
                if (rows[i].l->total < lo)
                        lo = rows[i].l->total;
                if (rows[i].l->total > hi)
                        hi = rows[i].l->total;
        }
        for (k = 0;; k++) {
                width = steps[k % 3] * scale;
                if (k % 3 == 2)
                        scale *= 10;
                start = floor((double)lo / width) * width;
                if (((double)hi - start) / width < 30)
                        break;
        }
        h->lo = start;
        h->width = width;
        h->n_bins = (size_t)(((double)hi - start) / width) + 1;
        for (i = 0; i < n; i++) {
                bin = (size_t)(((double)rows[i].l->total - start) / width);
                if (bin >= h->n_bins)
                        bin = h->n_bins - 1;
                if (rows[i].l->won)
                        h->won[bin]++;
                else
                        h->lost[bin]++;
        }
}

static double ls_calib_sigmoid(double z) {
        return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
}

/* Standardizes, fits on the training rows, evaluates on the test rows. */
static ls_err_t ls_calib_fit(ls_calib_t *cal, ls_calib_row_t *rows, size_t n,
                             size_t n_train, ls_calib_report_t *r, char *errstr,
                             size_t errstr_size) {
        const ls_model_t *m = cal->model;
        size_t d = m->n_fit_rules + m->n_rules + 1, i, j;
        double *x = NULL, *z = NULL, *coef = NULL, *p = NULL, *pts = NULL;
        uint8_t *y = NULL;
        ls_err_t err = LS_ERR_NOMEM;
        char name[300];

        x = ls_malloc((n ? n : 1) * d * sizeof(*x));
        z = ls_malloc((n ? n : 1) * d * sizeof(*z));
        coef = ls_calloc(d + 1, sizeof(*coef));
        p = ls_malloc((n ? n : 1) * sizeof(*p));
        pts = ls_malloc((n ? n : 1) * sizeof(*pts));
        y = ls_malloc(n ? n : 1);
        r->coefs = ls_calloc(d, sizeof(*r->coefs));
        if (!x || !z || !coef || !p || !pts || !y || !r->coefs)
                goto done;
        r->n_coefs = d;
        for (j = 0; j < d; j++) {
                if (j < m->n_fit_rules)
                        snprintf(name, sizeof(name), "fit:%s",
                                 m->fit_rules[j].id);
                else if (j < m->n_fit_rules + m->n_rules)
                        snprintf(name, sizeof(name), "rule:%s",
                                 m->rules[j - m->n_fit_rules].id);
                else
                        snprintf(name, sizeof(name), LS_LOGIT_FRESHNESS);
                if (!(r->coefs[j].feature = ls_strdup(name)))
                        goto done;
        }
        for (i = 0; i < n; i++) {
                ls_calib_features(cal, rows[i].l, &x[i * d]);
                y[i] = rows[i].l->won;
                pts[i] = rows[i].l->total;
        }
        /* means and sample standard deviations of the training part */
        for (j = 0; j < d; j++) {
                double s = 0, ss = 0, mean;

                for (i = 0; i < n_train; i++)
                        s += x[i * d + j];
                mean = n_train ? s / (double)n_train : 0;
                for (i = 0; i < n_train; i++)
                        ss += (x[i * d + j] - mean) * (x[i * d + j] - mean);
                r->coefs[j].mean = mean;
                r->coefs[j].sd =
                        n_train > 1 ? sqrt(ss / (double)(n_train - 1)) : 0;
                r->coefs[j].constant = !(r->coefs[j].sd > 1e-12);
        }
        for (i = 0; i < n; i++)
                for (j = 0; j < d; j++)
                        z[i * d + j] =
                                r->coefs[j].constant
                                        ? 0
                                        : (x[i * d + j] - r->coefs[j].mean) /
                                                  r->coefs[j].sd;
        err = ls_calib_logreg(z, n_train, d, y, cal->conf.c, coef, errstr,
                              errstr_size);
        if (err)
                goto done;
        r->intercept_std = coef[d];
        r->intercept = coef[d];
        for (j = 0; j < d; j++) {
                if (r->coefs[j].constant)
                        continue;
                r->coefs[j].std_coef = coef[j];
                r->coefs[j].coef = coef[j] / r->coefs[j].sd;
                r->intercept -= r->coefs[j].coef * r->coefs[j].mean;
        }
        for (i = 0; i < n; i++) {
                double s = coef[d];

                for (j = 0; j < d; j++)
                        s += coef[j] * z[i * d + j];
                p[i] = ls_calib_sigmoid(s);
        }
        r->auc_train = ls_calib_auc(p, y, n_train);
        r->auc_test = ls_calib_auc(p + n_train, y + n_train, n - n_train);
        r->auc_test_points =
                ls_calib_auc(pts + n_train, y + n_train, n - n_train);

        /* the MQL threshold on totals: chosen on training, then held out */
        err = ls_calib_threshold(pts, y, n_train, cal->conf.target_precision,
                                 cal->conf.target_recall, &r->thr_train);
        if (err)
                goto done;
        if (r->thr_train.found)
                ls_calib_threshold_eval(pts + n_train, y + n_train, n - n_train,
                                        r->thr_train.threshold, &r->thr_test);
        err = ls_calib_deciles(p + n_train, y + n_train, n - n_train, r);
        if (!err)
                err = ls_calib_logistic(cal, r, x, y, n, n_train);
done:
        if (err == LS_ERR_NOMEM)
                ls_seterr(errstr, errstr_size, err, "out of memory");
        ls_free(x);
        ls_free(z);
        ls_free(coef);
        ls_free(p);
        ls_free(pts);
        ls_free(y);
        return err;
}

ls_err_t ls_calib_finish(ls_calib_t *cal, ls_calib_report_t **reportp,
                         char *errstr, size_t errstr_size) {
        const ls_model_t *m = cal->model;
        size_t n_leads = ls_lead_table_count(cal->leads), n = 0, i, j;
        size_t n_train = 0;
        uint64_t won = 0, won_train = 0, *with_n = NULL, *with_won = NULL;
        ls_calib_row_t *rows = NULL;
        ls_calib_report_t *r;
        ls_err_t err = LS_ERR_NOMEM;

        if (!(r = ls_calloc(1, sizeof(*r))))
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "out of memory");
        r->model_id = m->id;
        r->model_version = m->version;
        r->window_ms = cal->conf.window_ms;
        r->buckets = cal->conf.buckets;
        r->auc_train = r->auc_test = r->auc_test_points = NAN;
        rows = ls_malloc((n_leads ? n_leads : 1) * sizeof(*rows));
        if (!rows)
                goto fail;
        for (i = 0; i < n_leads; i++) {
                ls_calib_lead_t *l =
                        ls_lead_table_block(cal->leads, (uint32_t)i);

                if (l->seen)
                        r->leads++;
                if (!l->line) {
                        r->open += l->seen;
                        continue;
                }
                if (!l->seen) {
                        err = ls_seterr(
                                errstr, errstr_size, LS_ERR_INVALID,
                                "%s:%llu: lead_id: '%.256s' appears "
                                "nowhere in the history",
                                cal->outcomes_name, (unsigned long long)l->line,
                                ls_lead_table_key(cal->leads, (uint32_t)i));
                        goto fail;
                }
                rows[n].l = l;
                rows[n].lead = (uint32_t)i;
                n++;
                won += l->won;
        }
        if (n == 0) {
                err = ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                "no outcomes: nothing to calibrate");
                goto fail;
        }
        qsort(rows, n, sizeof(*rows), ls_calib_row_by_time);
        r->split_time = cal->conf.has_split
                                ? cal->conf.split_time
                                : rows[(n * 8) / 10 < n ? (n * 8) / 10 : n - 1]
                                          .l->cutoff;
        for (i = 0; i < n; i++) {
                rows[i].test = rows[i].l->cutoff >= r->split_time;
                if (!rows[i].test) {
                        n_train++;
                        won_train += rows[i].l->won;
                }
        }
        if (n_train == 0) {
                err = ls_seterr(errstr, errstr_size, LS_ERR_UNSUPPORTED,
                                "no outcome before the split (%lld ms): "
                                "nothing to train on",
                                (long long)r->split_time);
                goto fail;
        }
        ls_calib_rate(won, n, &r->base);
        ls_calib_rate(won_train, n_train, &r->train);
        ls_calib_rate(won - won_train, n - n_train, &r->test);

        /* close rates per rule, on every lead with an outcome */
        r->n_rules = m->n_fit_rules + m->n_rules;
        r->rules = ls_calloc(r->n_rules + 1, sizeof(*r->rules));
        with_n = ls_calloc(r->n_rules + 1, sizeof(*with_n));
        with_won = ls_calloc(r->n_rules + 1, sizeof(*with_won));
        if (!r->rules || !with_n || !with_won)
                goto fail;
        for (i = 0; i < n; i++) {
                ls_calib_lead_t *l = rows[i].l;

                for (j = 0; j < m->n_fit_rules; j++)
                        if ((l->fit_bits >> j) & 1) {
                                with_n[j]++;
                                with_won[j] += l->won;
                        }
                for (j = 0; j < m->n_rules; j++)
                        if (ls_calib_ever(cal, l)[j]) {
                                with_n[m->n_fit_rules + j]++;
                                with_won[m->n_fit_rules + j] += l->won;
                        }
        }
        for (j = 0; j < r->n_rules; j++) {
                ls_calib_rule_t *ru = &r->rules[j];
                int fit = j < m->n_fit_rules;

                ru->fit = fit;
                ru->rule_id = fit ? m->fit_rules[j].id
                                  : m->rules[j - m->n_fit_rules].id;
                ru->points = fit ? m->fit_rules[j].points
                                 : m->rules[j - m->n_fit_rules].points;
                ls_calib_rule_stat(ru, with_n[j], with_won[j], n, won,
                                   r->base.rate);
        }
        ls_calib_suggest(r->rules, m->n_fit_rules, cal->conf.min_leads);
        ls_calib_suggest(r->rules + m->n_fit_rules, m->n_rules,
                         cal->conf.min_leads);
        if ((err = ls_calib_values(cal, rows, n, r)) != LS_OK) {
                ls_seterr(errstr, errstr_size, err, "out of memory");
                goto fail;
        }

        r->target = cal->conf.target_precision > 0 ? "precision"
                    : cal->conf.target_recall > 0  ? "recall"
                                                   : "f1";
        r->target_value = cal->conf.target_precision > 0
                                  ? cal->conf.target_precision
                                  : cal->conf.target_recall;
        ls_calib_hist(rows, n, &r->hist);
        /* training rows first: the time order puts them there */
        if ((err = ls_calib_grid(cal, rows, n, n_train, r)) != LS_OK)
                goto fail;
        if ((err = ls_calib_fit(cal, rows, n, n_train, r, errstr,
                                errstr_size)) != LS_OK)
                goto fail;
        ls_free(rows);
        ls_free(with_n);
        ls_free(with_won);
        *reportp = r;
        return LS_OK;
fail:
        if (err == LS_ERR_NOMEM)
                ls_seterr(errstr, errstr_size, err, "out of memory");
        ls_free(rows);
        ls_free(with_n);
        ls_free(with_won);
        ls_calib_report_destroy(r);
        return err;
}

ls_err_t ls_calib_write_model(const ls_calib_t *cal, const ls_calib_report_t *r,
                              FILE *fp, char *errstr, size_t errstr_size) {
        static const struct {
                int64_t ms;
                const char *unit;
        } units[] = {{LS_CALIB_DAY, "d"},
                     {3600000, "h"},
                     {60000, "m"},
                     {1000, "s"},
                     {1, "ms"}};
        ls_logistic_spec_t spec;
        char window[32];
        size_t i;

        if (!r->w_fit || !r->grade_min)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "no fitted model to write");
        for (i = 0; r->window_ms % units[i].ms; i++)
                ;
        snprintf(window, sizeof(window), "%lld%s",
                 (long long)(r->window_ms / units[i].ms), units[i].unit);
        memset(&spec, 0, sizeof(spec));
        spec.logit = cal->probe.logit;
        spec.logit.intercept = r->intercept;
        spec.logit.fit_offset = r->fit_offset;
        spec.logit.w_fit = r->w_fit;
        spec.logit.w_rule = r->w_rule;
        spec.logit.w_fresh = r->w_fresh;
        spec.window = window;
        spec.grade_min = r->grade_min;
        spec.band_min = r->band_min;
        spec.has_mql = r->logit_thr_train.found;
        spec.mql_min_total = (int32_t)ceil(r->logit_thr_train.threshold);
        return ls_modelset_write_logistic(cal->ms, cal->conf.model_idx, &spec,
                                          fp, errstr, errstr_size);
}

void ls_calib_report_destroy(ls_calib_report_t *r) {
        size_t j;

        if (!r)
                return;
        for (j = 0; r->coefs && j < r->n_coefs; j++)
                ls_free(r->coefs[j].feature);
        ls_free(r->w_fit);
        ls_free(r->w_rule);
        ls_free(r->grade_min);
        ls_free(r->band_min);
        ls_free(r->coefs);
        ls_free(r->rules);
        ls_free(r->values);
        ls_free(r);
}
