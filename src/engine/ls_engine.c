/*
 * ls_engine.c - the pure scoring engine: rules, caps, decay, grades and
 * bands, the MQL / hot-lead alert state machine, decay timers.
 *
 * Per lead, one state block in the shard's lead table:
 *   ls_lead_hdr_t                 lead clock, dedupe ring
 *   uint64_t dedupe[ms->dedupe]   hashes of recent event ids
 *   per model, at model_off[m]:
 *     ls_lm_t                     scores, decay anchor, alert flags
 *     ls_cap_slot_t caps[n_cap_slots]
 *     int64_t hot_time[track]; int32_t hot_points[track]
 *
 * Invariants: engagement is always in [floor, max]; `engagement` is the
 * value last reported, `base` the value right after the last activity
 * (decay is a function of base and the time since `anchor`); every lead /
 * model with a pending decay step has timer_due set, and the timer heap
 * holds a wake-up for it at or before timer_due (wake_due is the earliest
 * such wake-up, INT64_MAX when none is known). A wake-up that pops before
 * timer_due is re-armed at timer_due, so activity, which moves timer_due
 * later, costs no heap operation; the firing order is still exactly
 * (timer_due, lead, model).
 * Nothing here reads a clock: all time is event time.
 */
#include "leadscore/ls_engine.h"

#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_hash.h"
#include "leadscore/ls_lead_table.h"

/* 9999-12-31T23:59:59.999Z: times past it are invalid input */
#define LS_TIME_MAX 253402300799999LL

#define LS_LM_MQL 0x1
#define LS_LM_HOT_ALERTED 0x2 /* hot_last is valid */

typedef struct ls_lead_hdr_s {
        int64_t clock;        /* latest time applied to this lead */
        int64_t profile_time; /* updated_at of the last profile applied;
                               * INT64_MIN none */
        uint8_t dedupe_pos;
        uint8_t dedupe_n;
        uint8_t pad[6];
} ls_lead_hdr_t;

typedef struct ls_lm_s {
        int64_t anchor;    /* time of the last activity; INT64_MIN none */
        int64_t timer_due; /* next decay step; INT64_MAX none */
        int64_t wake_due;  /* earliest heap wake-up; INT64_MAX none */
        int64_t hot_last;  /* time of the last hot-lead alert */
        uint64_t fit_bits; /* fit rules currently matching */
        int32_t fit;
        int32_t base; /* engagement right after the last activity */
        int32_t engagement;
        uint32_t seq;
        uint32_t decay_n; /* steps / ticks applied since anchor */
        uint8_t grade, band, flags, hot_pos;
} ls_lm_t;

typedef struct ls_cap_slot_s {
        int64_t window;
        int32_t points;
        uint32_t count;
} ls_cap_slot_t;

typedef struct ls_timer_s {
        int64_t due;
        uint32_t lead;
        uint32_t model;
} ls_timer_t;

/*
 * Event types the model set knows (rule types and hot-lead types), in a
 * case-insensitive hash table built once per shard: one lookup per event
 * instead of a binary search and a scan of every model's hot list.
 */
typedef struct ls_etype_s {
        const char *name; /* lowercased, owned by the model set; NULL free */
        int type_idx;     /* into ms->event_types, -1: no rule scores it */
        uint64_t hot;     /* bit m: model m lists it in hot.events */
} ls_etype_t;

struct ls_shard_s {
        const ls_modelset_t *ms;
        ls_etype_t *etypes; /* power-of-two table */
        size_t etypes_mask;
        /* per model: the rules of event type t, in file order, are
         * by_type[m][by_type_start[m][t] .. by_type_start[m][t + 1]) */
        uint32_t **by_type_start;
        uint32_t **by_type;
        ls_lead_table_t *leads;
        size_t block_size;
        size_t *model_off; /* offset of each model's part in a block */
        size_t *hot_off;   /* offset of hot ring inside the model part */
        int64_t stream_time;
        ls_timer_t *heap;
        size_t n_heap, size_heap;
        size_t live_timers;
        size_t max_leads; /* 0: no cap (ls_shard_set_max_leads) */
        uint64_t *scored; /* per model: leads with an output (seq > 0) */
        ls_shard_stats_t stats;
};

/*
 * Output buffer and naming helpers
 */

void ls_outbuf_init(ls_outbuf_t *ob) {
        memset(ob, 0, sizeof(*ob));
}

void ls_outbuf_reset(ls_outbuf_t *ob) {
        ob->n_outs = 0;
        ob->n_reasons = 0;
}

void ls_outbuf_free(ls_outbuf_t *ob) {
        ls_free(ob->outs);
        ls_free(ob->reasons);
        ls_outbuf_init(ob);
}

static ls_output_t *ls_outbuf_add(ls_outbuf_t *ob) {
        if (ob->n_outs == ob->size_outs) {
                size_t n = ob->size_outs ? ob->size_outs * 2 : 16;
                ls_output_t *o = ls_realloc(ob->outs, n * sizeof(*o));

                if (!o)
                        return NULL;
                ob->outs = o;
                ob->size_outs = n;
        }
        memset(&ob->outs[ob->n_outs], 0, sizeof(ob->outs[0]));
        return &ob->outs[ob->n_outs++];
}

static ls_reason_t *ls_outbuf_add_reason(ls_outbuf_t *ob) {
        if (ob->n_reasons == ob->size_reasons) {
                size_t n = ob->size_reasons ? ob->size_reasons * 2 : 32;
                ls_reason_t *r = ls_realloc(ob->reasons, n * sizeof(*r));

                if (!r)
                        return NULL;
                ob->reasons = r;
                ob->size_reasons = n;
        }
        return &ob->reasons[ob->n_reasons++];
}

int ls_output_id(const ls_output_t *o, char *buf, size_t size) {
        if (o->kind == LS_OUT_ALERT)
                return snprintf(buf, size, "%s/%s/%llu/%s", o->lead_id,
                                o->model->id, (unsigned long long)o->seq,
                                ls_alert_kind2str(o->alert));
        return snprintf(buf, size, "%s/%s/%llu", o->lead_id, o->model->id,
                        (unsigned long long)o->seq);
}

const char *ls_output_kind2str(ls_output_kind_t kind) {
        return kind == LS_OUT_ALERT ? "alert" : "score_update";
}

const char *ls_alert_kind2str(ls_alert_kind_t kind) {
        switch (kind) {
        case LS_ALERT_MQL:
                return "mql";
        case LS_ALERT_MQL_LOST:
                return "mql_lost";
        case LS_ALERT_HOT_LEAD:
                return "hot_lead";
        default:
                return "none";
        }
}

const char *ls_reason_kind2str(ls_reason_kind_t kind) {
        switch (kind) {
        case LS_REASON_RULE:
                return "rule";
        case LS_REASON_FIT:
                return "fit";
        case LS_REASON_DECAY:
                return "decay";
        }
        return "unknown";
}

const char *ls_cause2str(ls_cause_t cause) {
        switch (cause) {
        case LS_CAUSE_PROFILE:
                return "profile";
        case LS_CAUSE_DECAY:
                return "decay";
        default:
                return "event";
        }
}

/*
 * Shard layout
 */

static size_t ls_align8(size_t n) {
        return (n + 7) & ~(size_t)7;
}

/* The hot ring is needed only for the points-within-window condition. */
static uint32_t ls_hot_ring_len(const ls_model_t *m) {
        return m->hot.enabled && m->hot.points > 0 ? m->hot.track : 0;
}

/* @returns the slot of `name` in the table, or of the free slot for it. */
static ls_etype_t *ls_etype_slot(const ls_shard_t *sh, const char *name) {
        size_t i = (size_t)ls_hash64_ci(name) & sh->etypes_mask;

        while (sh->etypes[i].name && strcasecmp(sh->etypes[i].name, name))
                i = (i + 1) & sh->etypes_mask;
        return &sh->etypes[i];
}

static int ls_etypes_build(ls_shard_t *sh) {
        const ls_modelset_t *ms = sh->ms;
        size_t n = ms->n_event_types, size = 16, i, m;

        for (m = 0; m < ms->n_models; m++)
                n += ms->models[m].hot.n_events;
        while (size < 2 * n)
                size *= 2;
        sh->etypes = ls_calloc(size, sizeof(*sh->etypes));
        if (!sh->etypes)
                return -1;
        sh->etypes_mask = size - 1;
        for (i = 0; i < ms->n_event_types; i++) {
                ls_etype_t *e = ls_etype_slot(sh, ms->event_types[i]);

                e->name = ms->event_types[i];
                e->type_idx = (int)i;
        }
        for (m = 0; m < ms->n_models; m++) {
                for (i = 0; i < ms->models[m].hot.n_events; i++) {
                        const char *name = ms->models[m].hot.events[i];
                        ls_etype_t *e = ls_etype_slot(sh, name);

                        if (!e->name) {
                                e->name = name;
                                e->type_idx = -1;
                        }
                        if (m < 64)
                                e->hot |= (uint64_t)1 << m;
                }
        }
        return 0;
}

