/*
 * ls_logit.c - a logistic model's features and probability (ls_logit.h):
 * a ring of per-rule occurrence counts by time bucket, read as of a time.
 */
#include "leadscore/ls_logit.h"

#include <math.h>
#include <string.h>

#define LS_LOGIT_DAY_MS 86400000.0

static int64_t ls_logit_floordiv(int64_t a, int64_t b) {
        int64_t q = a / b;

        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static uint8_t *ls_logit_counts(void *state) {
        return (uint8_t *)((ls_logit_hdr_t *)state + 1);
}

size_t ls_logit_size(const ls_model_t *m) {
        size_t n =
                sizeof(ls_logit_hdr_t) + m->n_rules * (size_t)m->logit.buckets;

        return (n + 7) & ~(size_t)7;
}

void ls_logit_init(const ls_model_t *m, void *state) {
        ls_logit_hdr_t *h = state;

        memset(state, 0, ls_logit_size(m));
        h->head = INT64_MIN;
}

const char *ls_logit_feature_name(const ls_model_t *m, size_t i) {
        if (i < m->n_fit_rules)
                return m->fit_rules[i].id;
        i -= m->n_fit_rules;
        return i < m->n_rules ? m->rules[i].id : LS_LOGIT_FRESHNESS;
}

double ls_logit_coef(const ls_model_t *m, size_t i) {
        if (i < m->n_fit_rules)
                return m->logit.w_fit[i];
        i -= m->n_fit_rules;
        return i < m->n_rules ? m->logit.w_rule[i] : m->logit.w_fresh;
}

/* The ring slot of bucket @p k. */
static size_t ls_logit_slot(const ls_model_t *m, int64_t k) {
        int64_t b = (int64_t)m->logit.buckets, r = k % b;

        return (size_t)(r < 0 ? r + b : r);
}

void ls_logit_note(const ls_model_t *m, void *state, size_t rule,
                   int64_t time) {
        ls_logit_hdr_t *h = state;
        uint8_t *c = ls_logit_counts(state);
        uint32_t nb = m->logit.buckets;
        int64_t k = ls_logit_floordiv(time, m->logit.bucket_ms), j;
        size_t r;

        if (h->head == INT64_MIN || k - h->head >= (int64_t)nb) {
                memset(c, 0, m->n_rules * (size_t)nb);
                h->head = k;
        } else if (k > h->head) { /* buckets head+1 .. k start empty */
                for (j = h->head + 1; j <= k; j++)
                        for (r = 0; r < m->n_rules; r++)
                                c[r * nb + ls_logit_slot(m, j)] = 0;
                h->head = k;
        } else if (k <= h->head - (int64_t)nb) {
                return; /* before the ring: outside every later window */
        }
        c += rule * nb + ls_logit_slot(m, k);
        if (*c < UINT8_MAX)
                (*c)++;
}

void ls_logit_features(const ls_model_t *m, const void *state,
                       uint64_t fit_bits, int64_t now, double *x) {
        const ls_logit_hdr_t *h = state;
        const uint8_t *c = (const uint8_t *)(h + 1);
        int64_t nb = (int64_t)m->logit.buckets;
        int64_t k = ls_logit_floordiv(now, m->logit.bucket_ms), lo, hi, j;
        size_t i, d = 0;

        for (i = 0; i < m->n_fit_rules; i++)
                x[d++] = (fit_bits >> i) & 1 ? 1.0 : 0.0;
        /* buckets both in the ring (head - nb, head] and in the window
         * (k - nb, k] */
        lo = h->head == INT64_MIN ? 0 : (h->head > k ? h->head : k) - nb + 1;
        hi = h->head == INT64_MIN ? -1 : (h->head < k ? h->head : k);
        for (i = 0; i < m->n_rules; i++) {
                uint32_t n = 0;

                for (j = lo; j <= hi; j++)
                        n += c[i * (size_t)nb + ls_logit_slot(m, j)];
                x[d++] = log1p((double)n);
        }
        /* freshness: the window's days less the whole buckets since the
         * latest occurrence (now is never before it in the engine; a
         * caller that asks earlier gets the full window) */
        if (h->head == INT64_MIN || k - h->head >= nb)
                x[d] = 0.0;
        else
                x[d] = (double)((nb - (k > h->head ? k - h->head : 0)) *
                                m->logit.bucket_ms) /
                       LS_LOGIT_DAY_MS;
}

/* The loader bounds coefficients and the window, so z is finite; the
 * bound here only keeps a probability defined whatever the input. */
#define LS_LOGIT_Z_MAX 700.0

static double ls_logit_bound(double z) {
        if (!(z > -LS_LOGIT_Z_MAX))
                return -LS_LOGIT_Z_MAX; /* NaN too */
        return z < LS_LOGIT_Z_MAX ? z : LS_LOGIT_Z_MAX;
}

static int32_t ls_logit_pct(double z) {
        return (int32_t)lround(100.0 / (1.0 + exp(-z)));
}

void ls_logit_score(const ls_model_t *m, const double *x, ls_logit_score_t *s) {
        double z = m->logit.intercept, zf;
        size_t i, n = ls_logit_n_features(m);

        for (i = 0; i < m->n_fit_rules; i++)
                z += m->logit.w_fit[i] * x[i];
        zf = z + m->logit.fit_offset;
        for (; i < n; i++)
                z += ls_logit_coef(m, i) * x[i];
        z = ls_logit_bound(z);
        zf = ls_logit_bound(zf);
        s->z = z;
        s->probability = 1.0 / (1.0 + exp(-z));
        s->total = ls_logit_pct(z);
        s->fit = ls_logit_pct(zf);
}

int64_t ls_logit_next_change(const ls_model_t *m, const void *state,
                             int64_t now) {
        const ls_logit_hdr_t *h = state;
        int64_t k = ls_logit_floordiv(now, m->logit.bucket_ms);

        if (h->head == INT64_MIN || k - h->head >= (int64_t)m->logit.buckets ||
            k >= INT64_MAX / m->logit.bucket_ms - 1)
                return INT64_MAX;
        return (k + 1) * m->logit.bucket_ms;
}
