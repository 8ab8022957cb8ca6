/*
 * ls_logit.h - the features and the probability of a logistic model
 * (docs/MODEL.md "Logistic models", docs/SEMANTICS.md "Logistic models").
 *
 * One lead's feature state under one logistic model is a small block of
 * ls_logit_size() bytes: the occurrences of each engagement rule in the
 * tumbling time buckets of the model's window, up to the bucket of the
 * latest occurrence. The engine keeps one per lead in its state (and in
 * snapshots); `leadscore calibrate` keeps one per lead of the history, fed
 * with the same occurrences, so that the features a model is fitted on are
 * exactly the features it scores live.
 *
 * Pure functions: no clock, no allocation, the same arithmetic in the
 * same order everywhere, so scores are deterministic.
 */
#ifndef LS_LOGIT_H
#define LS_LOGIT_H

#include <stddef.h>
#include <stdint.h>

#include "leadscore/ls_model.h"

/** The head of a lead's feature state; the counts follow it. */
typedef struct ls_logit_hdr_s {
        int64_t head; /* bucket number of the ring's newest bucket, which
                       * is the latest occurrence's; INT64_MIN: none yet */
} ls_logit_hdr_t;

/** @returns the bytes of one lead's state (a multiple of 8). */
size_t ls_logit_size(const ls_model_t *m);

/** Sets @p state (ls_logit_size() bytes) to "no occurrence". */
void ls_logit_init(const ls_model_t *m, void *state);

/** @returns the features of model @p m: its fit rules, its engagement
 *  rules, then freshness. */
static inline size_t ls_logit_n_features(const ls_model_t *m) {
        return m->n_fit_rules + m->n_rules + 1;
}

/** @returns the name of feature @p i (a rule id, or freshness_days). */
const char *ls_logit_feature_name(const ls_model_t *m, size_t i);

/**
 * Counts one occurrence of engagement rule @p rule at @p time. An
 * occurrence older than the window of the newest one counted is not
 * counted (it can no longer be in any later window); a bucket holds at
 * most 255.
 */
void ls_logit_note(const ls_model_t *m, void *state, size_t rule, int64_t time);

/**
 * The feature values as of @p now into @p x (ls_logit_n_features()):
 * 1 or 0 per fit rule (bit i of @p fit_bits), log1p(occurrences within
 * the window ending in now's bucket) per engagement rule, and the
 * freshness: the window's days less the whole buckets since the latest
 * occurrence, 0 when there is none in the window.
 */
void ls_logit_features(const ls_model_t *m, const void *state,
                       uint64_t fit_bits, int64_t now, double *x);

/** The scores of feature values @p x. */
typedef struct ls_logit_score_s {
        double z;           /* intercept + every coefficient x value */
        double probability; /* 1 / (1 + exp(-z)) */
        int32_t total;      /* round(100 x probability) */
        int32_t fit;        /* round(100 x the probability of the intercept,
                             * fit_offset and the fit rules alone) */
} ls_logit_score_t;

void ls_logit_score(const ls_model_t *m, const double *x, ls_logit_score_t *s);

/** @returns the coefficient of feature @p i. */
double ls_logit_coef(const ls_model_t *m, size_t i);

/**
 * @returns the next time after @p now at which the features change with
 * no input (a bucket boundary while an occurrence is in the window), or
 * INT64_MAX.
 */
int64_t ls_logit_next_change(const ls_model_t *m, const void *state,
                             int64_t now);

#endif /* LS_LOGIT_H */