static int ls_by_type_build(ls_shard_t *sh) {
        const ls_modelset_t *ms = sh->ms;
        size_t m, t, i, k;

        sh->by_type_start = ls_calloc(ms->n_models, sizeof(uint32_t *));
        sh->by_type = ls_calloc(ms->n_models, sizeof(uint32_t *));
        if (!sh->by_type_start || !sh->by_type)
                return -1;
        for (m = 0; m < ms->n_models; m++) {
                const ls_model_t *model = &ms->models[m];
                uint32_t *start =
                        ls_calloc(ms->n_event_types + 1, sizeof(*start));
                uint32_t *idx = ls_calloc(model->n_rules, sizeof(*idx));

                sh->by_type_start[m] = start;
                sh->by_type[m] = idx;
                if (!start || !idx)
                        return -1;
                for (t = 0, k = 0; t < ms->n_event_types; t++) {
                        start[t] = (uint32_t)k;
                        for (i = 0; i < model->n_rules; i++)
                                if (model->rules[i].type_idx == t)
                                        idx[k++] = (uint32_t)i;
                }
                start[ms->n_event_types] = (uint32_t)k;
        }
        return 0;
}

static size_t ls_model_part_size(const ls_model_t *m, size_t *hot_offp) {
        size_t size = sizeof(ls_lm_t) + m->n_cap_slots * sizeof(ls_cap_slot_t);
        size_t track = ls_hot_ring_len(m);

        *hot_offp = size;
        size += track * sizeof(int64_t) + track * sizeof(int32_t);
        return ls_align8(size);
}

ls_shard_t *ls_shard_new(const ls_modelset_t *ms) {
        ls_shard_t *sh = ls_calloc(1, sizeof(*sh));
        size_t off, m;

        if (!sh)
                return NULL;
        sh->ms = ms;
        sh->stream_time = INT64_MIN;
        sh->model_off = ls_calloc(ms->n_models, sizeof(*sh->model_off));
        sh->scored =
                ls_calloc(ms->n_models ? ms->n_models : 1, sizeof(*sh->scored));
        sh->hot_off = ls_calloc(ms->n_models, sizeof(*sh->hot_off));
        if (!sh->model_off || !sh->hot_off || !sh->scored)
                goto fail;
        off = ls_align8(sizeof(ls_lead_hdr_t) + ms->dedupe * sizeof(uint64_t));
        for (m = 0; m < ms->n_models; m++) {
                sh->model_off[m] = off;
                off += ls_model_part_size(&ms->models[m], &sh->hot_off[m]);
        }
        sh->block_size = off;
        sh->leads = ls_lead_table_new(sh->block_size);
        if (!sh->leads || ls_etypes_build(sh) != 0 || ls_by_type_build(sh) != 0)
                goto fail;
        return sh;
fail:
        ls_shard_destroy(sh);
        return NULL;
}

void ls_shard_destroy(ls_shard_t *sh) {
        if (!sh)
                return;
        ls_lead_table_destroy(sh->leads);
        ls_free(sh->etypes);
        for (size_t m = 0;
             sh->by_type && sh->by_type_start && m < sh->ms->n_models; m++) {
                ls_free(sh->by_type_start[m]);
                ls_free(sh->by_type[m]);
        }
        ls_free(sh->by_type_start);
        ls_free(sh->by_type);
        ls_free(sh->model_off);
        ls_free(sh->scored);
        ls_free(sh->hot_off);
        ls_free(sh->heap);
        ls_free(sh);
}

/** Copies string @p src (NULL stays NULL) to *@p at, moving it on. */
static const char *ls_dup_str(const char *src, char **at) {
        size_t n;
        char *dst = *at;

        if (!src)
                return NULL;
        n = strlen(src) + 1;
        memcpy(dst, src, n);
        *at += n;
        return dst;
}

static size_t ls_dup_len(const char *s) {
        return s ? strlen(s) + 1 : 0;
}

ls_input_t *ls_input_dup(const ls_input_t *in) {
        size_t size = sizeof(*in) + in->n_fields * sizeof(ls_kv_t), i;
        ls_input_t *out;
        ls_kv_t *kv;
        char *at;

        size += ls_dup_len(in->lead_id) + ls_dup_len(in->event_id) +
                ls_dup_len(in->event_type) + ls_dup_len(in->product);
        for (i = 0; i < in->n_fields; i++)
                size += ls_dup_len(in->fields[i].key) +
                        ls_dup_len(in->fields[i].value);
        if (!(out = ls_malloc(size)))
                return NULL;
        *out = *in;
        kv = (ls_kv_t *)(out + 1);
        at = (char *)(kv + in->n_fields);
        out->lead_id = ls_dup_str(in->lead_id, &at);
        out->event_id = ls_dup_str(in->event_id, &at);
        out->event_type = ls_dup_str(in->event_type, &at);
        out->product = ls_dup_str(in->product, &at);
        for (i = 0; i < in->n_fields; i++) {
                kv[i].key = ls_dup_str(in->fields[i].key, &at);
                kv[i].value = ls_dup_str(in->fields[i].value, &at);
        }
        out->fields = in->n_fields ? kv : NULL;
        return out;
}

void ls_shard_set_max_leads(ls_shard_t *sh, size_t max) {
        sh->max_leads = max;
}

size_t ls_lead_bytes_estimate(const ls_modelset_t *ms) {
        ls_shard_t *sh = ls_shard_new(ms);
        size_t block = sh ? sh->block_size : 1024;

        ls_shard_destroy(sh);
        /* the block, a 64-byte key, an index entry and a decay timer per
         * model, doubled for the table's and the allocator's slack */
        return 2 * (block + 64 + 16 + ms->n_models * sizeof(ls_timer_t));
}

/**
 * 1 when @p sh's lead cap is full and it does not hold @p in's lead (an
 * input that creates a lead, ls_shard_apply() decides).
 */
static int ls_cap_refuses(const ls_shard_t *sh, const ls_input_t *in) {
        if (sh->max_leads == 0 ||
            ls_lead_table_count(sh->leads) < sh->max_leads)
                return 0;
        return ls_lead_table_get(sh->leads, in->lead_id, strlen(in->lead_id), 0,
                                 NULL) < 0;
}

int ls_input_future(const ls_modelset_t *ms, const ls_input_t *in) {
        return in->record_time > 0 &&
               in->time - in->record_time > ms->max_future_ms;
}

const ls_modelset_t *ls_shard_modelset(const ls_shard_t *sh) {
        return sh->ms;
}

int64_t ls_shard_stream_time(const ls_shard_t *sh) {
        return sh->stream_time;
}

static ls_lead_hdr_t *ls_hdr(const ls_shard_t *sh, uint32_t lead) {
        return ls_lead_table_block(sh->leads, lead);
}

static uint64_t *ls_dedupe_ring(ls_lead_hdr_t *hdr) {
        return (uint64_t *)(hdr + 1);
}

static ls_lm_t *ls_lm(const ls_shard_t *sh, uint32_t lead, size_t m) {
        return (ls_lm_t *)((unsigned char *)ls_lead_table_block(sh->leads,
                                                                lead) +
                           sh->model_off[m]);
}

static ls_cap_slot_t *ls_cap_slots(ls_lm_t *lm) {
        return (ls_cap_slot_t *)(lm + 1);
}

static int64_t *ls_hot_times(const ls_shard_t *sh, ls_lm_t *lm, size_t m) {
        return (int64_t *)((unsigned char *)lm + sh->hot_off[m]);
}

static int32_t *ls_hot_points(const ls_shard_t *sh, ls_lm_t *lm, size_t m) {
        return (int32_t *)(ls_hot_times(sh, lm, m) +
                           ls_hot_ring_len(&sh->ms->models[m]));
}

/*
 * Arithmetic helpers
 */

static int32_t ls_sat32(int64_t v) {
        if (v > INT32_MAX)
                return INT32_MAX;
        if (v < INT32_MIN)
                return INT32_MIN;
        return (int32_t)v;
}

static int32_t ls_clamp_engagement(const ls_model_t *m, int64_t v) {
        if (m->has_engagement_max && v > m->engagement_max)
                v = m->engagement_max;
        if (v < m->engagement_floor)
                v = m->engagement_floor;
        return ls_sat32(v);
}

static int32_t ls_clamp_fit(const ls_model_t *m, int64_t v) {
        if (m->has_fit_max && v > m->fit_max)
                v = m->fit_max;
        if (m->has_fit_min && v < m->fit_min)
                v = m->fit_min;
        return ls_sat32(v);
}

static int64_t ls_floordiv(int64_t a, int64_t b) {
        int64_t q = a / b;

        if ((a % b != 0) && ((a < 0) != (b < 0)))
                q--;
        return q;
}

static int ls_grade_of(const ls_model_t *m, int32_t fit) {
        size_t i;

        for (i = 0; i < m->n_grades; i++)
                if (!m->grades[i].has_min || fit >= m->grades[i].min)
                        return (int)i;
        return (int)m->n_grades - 1;
}

static int ls_band_of(const ls_model_t *m, int32_t engagement) {
        size_t i;

        for (i = m->n_bands; i-- > 0;)
                if (!m->bands[i].has_min || engagement >= m->bands[i].min)
                        return (int)i;
        return 0;
}

static int ls_qualifies(const ls_qualify_t *q, int32_t total, int grade,
                        int band) {
        if (q->has_min_total && total < q->min_total)
                return 0;
        if (q->min_grade >= 0 && grade > q->min_grade)
                return 0;
        if (q->min_band >= 0 && band < q->min_band)
                return 0;
        return 1;
}

/*
 * Decay: engagement as a function of (base, anchor, n applied steps).
 */

/* @returns the engagement after n decay steps/ticks from base. */
static int32_t ls_decay_value(const ls_model_t *m, int32_t base, uint32_t n) {
        const ls_decay_t *d = &m->decay;
        int64_t v = base;

        if (n == 0 || d->kind == LS_DECAY_NONE)
                return base;
        if (d->kind == LS_DECAY_STEPS) {
                uint32_t i;

                for (i = 0; i < n && i < d->n_steps; i++)
                        v += d->steps[i].points;
        } else {
                double f = n < d->n_factors
                                   ? d->factors[n]
                                   : pow(0.5, (double)n * (double)d->tick_ms /
                                                      (double)d->half_life_ms);

                v = (int64_t)llround((double)base * f);
        }
        if (v > base)
                v = base;
        return ls_clamp_engagement(m, v);
}

/* @returns how many decay steps/ticks are due at time now. */
static uint32_t ls_decay_due_n(const ls_model_t *m, int64_t anchor,
                               int64_t now) {
        const ls_decay_t *d = &m->decay;
        int64_t elapsed;
        uint32_t n = 0;

        if (d->kind == LS_DECAY_NONE || anchor == INT64_MIN || now <= anchor)
                return 0;
        elapsed = now - anchor;
        if (d->kind == LS_DECAY_STEPS) {
                while (n < d->n_steps && d->steps[n].after_ms <= elapsed)
                        n++;
                return n;
        }
        if (elapsed / d->tick_ms > (int64_t)UINT32_MAX)
                return UINT32_MAX;
        return (uint32_t)(elapsed / d->tick_ms);
}

/*
 * @returns the time of the next decay step after n applied that changes
 *          the engagement, or INT64_MAX when none will.
 */
static int64_t ls_decay_next_due(const ls_model_t *m, const ls_lm_t *lm) {
        const ls_decay_t *d = &m->decay;
        int32_t cur;
        uint32_t n;

        if (d->kind == LS_DECAY_NONE || lm->anchor == INT64_MIN ||
            lm->engagement <= m->engagement_floor)
                return INT64_MAX;
        cur = ls_decay_value(m, lm->base, lm->decay_n);
        if (d->kind == LS_DECAY_STEPS) {
                for (n = lm->decay_n; n < d->n_steps; n++)
                        if (ls_decay_value(m, lm->base, n + 1) != cur)
                                return d->steps[n].after_ms >
                                                       INT64_MAX - lm->anchor
                                               ? INT64_MAX
                                               : lm->anchor +
                                                         d->steps[n].after_ms;
                return INT64_MAX;
        }
        /* half-life: values only fall towards 0 (a value <= 0 stays), and
         * round(base * f(n)) leaves cur once base * f(n) < cur - 0.5, i.e.
         * n > (half_life / tick) * log2(base / (cur - 0.5)); computed in
         * closed form, then corrected by a step or two for rounding */
        if (lm->base <= 0 || cur <= 0)
                return INT64_MAX;
        {
                double x = (double)d->half_life_ms / (double)d->tick_ms *
                           log2((double)lm->base / ((double)cur - 0.5));
                uint64_t guess = x < 0     ? 0
                                 : x > 4e9 ? 4000000000u
                                           : (uint64_t)x + 1;

                n = guess <= lm->decay_n ? lm->decay_n + 1 : (uint32_t)guess;
                while (n > lm->decay_n + 1 &&
                       ls_decay_value(m, lm->base, n - 1) != cur)
                        n--;
                for (int extra = 0; ls_decay_value(m, lm->base, n) == cur;
                     extra++) {
                        if (extra == 64 || n == UINT32_MAX)
                                return INT64_MAX; /* cannot move (clamped) */
                        n++;
                }
                if ((INT64_MAX - lm->anchor) / d->tick_ms < (int64_t)n)
                        return INT64_MAX;
                return lm->anchor + (int64_t)n * d->tick_ms;
        }
}

/*
 * Timer heap, ordered by (due, lead, model): deterministic firing order.
 */

static int ls_timer_less(const ls_timer_t *a, const ls_timer_t *b) {
        if (a->due != b->due)
                return a->due < b->due;
        if (a->lead != b->lead)
                return a->lead < b->lead;
        return a->model < b->model;
}

static void ls_heap_sift_up(ls_timer_t *h, size_t i) {
        while (i > 0) {
                size_t p = (i - 1) / 2;
                ls_timer_t t;

                if (!ls_timer_less(&h[i], &h[p]))
                        break;
                t = h[i];
                h[i] = h[p];
                h[p] = t;
                i = p;
        }
}

static void ls_heap_sift_down(ls_timer_t *h, size_t n, size_t i) {
        for (;;) {
                size_t l = 2 * i + 1, r = l + 1, s = i;
                ls_timer_t t;

                if (l < n && ls_timer_less(&h[l], &h[s]))
                        s = l;
                if (r < n && ls_timer_less(&h[r], &h[s]))
                        s = r;
                if (s == i)
                        break;
                t = h[i];
                h[i] = h[s];
                h[s] = t;
                i = s;
        }
}

static ls_err_t ls_heap_push(ls_shard_t *sh, int64_t due, uint32_t lead,
                             uint32_t model) {
        if (sh->n_heap == sh->size_heap) {
                size_t n = sh->size_heap ? sh->size_heap * 2 : 1024;
                ls_timer_t *h = ls_realloc(sh->heap, n * sizeof(*h));

                if (!h)
                        return LS_ERR_NOMEM;
                sh->heap = h;
                sh->size_heap = n;
        }
        sh->heap[sh->n_heap].due = due;
        sh->heap[sh->n_heap].lead = lead;
        sh->heap[sh->n_heap].model = model;
        ls_heap_sift_up(sh->heap, sh->n_heap);
        sh->n_heap++;
        return LS_OK;
}

static ls_timer_t ls_heap_pop(ls_shard_t *sh) {
        ls_timer_t top = sh->heap[0];

        sh->heap[0] = sh->heap[--sh->n_heap];
        ls_heap_sift_down(sh->heap, sh->n_heap, 0);
        return top;
}

/*
 * Rebuilds the heap with exactly one wake-up per pending timer, at its due
 * time: after a restore, and when superseded wake-ups dominate the heap.
 */
static ls_err_t ls_heap_rebuild(ls_shard_t *sh) {
        size_t i, n = ls_lead_table_count(sh->leads), m;
        ls_err_t err;

        sh->n_heap = 0;
        sh->live_timers = 0;
        memset(sh->scored, 0, sh->ms->n_models * sizeof(*sh->scored));
        for (i = 0; i < n; i++) {
                for (m = 0; m < sh->ms->n_models; m++) {
                        ls_lm_t *lm = ls_lm(sh, (uint32_t)i, m);

                        if (lm->seq > 0)
                                sh->scored[m]++;
                        lm->wake_due = INT64_MAX;
                        if (lm->timer_due == INT64_MAX)
                                continue;
                        sh->live_timers++;
                        lm->wake_due = lm->timer_due;
                        err = ls_heap_push(sh, lm->timer_due, (uint32_t)i,
                                           (uint32_t)m);
                        if (err)
                                return err;
                }
        }
        return LS_OK;
}

/* Makes sure a wake-up at or before lm->timer_due is in the heap. */
static ls_err_t ls_arm(ls_shard_t *sh, uint32_t lead, uint32_t m, ls_lm_t *lm) {
        if (lm->timer_due == INT64_MAX || lm->wake_due <= lm->timer_due)
                return LS_OK;
        lm->wake_due = lm->timer_due;
        return ls_heap_push(sh, lm->timer_due, lead, m);
}

static ls_err_t ls_schedule(ls_shard_t *sh, uint32_t lead, uint32_t m,
                            ls_lm_t *lm) {
        int64_t due = ls_decay_next_due(&sh->ms->models[m], lm);

        if (due == lm->timer_due)
                return LS_OK;
        if (lm->timer_due != INT64_MAX)
                sh->live_timers--;
        lm->timer_due = due;
        if (due == INT64_MAX)
                return LS_OK;
        sh->live_timers++;
        if (sh->n_heap > 4096 && sh->n_heap > 2 * sh->live_timers)
                return ls_heap_rebuild(sh);
        return ls_arm(sh, lead, m, lm);
}

/*
 * Emitting outputs
 */

typedef struct ls_change_s {
        ls_cause_t cause;
        const char *cause_id;
        int64_t time;
        uint32_t reasons_off; /* first reason of this change in ob */
} ls_change_t;

/* Writes grade name + band number (1..8); cut to fit, never overflows. */
static void ls_cell_format(char *cell, size_t size, const char *grade,
                           int band) {
        size_t n = strlen(grade);

        if (n > size - 2)
                n = size - 2;
        memcpy(cell, grade, n);
        cell[n] = (char)('0' + band);
        cell[n + 1] = '\0';
}

static ls_err_t ls_emit(ls_shard_t *sh, uint32_t lead, size_t m, ls_lm_t *lm,
                        const ls_change_t *ch, ls_outbuf_t *ob,
                        ls_output_kind_t kind, ls_alert_kind_t alert,
                        int32_t prev_total) {
        const ls_model_t *model = &sh->ms->models[m];
        ls_output_t *o = ls_outbuf_add(ob);

        if (!o)
                return LS_ERR_NOMEM;
        o->kind = kind;
        o->alert = alert;
        o->lead_id = ls_lead_table_key(sh->leads, lead);
        o->model = model;
        if (lm->seq == 0)
                sh->scored[m]++;
        o->seq = ++lm->seq;
        o->time = ch->time;
        o->cause = ch->cause;
        o->cause_id = ch->cause_id;
        o->fit = lm->fit;
        o->engagement = lm->engagement;
        o->total = ls_sat32((int64_t)lm->fit + lm->engagement);
        o->prev_total = prev_total;
        o->grade = lm->grade;
        o->band = lm->band;
        ls_cell_format(o->cell, sizeof(o->cell), model->grades[lm->grade].name,
                       lm->band + 1);
        o->mql = !!(lm->flags & LS_LM_MQL);
        o->reasons_off = ch->reasons_off;
        o->n_reasons = (uint32_t)(ob->n_reasons - ch->reasons_off);
        sh->stats.outputs++;
        return LS_OK;
}

/*
 * After fit / engagement moved: recompute grade and band, emit a score
 * update if anything visible changed, then the MQL transitions.
 */
static ls_err_t ls_settle(ls_shard_t *sh, uint32_t lead, size_t m, ls_lm_t *lm,
                          int32_t prev_fit, int32_t prev_eng,
                          const ls_change_t *ch, ls_outbuf_t *ob) {
        const ls_model_t *model = &sh->ms->models[m];
        int prev_grade = lm->grade, prev_band = lm->band;
        int32_t prev_total = ls_sat32((int64_t)prev_fit + prev_eng);
        ls_alert_kind_t alert = LS_ALERT_NONE;
        int32_t total;
        ls_err_t err;

        lm->grade = (uint8_t)ls_grade_of(model, lm->fit);
        lm->band = (uint8_t)ls_band_of(model, lm->engagement);
        total = ls_sat32((int64_t)lm->fit + lm->engagement);
        /* the MQL transition first, so the update carries the new status */
        if (model->mql.enabled) {
                if (!(lm->flags & LS_LM_MQL) &&
                    ls_qualifies(&model->mql.enter, total, lm->grade,
                                 lm->band)) {
                        lm->flags |= LS_LM_MQL;
                        alert = LS_ALERT_MQL;
                } else if ((lm->flags & LS_LM_MQL) &&
                           !ls_qualifies(&model->mql.stay, total, lm->grade,
                                         lm->band)) {
                        lm->flags &= (uint8_t)~LS_LM_MQL;
                        alert = LS_ALERT_MQL_LOST;
                }
        }
        if (lm->fit != prev_fit || lm->engagement != prev_eng ||
            lm->grade != prev_grade || lm->band != prev_band) {
                err = ls_emit(sh, lead, m, lm, ch, ob, LS_OUT_SCORE_UPDATE,
                              LS_ALERT_NONE, prev_total);
                if (err)
                        return err;
        }
        if (alert != LS_ALERT_NONE)
                return ls_emit(sh, lead, m, lm, ch, ob, LS_OUT_ALERT, alert,
                               prev_total);
        return LS_OK;
}

/* Brings decay up to `now`; appends a decay reason if points were taken. */
static ls_err_t ls_catch_up_decay(const ls_model_t *model, ls_lm_t *lm,
                                  int64_t now, ls_outbuf_t *ob) {
        uint32_t n = ls_decay_due_n(model, lm->anchor, now);
        int32_t v;
        ls_reason_t *r;

        if (n <= lm->decay_n)
                return LS_OK;
        lm->decay_n = n;
        v = ls_decay_value(model, lm->base, n);
        if (v == lm->engagement)
                return LS_OK;
        r = ls_outbuf_add_reason(ob);
        if (!r)
                return LS_ERR_NOMEM;
        r->kind = LS_REASON_DECAY;
        r->rule_id = "decay";
        r->points = v - lm->engagement;
        r->capped = 0;
        lm->engagement = v;
        return LS_OK;
}

/* Fires one due timer. */
static ls_err_t ls_fire_timer(ls_shard_t *sh, const ls_timer_t *t,
                              ls_outbuf_t *ob) {
        const ls_model_t *model = &sh->ms->models[t->model];
        ls_lm_t *lm = ls_lm(sh, t->lead, t->model);
        ls_lead_hdr_t *hdr = ls_hdr(sh, t->lead);
        int32_t prev_eng = lm->engagement;
        ls_change_t ch = {LS_CAUSE_DECAY, NULL, t->due,
                          (uint32_t)ob->n_reasons};
        ls_err_t err;

        lm->timer_due = INT64_MAX;
        sh->live_timers--;
        if (hdr->clock < t->due)
                hdr->clock = t->due;
        err = ls_catch_up_decay(model, lm, t->due, ob);
        if (!err)
                err = ls_settle(sh, t->lead, t->model, lm, lm->fit, prev_eng,
                                &ch, ob);
        if (!err)
                err = ls_schedule(sh, t->lead, t->model, lm);
        return err;
}

ls_err_t ls_shard_advance(ls_shard_t *sh, int64_t time, ls_outbuf_t *ob) {
        ls_err_t err;

        if (time > sh->stream_time)
                sh->stream_time = time;
        while (sh->n_heap > 0 && sh->heap[0].due <= sh->stream_time) {
                ls_timer_t t = ls_heap_pop(sh);
                ls_lm_t *lm = ls_lm(sh, t.lead, t.model);

                if (lm->wake_due == t.due)
                        lm->wake_due = INT64_MAX;
                if (lm->timer_due == t.due)
                        err = ls_fire_timer(sh, &t, ob);
                else /* superseded: re-arm at the current due time */
                        err = ls_arm(sh, t.lead, t.model, lm);
                if (err)
                        return err;
        }
        return LS_OK;
}

/*
 * Inputs
 */

static const char *ls_field(const ls_input_t *in, const char *name) {
        size_t i;

        for (i = in->n_fields; i-- > 0;) /* last one wins */
                if (in->fields[i].key && strcmp(in->fields[i].key, name) == 0)
                        return in->fields[i].value;
        if (strcmp(name, "event_type") == 0)
                return in->event_type;
        if (strcmp(name, "product") == 0)
                return in->product;
        return NULL;
}

static int ls_conds_all(const ls_modelset_t *ms, const ls_cond_t *c, size_t n,
                        const ls_input_t *in) {
        size_t i;

        for (i = 0; i < n; i++)
                if (!ls_cond_match(ms, &c[i], ls_field(in, c[i].field)))
                        return 0;
        return 1;
}

static int ls_conds_any(const ls_modelset_t *ms, const ls_cond_t *c, size_t n,
                        const ls_input_t *in) {
        size_t i;

        for (i = 0; i < n; i++)
                if (ls_cond_match(ms, &c[i], ls_field(in, c[i].field)))
                        return 1;
        return 0;
}

/*
 * Applies a cap to `want` positive points at time t.
 * @returns the points allowed; records the use in the slot.
 */
/*
 * How many of `want` positive points a cap still allows at time t (the
 * counter moves to t's window first). Nothing is recorded: the award is
 * final only after every limit has had its say (ls_cap_commit).
 */
static int32_t ls_cap_room(const ls_cap_t *cap, ls_cap_slot_t *slot, int64_t t,
                           int32_t want) {
        int64_t w = cap->per_ms ? ls_floordiv(t, cap->per_ms) : 0;
        int32_t allowed = want;

        if (w > slot->window) {
                slot->window = w;
                slot->points = 0;
                slot->count = 0;
        }
        if (cap->max_count && slot->count >= cap->max_count)
                return 0;
        if (cap->max_points) {
                int32_t left = cap->max_points - slot->points;

                if (left < 0)
                        left = 0;
                if (allowed > left)
                        allowed = left;
        }
        return allowed;
}

/* Records an occurrence that was awarded `points` (> 0). */
static void ls_cap_commit(ls_cap_slot_t *slot, int32_t points) {
        if (slot->count < UINT32_MAX)
                slot->count++;
        slot->points = ls_sat32((int64_t)slot->points + points);
}

static int ls_hot_event(const ls_model_t *model, const char *event_type) {
        size_t i;

        for (i = 0; i < model->hot.n_events; i++)
                if (strcasecmp(model->hot.events[i], event_type) == 0)
                        return 1;
        return 0;
}

/* Scores one event under one model. */
static ls_err_t ls_apply_event_model(ls_shard_t *sh, uint32_t lead, size_t m,
                                     const ls_input_t *in, int type_idx,
                                     int hot_listed, int64_t now,
                                     ls_outbuf_t *ob) {
        const ls_modelset_t *ms = sh->ms;
        const ls_model_t *model = &ms->models[m];
        ls_lm_t *lm = ls_lm(sh, lead, m);
        ls_cap_slot_t *slots = ls_cap_slots(lm);
        int32_t prev_eng = lm->engagement;
        int64_t eng, gained = 0;
        int fired = 0, hot = 0;
        ls_change_t ch = {LS_CAUSE_EVENT, in->event_id, now,
                          (uint32_t)ob->n_reasons};
        ls_err_t err;
        size_t i;

        err = ls_catch_up_decay(model, lm, now, ob);
        if (err)
                return err;
        eng = lm->engagement;
        for (i = type_idx >= 0 ? sh->by_type_start[m][type_idx] : 0;
             type_idx >= 0 && i < sh->by_type_start[m][type_idx + 1]; i++) {
                const ls_rule_t *rule = &model->rules[sh->by_type[m][i]];
                int32_t award = rule->points;
                ls_reason_t *r;

                if (!ls_conds_all(ms, rule->when, rule->n_when, in) ||
                    ls_conds_any(ms, rule->unless, rule->n_unless, in))
                        continue;
                fired = 1;
                if (award > 0) {
                        const ls_cap_t *cc =
                                rule->category >= 0 && model->categories
                                                               [rule->category]
                                                                       .cap.set
                                        ? &model->categories[rule->category].cap
                                        : NULL;

                        if (rule->cap.set)
                                award = ls_cap_room(&rule->cap,
                                                    &slots[rule->cap.slot],
                                                    in->time, award);
                        if (cc && award > 0)
                                award = ls_cap_room(cc, &slots[cc->slot],
                                                    in->time, award);
                        if (model->has_engagement_max &&
                            eng + award > model->engagement_max)
                                award = (int32_t)(model->engagement_max - eng >=
                                                                  0
                                                          ? model->engagement_max -
                                                                    eng
                                                          : 0);
                        if (award > 0) { /* only what is awarded counts */
                                if (rule->cap.set)
                                        ls_cap_commit(&slots[rule->cap.slot],
                                                      award);
                                if (cc)
                                        ls_cap_commit(&slots[cc->slot], award);
                        }
                        gained += award;
                } else if (eng + award < model->engagement_floor) {
                        award = (int32_t)(model->engagement_floor - eng < 0
                                                  ? model->engagement_floor -
                                                            eng
                                                  : 0);
                }
                eng += award;
                r = ls_outbuf_add_reason(ob);
                if (!r)
                        return LS_ERR_NOMEM;
                r->kind = LS_REASON_RULE;
                r->rule_id = rule->id;
                r->points = award;
                r->capped = rule->points - award;
        }
        if (fired) {
                lm->engagement = ls_clamp_engagement(model, eng);
                lm->base = lm->engagement;
                lm->anchor = now;
                lm->decay_n = 0;
        }
        err = ls_settle(sh, lead, m, lm, lm->fit, prev_eng, &ch, ob);
        if (err)
                return err;

        /* hot lead: a listed event, or enough points within the window */
        if (model->hot.enabled) {
                int64_t *times = ls_hot_times(sh, lm, m);
                int32_t *pts = ls_hot_points(sh, lm, m);

                if (gained > 0 && ls_hot_ring_len(model) > 0) {
                        times[lm->hot_pos] = in->time;
                        pts[lm->hot_pos] = ls_sat32(gained);
                        lm->hot_pos =
                                (uint8_t)((lm->hot_pos + 1) % model->hot.track);
                }
                if (hot_listed)
                        hot = 1;
                if (!hot && model->hot.points > 0 && gained > 0) {
                        int64_t sum = 0;
                        uint32_t k;

                        for (k = 0; k < model->hot.track; k++)
                                if (pts[k] > 0 &&
                                    times[k] > now - model->hot.within_ms)
                                        sum += pts[k];
                        hot = sum >= model->hot.points;
                }
                if (hot && (lm->flags & LS_LM_HOT_ALERTED) &&
                    now - lm->hot_last < model->hot.rearm_ms)
                        hot = 0;
                if (hot) {
                        lm->flags |= LS_LM_HOT_ALERTED;
                        lm->hot_last = now;
                        err = ls_emit(sh, lead, m, lm, &ch, ob, LS_OUT_ALERT,
                                      LS_ALERT_HOT_LEAD,
                                      ls_sat32((int64_t)lm->fit + prev_eng));
                        if (err)
                                return err;
                }
        }
        return ls_schedule(sh, lead, (uint32_t)m, lm);
}

/* Applies a profile update to one model: fit rules on named attributes. */
static ls_err_t ls_apply_profile_model(ls_shard_t *sh, uint32_t lead, size_t m,
                                       const ls_input_t *in, int64_t now,
                                       ls_outbuf_t *ob) {
        const ls_model_t *model = &sh->ms->models[m];
        ls_lm_t *lm = ls_lm(sh, lead, m);
        int32_t prev_fit = lm->fit, prev_eng = lm->engagement;
        ls_change_t ch = {LS_CAUSE_PROFILE, NULL, now, (uint32_t)ob->n_reasons};
        uint64_t bits = lm->fit_bits;
        int64_t sum = 0;
        ls_err_t err;
        size_t i;

        err = ls_catch_up_decay(model, lm, now, ob);
        if (err)
                return err;
        for (i = 0; i < model->n_fit_rules; i++) {
                const ls_fit_rule_t *fr = &model->fit_rules[i];
                const char *v = NULL;
                int present = 0, match;
                size_t k;

                for (k = in->n_fields; k-- > 0;) {
                        if (in->fields[k].key &&
                            strcmp(in->fields[k].key, fr->cond.field) == 0) {
                                v = in->fields[k].value;
                                present = 1;
                                break;
                        }
                }
                if (present) {
                        uint64_t bit = (uint64_t)1 << i;
                        ls_reason_t *r;

                        if (v && !*v)
                                v = NULL; /* empty clears */
                        match = ls_cond_match(sh->ms, &fr->cond, v);
                        if (match != !!(bits & bit)) {
                                r = ls_outbuf_add_reason(ob);
                                if (!r)
                                        return LS_ERR_NOMEM;
                                r->kind = LS_REASON_FIT;
                                r->rule_id = fr->id;
                                r->points = match ? fr->points : -fr->points;
                                r->capped = 0;
                                bits = match ? bits | bit : bits & ~bit;
                        }
                }
                if (bits & ((uint64_t)1 << i))
                        sum += fr->points;
        }
        lm->fit_bits = bits;
        lm->fit = ls_clamp_fit(model, sum);
        err = ls_settle(sh, lead, m, lm, prev_fit, prev_eng, &ch, ob);
        if (!err)
                err = ls_schedule(sh, lead, (uint32_t)m, lm);
        return err;
}

/*
 * A new lead has no attributes: fit rules that match an absent attribute
 * (`not: true`, `exists: false`) hold from the start.
 */
static void ls_lm_init_model(const ls_modelset_t *ms, const ls_model_t *model,
                             ls_lm_t *lm) {
        int64_t fit = 0;
        size_t i;

        lm->anchor = INT64_MIN;
        lm->timer_due = INT64_MAX;
        lm->wake_due = INT64_MAX;
        lm->fit_bits = 0;
        for (i = 0; i < model->n_fit_rules; i++) {
                if (ls_cond_match(ms, &model->fit_rules[i].cond, NULL)) {
                        lm->fit_bits |= (uint64_t)1 << i;
                        fit += model->fit_rules[i].points;
                }
        }
        lm->fit = ls_clamp_fit(model, fit);
        lm->engagement = ls_clamp_engagement(model, 0);
        lm->base = lm->engagement;
        lm->grade = (uint8_t)ls_grade_of(model, lm->fit);
        lm->band = (uint8_t)ls_band_of(model, lm->engagement);
}

static void ls_lm_init(const ls_shard_t *sh, uint32_t lead) {
        size_t m;

        for (m = 0; m < sh->ms->n_models; m++)
                ls_lm_init_model(sh->ms, &sh->ms->models[m],
                                 ls_lm(sh, lead, m));
        ls_hdr(sh, lead)->clock = INT64_MIN;
        ls_hdr(sh, lead)->profile_time = INT64_MIN;
}

/* @returns 1 if the event id was seen for this lead (and remembers it). */
static int ls_dedupe_seen(const ls_shard_t *sh, ls_lead_hdr_t *hdr,
                          const char *event_id) {
        uint64_t *ring = ls_dedupe_ring(hdr);
        uint64_t h;
        uint32_t i;

        if (!sh->ms->dedupe || !event_id || !*event_id)
                return 0;
        h = ls_hash64(event_id, strlen(event_id));
        for (i = 0; i < hdr->dedupe_n; i++)
                if (ring[i] == h)
                        return 1;
        ring[hdr->dedupe_pos] = h;
        hdr->dedupe_pos = (uint8_t)((hdr->dedupe_pos + 1) % sh->ms->dedupe);
        if (hdr->dedupe_n < sh->ms->dedupe)
                hdr->dedupe_n++;
        return 0;
}

ls_err_t ls_shard_apply(ls_shard_t *sh, const ls_input_t *in, ls_outbuf_t *ob,
                        char *errstr, size_t errstr_size) {
        const ls_modelset_t *ms = sh->ms;
        ls_lead_hdr_t *hdr;
        int64_t idx, now;
        int type_idx = -1, created, ignored = 0;
        const ls_etype_t *et = NULL;
        uint32_t lead;
        ls_err_t err;
        size_t m;

        if (!in->lead_id || !*in->lead_id) {
                sh->stats.invalid++;
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "lead_id: missing or empty");
        }
        if (in->kind == LS_INPUT_EVENT &&
            (!in->event_type || !*in->event_type)) {
                sh->stats.invalid++;
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "event_type: missing or empty");
        }
        if (in->time < 0 || in->time > LS_TIME_MAX) {
                sh->stats.invalid++;
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "%s: %lld is out of range (0 .. %lld ms)",
                                 in->kind == LS_INPUT_PROFILE ? "updated_at"
                                                              : "occurred_at",
                                 (long long)in->time, (long long)LS_TIME_MAX);
        }
        if (in->kind != LS_INPUT_EVENT && in->kind != LS_INPUT_PROFILE) {
                sh->stats.invalid++;
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "kind: must be event or profile");
        }
        /* An input dated far past the time its record was written would
         * move the stream time (and its lead's clock) beyond every
         * later input: the record's own timestamp bounds it. */
        if (ls_input_future(ms, in)) {
                sh->stats.future++;
                return ls_seterr(errstr, errstr_size, LS_ERR_FUTURE,
                                 "%s %lld is %lld ms past the record's "
                                 "timestamp %lld (max_future %lld ms)",
                                 in->kind == LS_INPUT_PROFILE ? "updated_at"
                                                              : "occurred_at",
                                 (long long)in->time,
                                 (long long)(in->time - in->record_time),
                                 (long long)in->record_time,
                                 (long long)ms->max_future_ms);
        }
        /* Lateness and stream time are the events' alone: a profile
         * update is a fact about the lead, applied whenever it arrives
         * (unless a newer one was applied already: stale, below). */
        if (in->kind == LS_INPUT_EVENT) {
                if (sh->stream_time != INT64_MIN &&
                    in->time < sh->stream_time - ms->lateness_ms) {
                        sh->stats.late++;
                        return ls_seterr(
                                errstr, errstr_size, LS_ERR_LATE,
                                "occurred_at %lld is %lld ms behind stream "
                                "time %lld (lateness %lld ms)",
                                (long long)in->time,
                                (long long)(sh->stream_time - in->time),
                                (long long)sh->stream_time,
                                (long long)ms->lateness_ms);
                }
        }
        /* An event the model set ignores, or of a type no model uses,
         * creates no lead (it still moves stream time, below). */
        if (in->kind == LS_INPUT_EVENT) {
                ignored = ls_conds_any(ms, ms->ignore, ms->n_ignore, in);
                et = ls_etype_slot(sh, in->event_type);
        }
        /* before the event moves stream time: a refusal changes nothing */
        if (!ignored && (!et || et->name) && ls_cap_refuses(sh, in)) {
                sh->stats.refused++;
                return ls_seterr(errstr, errstr_size, LS_ERR_CAPACITY,
                                 "lead %s is new and the partition's cap "
                                 "of %zu leads is reached (max_leads)",
                                 in->lead_id, sh->max_leads);
        }
        if (in->kind == LS_INPUT_EVENT) {
                err = ls_shard_advance(sh, in->time, ob);
                if (err)
                        return ls_seterr(errstr, errstr_size, err,
                                         "out of memory");
        }
        sh->stats.inputs++;

        if (in->kind == LS_INPUT_EVENT) {
                if (ignored) {
                        sh->stats.ignored++;
                        return LS_OK;
                }
                if (!et->name)
                        return LS_OK; /* no model has a use for it */
                type_idx = et->type_idx;
        }
        idx = ls_lead_table_get(sh->leads, in->lead_id, strlen(in->lead_id), 1,
                                &created);
        if (idx < 0)
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "out of memory for lead %s", in->lead_id);
        lead = (uint32_t)idx;
        hdr = ls_hdr(sh, lead);
        if (created)
                ls_lm_init(sh, lead);
        if (in->kind == LS_INPUT_EVENT &&
            ls_dedupe_seen(sh, hdr, in->event_id)) {
                sh->stats.duplicates++;
                return ls_seterr(errstr, errstr_size, LS_ERR_DUPLICATE,
                                 "event_id %s already applied to lead %s",
                                 in->event_id, in->lead_id);
        }
        if (in->kind == LS_INPUT_PROFILE) {
                if (in->time < hdr->profile_time) {
                        sh->stats.stale++;
                        return ls_seterr(errstr, errstr_size, LS_ERR_STALE,
                                         "updated_at %lld is older than the "
                                         "profile update applied to lead %s "
                                         "(updated_at %lld)",
                                         (long long)in->time, in->lead_id,
                                         (long long)hdr->profile_time);
                }
                hdr->profile_time = in->time;
        }
        now = hdr->clock > in->time ? hdr->clock : in->time;
        hdr->clock = now;
        for (m = 0; m < ms->n_models; m++) {
                if (in->kind == LS_INPUT_EVENT) {
                        if (!ls_model_wants_product(&ms->models[m],
                                                    in->product))
                                continue;
                        err = ls_apply_event_model(
                                sh, lead, m, in, type_idx,
                                m < 64 ? (int)(et->hot >> m & 1)
                                       : ls_hot_event(&ms->models[m],
                                                      in->event_type),
                                now, ob);
                } else {
                        err = ls_apply_profile_model(sh, lead, m, in, now, ob);
                }
                if (err)
                        return ls_seterr(errstr, errstr_size, err,
                                         "out of memory");
        }
        return LS_OK;
}

static void ls_lead_view_fill(const ls_lm_t *lm, ls_lead_view_t *view);

ls_err_t ls_shard_lead(const ls_shard_t *sh, const char *lead_id,
                       size_t model_idx, ls_lead_view_t *view) {
        int64_t idx;

        if (model_idx >= sh->ms->n_models)
                return LS_ERR_NOT_FOUND;
        idx = ls_lead_table_get(sh->leads, lead_id, strlen(lead_id), 0, NULL);
        if (idx < 0)
                return LS_ERR_NOT_FOUND;
        ls_lead_view_fill(ls_lm(sh, (uint32_t)idx, model_idx), view);
        return LS_OK;
}

void ls_shard_stats(const ls_shard_t *sh, ls_shard_stats_t *stats) {
        *stats = sh->stats;
        stats->leads = ls_lead_table_count(sh->leads);
        stats->state_bytes = ls_lead_table_bytes(sh->leads) +
                             sh->size_heap * sizeof(ls_timer_t);
        stats->lead_model_bytes =
                sh->ms->n_models ? sh->block_size / sh->ms->n_models : 0;
        stats->timers = sh->live_timers;
}

static void ls_lead_view_fill(const ls_lm_t *lm, ls_lead_view_t *view) {
        view->fit = lm->fit;
        view->engagement = lm->engagement;
        view->total = ls_sat32((int64_t)lm->fit + lm->engagement);
        view->grade = lm->grade;
        view->band = lm->band;
        view->mql = !!(lm->flags & LS_LM_MQL);
        view->hot = !!(lm->flags & LS_LM_HOT_ALERTED);
        view->seq = lm->seq;
        view->last_activity = lm->anchor;
}

uint64_t ls_shard_scored_leads(const ls_shard_t *sh, size_t model_idx) {
        return model_idx < sh->ms->n_models ? sh->scored[model_idx] : 0;
}

void ls_shard_foreach_lead(const ls_shard_t *sh, size_t model_idx,
                           int (*cb)(const char *lead_id,
                                     const ls_lead_view_t *view, void *opaque),
                           void *opaque) {
        size_t i, n = ls_lead_table_count(sh->leads);
        ls_lead_view_t view;

        if (model_idx >= sh->ms->n_models)
                return;
        for (i = 0; i < n; i++) {
                ls_lead_view_fill(ls_lm(sh, (uint32_t)i, model_idx), &view);
                if (cb(ls_lead_table_key(sh->leads, (uint32_t)i), &view,
                       opaque))
                        return;
        }
}

/*
 * Shard images: "LSSH", u32 format, set version (16 bytes), u32 models,
 * u32 block size, u32 dedupe, i64 stream time, 8 x u64 counters,
 * u64 leads, then per lead: u32 key length, key bytes, block bytes.
 * Little endian (the byte order of every platform leadscore targets; the
 * blocks are copied as they are in memory).
 */
#define LS_SHARD_MAGIC "LSSH"
#define LS_SHARD_FORMAT 3u

static ls_err_t ls_put32(ls_buf_t *b, uint32_t v) {
        return ls_buf_append(b, &v, sizeof(v));
}

static ls_err_t ls_put64(ls_buf_t *b, uint64_t v) {
        return ls_buf_append(b, &v, sizeof(v));
}

ls_err_t ls_shard_save(const ls_shard_t *sh, ls_buf_t *buf) {
        size_t i, n = ls_lead_table_count(sh->leads);
        ls_err_t err = LS_OK;

        err |= ls_buf_append(buf, LS_SHARD_MAGIC, 4);
        err |= ls_put32(buf, LS_SHARD_FORMAT);
        err |= ls_buf_append(buf, sh->ms->version, LS_MODEL_VERSION_LEN);
        err |= ls_put32(buf, (uint32_t)sh->ms->n_models);
        err |= ls_put32(buf, (uint32_t)sh->block_size);
        err |= ls_put32(buf, sh->ms->dedupe);
        err |= ls_put64(buf, (uint64_t)sh->stream_time);
        err |= ls_put64(buf, sh->stats.inputs);
        err |= ls_put64(buf, sh->stats.duplicates);
        err |= ls_put64(buf, sh->stats.late);
        err |= ls_put64(buf, sh->stats.stale);
        err |= ls_put64(buf, sh->stats.future);
        err |= ls_put64(buf, sh->stats.invalid);
        err |= ls_put64(buf, sh->stats.ignored);
        err |= ls_put64(buf, sh->stats.outputs);
        err |= ls_put64(buf, (uint64_t)n);
        if (err)
                return LS_ERR_NOMEM;
        if (ls_buf_reserve(buf, n * (sh->block_size + 16)) != LS_OK)
                return LS_ERR_NOMEM;
        for (i = 0; i < n; i++) {
                const char *key = ls_lead_table_key(sh->leads, (uint32_t)i);
                uint32_t klen = (uint32_t)strlen(key);

                size_t at, m;

                if (ls_put32(buf, klen) || ls_buf_append(buf, key, klen))
                        return LS_ERR_NOMEM;
                at = buf->len;
                if (ls_buf_append(buf,
                                  ls_lead_table_block(sh->leads, (uint32_t)i),
                                  sh->block_size))
                        return LS_ERR_NOMEM;
                /* wake-ups are heap bookkeeping, rebuilt by the loader as
                 * wake_due = timer_due: write that, so that an image of a
                 * restored shard equals the image it was restored from */
                for (m = 0; m < sh->ms->n_models; m++) {
                        const ls_lm_t *lm = ls_lm(sh, (uint32_t)i, m);

                        memcpy(buf->data + at + sh->model_off[m] +
                                       offsetof(ls_lm_t, wake_due),
                               &lm->timer_due, sizeof(lm->timer_due));
                }
        }
        return LS_OK;
}

typedef struct ls_reader_s {
        const unsigned char *p;
        size_t len, off;
} ls_reader_t;

static int ls_get(ls_reader_t *r, void *dst, size_t n) {
        if (r->len - r->off < n)
                return -1;
        memcpy(dst, r->p + r->off, n);
        r->off += n;
        return 0;
}

/* 1 when @p t is @p none or a time within 0 .. LS_TIME_MAX. */
static int ls_time_ok(int64_t t, int64_t none) {
        return t == none || (t >= 0 && t <= LS_TIME_MAX);
}

/*
 * The first field of lead @p lead's loaded state that the engine could
 * not compute with (a time past the year 9999, a grade past the model's,
 * a sum beyond the model's clamps, a timer that does not follow from the
 * decay state), or NULL when every one is in range: a snapshot with a
 * valid checksum may still have been written by something else.
 */
static const char *ls_lead_check(const ls_shard_t *sh, uint32_t lead) {
        const ls_modelset_t *ms = sh->ms;
        const ls_lead_hdr_t *hdr = ls_hdr(sh, lead);
        size_t m, i;

        if (!ls_time_ok(hdr->clock, INT64_MIN))
                return "lead clock";
        if (!ls_time_ok(hdr->profile_time, INT64_MIN))
                return "profile time";
        if (hdr->dedupe_pos >= (ms->dedupe ? ms->dedupe : 1) ||
            hdr->dedupe_n > ms->dedupe)
                return "dedupe ring";
        for (m = 0; m < ms->n_models; m++) {
                const ls_model_t *model = &ms->models[m];
                ls_lm_t *lm = ls_lm(sh, lead, m);
                const ls_cap_slot_t *slots = ls_cap_slots(lm);
                const int64_t *hot = ls_hot_times(sh, lm, m);
                uint32_t track = ls_hot_ring_len(model);

                if (lm->grade >= model->n_grades || lm->band >= model->n_bands)
                        return "grade or band";
                if (track && lm->hot_pos >= track)
                        return "hot-lead ring position";
                if (model->n_fit_rules < 64 &&
                    lm->fit_bits >> model->n_fit_rules)
                        return "fit rule bits";
                if (lm->fit != ls_clamp_fit(model, lm->fit) ||
                    lm->engagement !=
                            ls_clamp_engagement(model, lm->engagement) ||
                    lm->base != ls_clamp_engagement(model, lm->base))
                        return "fit or engagement";
                if (!ls_time_ok(lm->anchor, INT64_MIN) ||
                    !ls_time_ok(lm->hot_last, INT64_MIN))
                        return "activity time";
                if (model->decay.kind == LS_DECAY_STEPS &&
                    lm->decay_n > model->decay.n_steps)
                        return "decay steps";
                if (lm->timer_due != ls_decay_next_due(model, lm))
                        return "decay timer";
                for (i = 0; i < model->n_cap_slots; i++)
                        if (slots[i].window < 0 ||
                            slots[i].window > LS_TIME_MAX)
                                return "cap window";
                for (i = 0; i < track; i++)
                        if (!ls_time_ok(hot[i], INT64_MIN))
                                return "hot-lead ring time";
        }
        return NULL;
}

ls_err_t ls_shard_check(const ls_shard_t *sh, char *errstr,
                        size_t errstr_size) {
        size_t n = ls_lead_table_count(sh->leads), i, m;
        const char *bad;

        if (sh->n_heap > sh->size_heap ||
            sh->live_timers > n * sh->ms->n_models)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "timer heap: %zu entries in %zu, %zu live",
                                 sh->n_heap, sh->size_heap, sh->live_timers);
        for (i = 0; i < sh->n_heap; i++) {
                if (sh->heap[i].lead >= n ||
                    sh->heap[i].model >= sh->ms->n_models)
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "timer heap entry %zu: lead %u "
                                         "model %u out of range",
                                         i, (unsigned)sh->heap[i].lead,
                                         (unsigned)sh->heap[i].model);
                if (i > 0 &&
                    ls_timer_less(&sh->heap[i], &sh->heap[(i - 1) / 2]))
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "timer heap: entry %zu is due "
                                         "before its parent",
                                         i);
        }
        for (m = 0; m < sh->ms->n_models; m++) {
                uint64_t scored = 0;

                for (i = 0; i < n; i++)
                        scored += ls_lm(sh, (uint32_t)i, m)->seq > 0;
                if (scored != sh->scored[m])
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "model %zu: %" PRIu64 " leads with "
                                         "an output, counted %" PRIu64,
                                         m, scored, sh->scored[m]);
        }
        for (i = 0; i < n; i++) {
                const char *key = ls_lead_table_key(sh->leads, (uint32_t)i);

                /* the index finds every lead under its own number */
                if (ls_lead_table_get(sh->leads, key, strlen(key), 0, NULL) !=
                    (int64_t)i)
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "lead table: key %s does not find "
                                         "lead %zu",
                                         key, i);
                if ((bad = ls_lead_check(sh, (uint32_t)i)) != NULL)
                        return ls_seterr(
                                errstr, errstr_size, LS_ERR_INVALID,
                                "lead %s: %s out of range",
                                ls_lead_table_key(sh->leads, (uint32_t)i), bad);
                for (m = 0; m < sh->ms->n_models; m++) {
                        const ls_lm_t *lm = ls_lm(sh, (uint32_t)i, m);
                        /* a wake-up at or before a pending timer is in
                         * the heap (ls_arm) */
                        if (lm->timer_due != INT64_MAX &&
                            lm->wake_due > lm->timer_due)
                                return ls_seterr(
                                        errstr, errstr_size, LS_ERR_INVALID,
                                        "lead %s model %zu: timer due %lld "
                                        "has no wake-up before it",
                                        ls_lead_table_key(sh->leads,
                                                          (uint32_t)i),
                                        m, (long long)lm->timer_due);
                }
        }
        return LS_OK;
}

ls_shard_t *ls_shard_load(const ls_modelset_t *ms, const void *data, size_t len,
                          char *errstr, size_t errstr_size) {
        ls_reader_t r = {data, len, 0};
        char magic[4], version[LS_MODEL_VERSION_LEN + 1] = {0};
        uint32_t format, n_models, block_size, dedupe;
        uint64_t stream_time, n, i;
        ls_shard_t *sh;

        if (ls_get(&r, magic, 4) || memcmp(magic, LS_SHARD_MAGIC, 4) != 0) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "shard state: bad magic at offset 0");
                return NULL;
        }
        if (ls_get(&r, &format, 4)) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "shard state: truncated header at offset %zu", r.off);
                return NULL;
        }
        if (format != LS_SHARD_FORMAT) {
                ls_seterr(errstr, errstr_size, LS_ERR_UNSUPPORTED,
                          "shard state: format %u at offset 4 not supported "
                          "(expected %u)",
                          format, LS_SHARD_FORMAT);
                return NULL;
        }
        if (ls_get(&r, version, LS_MODEL_VERSION_LEN) ||
            ls_get(&r, &n_models, 4) || ls_get(&r, &block_size, 4) ||
            ls_get(&r, &dedupe, 4) || ls_get(&r, &stream_time, 8)) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "shard state: truncated header at offset %zu", r.off);
                return NULL;
        }
        if (strcmp(version, ms->version) != 0) {
                ls_seterr(errstr, errstr_size, LS_ERR_UNSUPPORTED,
                          "shard state was taken under model set version %s, "
                          "the loaded model set is %s",
                          version, ms->version);
                return NULL;
        }
        sh = ls_shard_new(ms);
        if (!sh) {
                ls_seterr(errstr, errstr_size, LS_ERR_NOMEM, "out of memory");
                return NULL;
        }
        if (n_models != ms->n_models || block_size != sh->block_size ||
            dedupe != ms->dedupe) {
                ls_seterr(errstr, errstr_size, LS_ERR_UNSUPPORTED,
                          "shard state layout differs (models %u, block %u "
                          "bytes; expected %zu, %zu)",
                          n_models, block_size, ms->n_models, sh->block_size);
                goto fail;
        }
        sh->stream_time = (int64_t)stream_time;
        if (!ls_time_ok(sh->stream_time, INT64_MIN)) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "shard state: stream time %lld out of range "
                          "(0 .. %lld ms)",
                          (long long)sh->stream_time, (long long)LS_TIME_MAX);
                goto fail;
        }
        if (ls_get(&r, &sh->stats.inputs, 8) ||
            ls_get(&r, &sh->stats.duplicates, 8) ||
            ls_get(&r, &sh->stats.late, 8) || ls_get(&r, &sh->stats.stale, 8) ||
            ls_get(&r, &sh->stats.future, 8) ||
            ls_get(&r, &sh->stats.invalid, 8) ||
            ls_get(&r, &sh->stats.ignored, 8) ||
            ls_get(&r, &sh->stats.outputs, 8) || ls_get(&r, &n, 8)) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "shard state: truncated header at offset %zu", r.off);
                goto fail;
        }
        if (n > (len - r.off) / (4 + (uint64_t)block_size)) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "shard state: %llu leads cannot fit in the %zu "
                          "bytes after offset %zu",
                          (unsigned long long)n, len - r.off, r.off);
                goto fail;
        }
        if (ls_lead_table_reserve(sh->leads, (size_t)n) != 0) {
                ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                          "out of memory for %llu leads",
                          (unsigned long long)n);
                goto fail;
        }
        for (i = 0; i < n; i++) {
                size_t at = r.off;
                uint32_t klen;
                int64_t idx;
                int created;

                if (ls_get(&r, &klen, 4) || klen == 0 || klen > r.len - r.off ||
                    memchr(r.p + r.off, '\0', klen) != NULL) {
                        ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                  "shard state: bad key of lead %llu at "
                                  "offset %zu",
                                  (unsigned long long)i, at);
                        goto fail;
                }
                idx = ls_lead_table_get(sh->leads, (const char *)r.p + r.off,
                                        klen, 1, &created);
                if (idx < 0 || !created) {
                        ls_seterr(errstr, errstr_size,
                                  idx < 0 ? LS_ERR_NOMEM : LS_ERR_INVALID,
                                  "shard state: %s lead at offset %zu",
                                  idx < 0 ? "no memory for" : "duplicate", at);
                        goto fail;
                }
                r.off += klen;
                if (ls_get(&r, ls_lead_table_block(sh->leads, (uint32_t)idx),
                           block_size)) {
                        ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                  "shard state: truncated lead %llu at "
                                  "offset %zu",
                                  (unsigned long long)i, at);
                        goto fail;
                }
                {
                        const char *bad = ls_lead_check(sh, (uint32_t)idx);
                        if (bad) {
                                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                          "shard state: lead %llu at offset "
                                          "%zu: %s out of range",
                                          (unsigned long long)i, at, bad);
                                goto fail;
                        }
                }
        }
        if (r.off != r.len) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "shard state: %zu unexpected bytes at offset %zu",
                          r.len - r.off, r.off);
                goto fail;
        }
        if (ls_heap_rebuild(sh) != LS_OK) {
                ls_seterr(errstr, errstr_size, LS_ERR_NOMEM, "out of memory");
                goto fail;
        }
        return sh;
fail:
        ls_shard_destroy(sh);
        return NULL;
}

/*
 * Model migration: carry a shard's state over to a new model set.
 */

static int ls_decay_same(const ls_decay_t *a, const ls_decay_t *b) {
        size_t i;

        if (a->kind != b->kind || a->n_steps != b->n_steps ||
            a->half_life_ms != b->half_life_ms || a->tick_ms != b->tick_ms)
                return 0;
        for (i = 0; i < a->n_steps; i++)
                if (a->steps[i].after_ms != b->steps[i].after_ms ||
                    a->steps[i].points != b->steps[i].points)
                        return 0;
        return 1;
}

/* Copies the counter of an old cap into the new cap's slot, if both. */
static void ls_migrate_cap(const ls_cap_t *ocap, ls_cap_slot_t *oslots,
                           const ls_cap_t *ncap, ls_cap_slot_t *nslots) {
        /* a counter is only meaningful in windows of the same length */
        if (ocap->set && ncap->set && ocap->per_ms == ncap->per_ms)
                nslots[ncap->slot] = oslots[ocap->slot];
}

/* One lead, one model present in both sets (same id). */
static void ls_migrate_lm(const ls_shard_t *osh, size_t om, ls_lm_t *olm,
                          const ls_shard_t *nsh, size_t nm, ls_lm_t *nlm,
                          int64_t clock) {
        const ls_model_t *o = &osh->ms->models[om], *n = &nsh->ms->models[nm];
        size_t i, j;
        int64_t fit = 0;

        ls_lm_init_model(nsh->ms, n, nlm);
        nlm->seq = olm->seq;
        nlm->flags = olm->flags;
        if (!n->mql.enabled)
                nlm->flags &= (uint8_t)~LS_LM_MQL;
        if (!n->hot.enabled)
                nlm->flags &= (uint8_t)~LS_LM_HOT_ALERTED;
        nlm->hot_last = olm->hot_last;
        /* fit: the match bits of fit rules kept (by id), with their new
         * points; a rule new to the model keeps its as-if-absent result */
        for (i = 0; i < n->n_fit_rules; i++) {
                for (j = 0; j < o->n_fit_rules; j++) {
                        if (!strcmp(n->fit_rules[i].id, o->fit_rules[j].id)) {
                                if (olm->fit_bits >> j & 1)
                                        nlm->fit_bits |= (uint64_t)1 << i;
                                else
                                        nlm->fit_bits &= ~((uint64_t)1 << i);
                                break;
                        }
                }
                if (nlm->fit_bits >> i & 1)
                        fit += n->fit_rules[i].points;
        }
        nlm->fit = ls_clamp_fit(n, fit);
        /* engagement: kept (history is not re-scored), clamped anew */
        nlm->engagement = ls_clamp_engagement(n, olm->engagement);
        nlm->anchor = olm->anchor;
        if (ls_decay_same(&o->decay, &n->decay)) {
                nlm->base = ls_clamp_engagement(n, olm->base);
                nlm->decay_n = olm->decay_n;
        } else if (olm->anchor != INT64_MIN) {
                /* another decay: its clock starts at the switch */
                nlm->base = nlm->engagement;
                nlm->anchor = clock;
                nlm->decay_n = 0;
        }
        nlm->grade = (uint8_t)ls_grade_of(n, nlm->fit);
        nlm->band = (uint8_t)ls_band_of(n, nlm->engagement);
        /* caps, by rule id and category name */
        for (i = 0; i < n->n_rules; i++)
                for (j = 0; j < o->n_rules; j++)
                        if (!strcmp(n->rules[i].id, o->rules[j].id))
                                ls_migrate_cap(
                                        &o->rules[j].cap, ls_cap_slots(olm),
                                        &n->rules[i].cap, ls_cap_slots(nlm));
        for (i = 0; i < n->n_categories; i++)
                for (j = 0; j < o->n_categories; j++)
                        if (!strcmp(n->categories[i].name,
                                    o->categories[j].name))
                                ls_migrate_cap(&o->categories[j].cap,
                                               ls_cap_slots(olm),
                                               &n->categories[i].cap,
                                               ls_cap_slots(nlm));
        /* the hot-lead window, as far as both rings reach */
        if (ls_hot_ring_len(o) && ls_hot_ring_len(n)) {
                uint32_t ol = ls_hot_ring_len(o), nl = ls_hot_ring_len(n);
                uint32_t k, cnt = ol < nl ? ol : nl;

                for (k = 0; k < cnt; k++) {
                        /* newest first: walk the old ring backwards */
                        uint32_t from = (olm->hot_pos + ol - 1 - k) % ol;
                        uint32_t to = cnt - 1 - k;

                        ls_hot_times(nsh, nlm, nm)[to] =
                                ls_hot_times(osh, olm, om)[from];
                        ls_hot_points(nsh, nlm, nm)[to] =
                                ls_hot_points(osh, olm, om)[from];
                }
                nlm->hot_pos = (uint8_t)(cnt % nl);
        }
        nlm->timer_due = ls_decay_next_due(n, nlm);
}

ls_shard_t *ls_shard_migrate(const ls_shard_t *osh, const ls_modelset_t *ms,
                             char *errstr, size_t errstr_size) {
        size_t i, n = ls_lead_table_count(osh->leads), m, om;
        ls_shard_t *sh = ls_shard_new(ms);

        if (!sh)
                goto nomem;
        sh->stream_time = osh->stream_time;
        sh->stats = osh->stats;
        for (i = 0; i < n; i++) {
                const char *key = ls_lead_table_key(osh->leads, (uint32_t)i);
                ls_lead_hdr_t *oh = ls_hdr(osh, (uint32_t)i), *nh;
                uint32_t k, keep;
                int created;
                int64_t idx = ls_lead_table_get(sh->leads, key, strlen(key), 1,
                                                &created);

                if (idx < 0)
                        goto nomem;
                ls_lm_init(sh, (uint32_t)idx);
                nh = ls_hdr(sh, (uint32_t)idx);
                nh->clock = oh->clock;
                nh->profile_time = oh->profile_time;
                /* the most recent event ids, as many as both remember */
                keep = oh->dedupe_n < ms->dedupe ? oh->dedupe_n : ms->dedupe;
                for (k = 0; k < keep; k++)
                        ls_dedupe_ring(nh)[k] = ls_dedupe_ring(
                                oh)[(oh->dedupe_pos + osh->ms->dedupe - keep +
                                     k) %
                                    osh->ms->dedupe];
                nh->dedupe_n = (uint8_t)keep;
                nh->dedupe_pos = (uint8_t)(ms->dedupe ? keep % ms->dedupe : 0);
                for (m = 0; m < ms->n_models; m++) {
                        for (om = 0; om < osh->ms->n_models; om++)
                                if (!strcmp(ms->models[m].id,
                                            osh->ms->models[om].id))
                                        break;
                        if (om == osh->ms->n_models)
                                continue; /* a new model: a fresh lead */
                        ls_migrate_lm(osh, om, ls_lm(osh, (uint32_t)i, om), sh,
                                      m, ls_lm(sh, (uint32_t)idx, m),
                                      oh->clock);
                }
        }
        if (ls_heap_rebuild(sh) != LS_OK)
                goto nomem;
        return sh;
nomem:
        ls_shard_destroy(sh);
        ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                  "out of memory migrating %zu leads", n);
        return NULL;
}
