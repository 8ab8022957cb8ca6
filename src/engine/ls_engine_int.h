/*
 * ls_engine_int.h - the engine's internals shared by the files of
 * src/engine: the lead block layout, the shard structure, the small
 * accessors and arithmetic every file needs (static inline, so the hot
 * path in ls_engine.c inlines them as before), and the few functions of
 * ls_engine.c that the colder files call. Not part of the public API.
 *
 * Per lead, one state block in the shard's lead table:
 *   ls_lead_hdr_t                 lead clock, dedupe ring
 *   uint64_t dedupe[ms->dedupe]   hashes of recent event ids
 *   suppression state, at supp_off (only when the set has `suppress`),
 *   per rule at supp_rule_off[r]:
 *     burst:    ls_supp_ring_t, then count - 1 entries of
 *               burst_ent_size[r]: ls_burst_ent_t, then per model at
 *               ls_undo_layout(r, m)->off an ls_undo_t and the event's
 *               ls_cap_slot_t commits to the cap counters its types can
 *               touch (layout->slots[0 .. n_slots))
 *     unopened: ls_supp_ring_t, then uint64_t message id hashes[remember]
 *     match:    nothing
 *   per model, at model_off[m]:
 *     ls_lm_t                     scores, decay anchor, alert flags
 *     ls_cap_slot_t caps[n_cap_slots]
 *     logistic models: their feature state (ls_logit.h), at logit_off[m]
 *   alert state, at alert_off:
 *     uint32_t attrs[ms->n_alert_attrs]  latest profile values: numbers
 *                                 in the shard's value table (ls_strtab.c),
 *                                 0 not set
 *     per model with alerts (mql or hot), at contrib_off[m]:
 *       int32_t contrib[n_rules + n_suppress]  points each rule added,
 *                                 and each burst rule took back, over the
 *                                 lead's history
 *       uint32_t ring             models with a hot-lead ring (track > 0),
 *                                 at ring_off[m]: 1 + its number in the
 *                                 model's ring pool, 0 none
 *
 * Hot-lead rings live in a pool per model, not in the block: a lead has
 * one only while one of its entries can still count. A ring is taken on
 * a lead's first scoring event and given back by the sweep of its pool
 * (ls_ring_sweep, each period of the pool's reach, lateness + within, of
 * stream time, at least an hour) when its newest entry is at or before
 * stream time - lateness - within: no event that is not late can reach
 * it again. A ring taken anew starts empty at position 0, which holds
 * the same live entries in the same order as the old ring would have
 * (ls_engine.c, ls_hot_check). It starts with no slot filled (n 0): its
 * bytes are not cleared, so taking one costs no more than writing to it.
 * A ring record: ls_ring_t, then
 *   int64_t time[track]; int32_t points[track] (padded to 8);
 *   ls_hot_ev_t ev[track]         type and id of each slot
 *
 * Shard images (ls_shard_image.c) of format 6 write the block and then
 * the rings held; those of format 5 (still read, and written for tests)
 * have the rings inside the block: img_* below say where each part of a
 * block sits there.
 */
#ifndef LS_ENGINE_INT_H
#define LS_ENGINE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <strings.h>

#include "leadscore/ls_engine.h"
#include "leadscore/ls_hash.h"
#include "leadscore/ls_lead_table.h"
#include "engine/ls_timerq.h"

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
        int64_t wake_due;  /* earliest queued wake-up; INT64_MAX none */
        int64_t hot_last;  /* time of the last hot-lead alert */
        uint64_t fit_bits; /* fit rules currently matching */
        int32_t fit;
        int32_t base; /* engagement right after the last activity */
        int32_t engagement;
        uint32_t seq;
        uint32_t decay_n; /* steps / ticks applied since anchor */
        uint8_t grade, band, flags, hot_pos;
} ls_lm_t;

/*
 * Where model m's undo part sits in an entry of burst rule r, and which
 * cap counters (slot numbers) the rules of r's event types can commit to:
 * only those are noted, in this order.
 */
typedef struct ls_undo_layout_s {
        size_t off;
        uint32_t *slots;
        uint32_t n_slots;
} ls_undo_layout_t;

/* A ring's position and fill (burst entries, unopened message ids). */
typedef struct ls_supp_ring_s {
        uint8_t pos, n;
        uint8_t pad[6];
} ls_supp_ring_t;

#define LS_BURST_REVERSIBLE 0x1 /* scored, and not taken back yet */

/* One event counted by a burst rule. */
typedef struct ls_burst_ent_s {
        int64_t time; /* the event's occurred_at */
        int64_t now;  /* the time it was applied as of (its decay anchor) */
        uint32_t flags;
        uint32_t pad;
} ls_burst_ent_t;

/*
 * What one scored event did to one model's state, so that a burst
 * recognised later can take it back exactly (docs/SEMANTICS.md): the
 * decay state and engagement before its rules, what its rules added, its
 * hot-lead ring slot, and (after this struct) what it committed to each
 * cap counter (window, points, count).
 */
typedef struct ls_undo_s {
        int64_t prev_anchor;
        int32_t prev_base;
        uint32_t prev_decay_n;
        int32_t eng_before; /* engagement before its rules (decay caught
                             * up to its time) */
        int32_t delta;      /* engagement after its rules - eng_before */
        uint8_t fired;      /* it fired a rule of this model */
        uint8_t hot_set;    /* it wrote hot ring slot hot_slot */
        uint8_t hot_slot;
        uint8_t pad[5];
} ls_undo_t;

/* The event of a hot-ring slot (same position as hot_time / points). */
typedef struct ls_hot_ev_s {
        uint32_t type;            /* 1 + index into ms->event_types;
                                     * 0: unknown (an older image) */
        char id[LS_HOT_ID_BYTES]; /* event id, NUL-padded, cut to fit */
} ls_hot_ev_t;

typedef struct ls_cap_slot_s {
        int64_t window;
        int32_t points;
        uint32_t count;
} ls_cap_slot_t;

/* A ring's header in its pool (a hot-lead ring or a burst ring). */
typedef struct ls_ring_s {
        uint32_t lead;  /* its lead; UINT32_MAX: free */
        uint32_t next1; /* free: 1 + the next free ring, 0 none */
        uint32_t n;     /* hot-lead rings: slots 0 .. n - 1 hold entries;
                         * the others are empty, whatever their bytes (a
                         * ring is not cleared when it is taken again) */
        uint32_t pad;
} ls_ring_t;

/*
 * The rings of one model (hot-lead) or one burst rule: records of
 * rec_size bytes in chunks of LS_RING_CHUNK, never moved; free ones in a
 * list. A lead's block holds 1 + the number of its ring at ref_off (0:
 * none); ref_off 0: the pool is not used.
 */
typedef struct ls_ring_pool_s {
        unsigned char **chunks;
        size_t n_chunks;
        size_t rec_size;
        size_t ref_off;
        size_t clear;     /* payload bytes zeroed when a ring is taken */
        int64_t reach;    /* lateness + within; > LS_TIME_MAX: never swept */
        int64_t sweep_ms; /* the period of its sweeps: reach, >= 1h */
        int64_t epoch;    /* stream time / sweep_ms at the last; -1 */
        uint32_t track;   /* hot-lead ring slots */
        uint32_t made;    /* records made */
        uint32_t free1;   /* 1 + the first free record, 0 none */
        uint32_t live;    /* records held by leads */
} ls_ring_pool_t;

#define LS_RING_CHUNK 1024u
#define LS_RING_SWEEP_MIN_MS (3600LL * 1000) /* shortest sweep period */

/* A value of the shard's table of alert attribute values. */
typedef struct ls_strent_s {
        char *s; /* NULL: free */
        uint32_t len;
        uint32_t refs; /* attribute slots that hold it */
        uint64_t hash;
} ls_strent_t;

typedef struct ls_strtab_s {
        ls_strent_t *ents; /* value number v at ents[v - 1] */
        uint32_t n, size;  /* numbers given, room */
        uint32_t live;
        uint32_t *slots; /* index by value: numbers, 0 empty */
        size_t n_slots;
        uint32_t *free_ids;
        size_t n_free, size_free;
        size_t bytes; /* of the values */
} ls_strtab_t;

/* One stretch of a block that sits at another offset in an image. */
typedef struct ls_img_seg_s {
        size_t mem, img, len;
} ls_img_seg_t;

/*
 * Event types the model set knows (rule types and hot-lead types), in a
 * case-insensitive hash table built once per shard: one lookup per event
 * instead of a binary search and a scan of every model's hot list.
 */
typedef struct ls_etype_s {
        const char *name; /* lowercased, owned by the model set; NULL free */
        int type_idx;     /* into ms->event_types, -1: no rule scores it */
        uint64_t hot;     /* bit m: model m lists it in hot.events */
        int supp_only;    /* only suppression rules name it: it feeds their
                           * state, no model scores it */
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
        size_t supp_off;   /* suppression state in a block (n_suppress) */
        size_t supp_rule_off[LS_SUPPRESS_MAX_RULES];
        size_t burst_ent_size[LS_SUPPRESS_MAX_RULES]; /* one entry with
                                                       * its undo parts */
        struct ls_undo_layout_s *undo;                /* [r * n_models + m] */
        size_t alert_off;    /* alert state in a block */
        size_t *contrib_off; /* per model: contributions, 0 none */
        /* rings: per model its hot-lead rings, then per suppression rule
         * its burst rings (pools[n_models + r]) */
        ls_ring_pool_t *pools;
        ls_strtab_t attrs;  /* alert attribute values */
        int64_t next_sweep; /* stream time at which a pool's next
                             * period starts (INT64_MAX none) */
        /* the format 5 image layout (ls_shard_image.c): the block's
         * stretches there, and each ring's parts */
        ls_img_seg_t *img_segs;
        size_t n_img_segs;
        size_t img_block_size;  /* format 5 */
        size_t img_alert_off;   /* format 3 / 4 block size */
        size_t *img_model_off;  /* per model: its ls_lm_t */
        size_t *img_hot_off;    /* per model: time and points, 0 none */
        size_t *img_hot_ev_off; /* per model: events, 0 none */
        size_t img_supp_rule_off[LS_SUPPRESS_MAX_RULES];
        int64_t record_time; /* the timestamp of the record of the input
                              * being applied; 0: none (backfill) */
        int64_t stream_time;
        ls_timerq_t tq; /* decay wake-ups (ls_timerq.h) */
        size_t live_timers;
        size_t max_leads;       /* 0: no cap (ls_shard_set_max_leads) */
        uint64_t *scored;       /* per model: leads with an output (seq > 0) */
        size_t *logit_off;      /* per logistic model: its feature state,
                              * from its ls_lm_t (ls_logit.h) */
        double *logit_x;        /* feature values, the most of any model */
        ls_observer_t observer; /* ls_shard_set_observer() */
        ls_shard_stats_t stats;
};

/*
 * Block layout
 */

/* The hot ring is needed only for the points-within-window condition. */
static inline uint32_t ls_hot_ring_len(const ls_model_t *m) {
        return m->hot.enabled && m->hot.points > 0 ? m->hot.track : 0;
}

/* @returns the slot of `name` in the table, or of the free slot for it. */
static inline ls_etype_t *ls_etype_slot(const ls_shard_t *sh,
                                        const char *name) {
        size_t i = (size_t)ls_hash64_ci(name) & sh->etypes_mask;

        while (sh->etypes[i].name && strcasecmp(sh->etypes[i].name, name))
                i = (i + 1) & sh->etypes_mask;
        return &sh->etypes[i];
}

static inline ls_lead_hdr_t *ls_hdr(const ls_shard_t *sh, uint32_t lead) {
        return ls_lead_table_block(sh->leads, lead);
}

static inline uint64_t *ls_dedupe_ring(ls_lead_hdr_t *hdr) {
        return (uint64_t *)(hdr + 1);
}

static inline ls_lm_t *ls_lm(const ls_shard_t *sh, uint32_t lead, size_t m) {
        return (ls_lm_t *)((unsigned char *)ls_lead_table_block(sh->leads,
                                                                lead) +
                           sh->model_off[m]);
}

static inline ls_supp_ring_t *ls_supp_ring(const ls_shard_t *sh, uint32_t lead,
                                           size_t r) {
        return (ls_supp_ring_t *)((unsigned char *)ls_lead_table_block(
                                          sh->leads, lead) +
                                  sh->supp_rule_off[r]);
}

static inline ls_burst_ent_t *
ls_burst_ent(const ls_shard_t *sh, ls_supp_ring_t *ring, size_t r, uint32_t k) {
        return (ls_burst_ent_t *)((unsigned char *)(ring + 1) +
                                  k * sh->burst_ent_size[r]);
}

static inline const ls_undo_layout_t *ls_undo_layout(const ls_shard_t *sh,
                                                     size_t r, size_t m) {
        return &sh->undo[r * sh->ms->n_models + m];
}

static inline ls_undo_t *ls_undo(const ls_shard_t *sh, ls_burst_ent_t *ent,
                                 size_t r, size_t m) {
        return (ls_undo_t *)((unsigned char *)ent +
                             ls_undo_layout(sh, r, m)->off);
}

static inline uint64_t *ls_unopened_ids(ls_supp_ring_t *ring) {
        return (uint64_t *)(ring + 1);
}

static inline ls_cap_slot_t *ls_cap_slots(const ls_lm_t *lm) {
        return (ls_cap_slot_t *)(lm + 1);
}

static inline size_t ls_contrib_len(const ls_modelset_t *ms,
                                    const ls_model_t *m) {
        return m->mql.enabled || m->hot.enabled ? m->n_rules + ms->n_suppress
                                                : 0;
}

/* Where @p lead's value of alert attribute k (its number) sits. */
static inline uint32_t *ls_attr_ref(const ls_shard_t *sh, uint32_t lead,
                                    size_t k) {
        return (uint32_t *)((unsigned char *)ls_lead_table_block(sh->leads,
                                                                 lead) +
                            sh->alert_off) +
               k;
}

/* @returns @p lead's value of alert attribute k, "" when not set. */
static inline const char *ls_attr_val(const ls_shard_t *sh, uint32_t lead,
                                      size_t k) {
        uint32_t id = *ls_attr_ref(sh, lead, k);

        return id ? sh->attrs.ents[id - 1].s : "";
}

/* @returns the part at offset @p off of @p lead's block, or NULL when
 * the layout has no such part (@p off 0). */
static inline void *ls_lead_part(const ls_shard_t *sh, uint32_t lead,
                                 size_t off) {
        return off ? (unsigned char *)ls_lead_table_block(sh->leads, lead) + off
                   : NULL;
}

/* @returns model m's contributions of @p lead, or NULL (no alerts). */
static inline int32_t *ls_contrib(const ls_shard_t *sh, uint32_t lead,
                                  size_t m) {
        return ls_lead_part(sh, lead, sh->contrib_off[m]);
}

static inline void *ls_logit_state(const ls_shard_t *sh, ls_lm_t *lm,
                                   size_t m) {
        return (unsigned char *)lm + sh->logit_off[m];
}

/* Rings (ls_ring.c) */

static inline ls_ring_t *ls_ring_rec(const ls_ring_pool_t *p, uint32_t i) {
        return (ls_ring_t *)(p->chunks[i / LS_RING_CHUNK] +
                             (size_t)(i % LS_RING_CHUNK) * p->rec_size);
}

/* @returns where @p p's ring number sits in @p lead's block, or NULL
 * (the pool is not used). */
static inline uint32_t *ls_pool_ref(const ls_shard_t *sh,
                                    const ls_ring_pool_t *p, uint32_t lead) {
        return ls_lead_part(sh, lead, p->ref_off);
}

/* @returns @p lead's ring in @p p, or NULL (none now). */
static inline ls_ring_t *ls_pool_ring(const ls_shard_t *sh,
                                      const ls_ring_pool_t *p, uint32_t lead) {
        const uint32_t *ref = ls_pool_ref(sh, p, lead);

        return ref && *ref ? ls_ring_rec(p, *ref - 1) : NULL;
}

/* @returns @p lead's hot-lead ring under model m, or NULL (none now). */
static inline ls_ring_t *ls_ring(const ls_shard_t *sh, uint32_t lead,
                                 size_t m) {
        return ls_pool_ring(sh, &sh->pools[m], lead);
}

/* @returns @p lead's ring of burst rule r, or NULL (none now). */
static inline ls_supp_ring_t *ls_burst_ring(const ls_shard_t *sh, uint32_t lead,
                                            size_t r) {
        ls_ring_t *g = ls_pool_ring(sh, &sh->pools[sh->ms->n_models + r], lead);

        return g ? (ls_supp_ring_t *)(g + 1) : NULL;
}

static inline int64_t *ls_ring_times(ls_ring_t *r) {
        return (int64_t *)(r + 1);
}

static inline int32_t *ls_ring_points(ls_ring_t *r, uint32_t track) {
        return (int32_t *)(ls_ring_times(r) + track);
}

static inline ls_hot_ev_t *ls_ring_evs(ls_ring_t *r, uint32_t track) {
        return (ls_hot_ev_t *)((unsigned char *)(ls_ring_points(r, track)) +
                               ((track * sizeof(int32_t) + 7) & ~(size_t)7));
}

/* Bytes of a ring record of @p track slots. */
static inline size_t ls_ring_rec_size(uint32_t track) {
        return sizeof(ls_ring_t) + track * sizeof(int64_t) +
               ((track * sizeof(int32_t) + 7) & ~(size_t)7) +
               track * sizeof(ls_hot_ev_t);
}

/*
 * Arithmetic and order
 */

static inline int32_t ls_sat32(int64_t v) {
        if (v > INT32_MAX)
                return INT32_MAX;
        if (v < INT32_MIN)
                return INT32_MIN;
        return (int32_t)v;
}

static inline int32_t ls_clamp_engagement(const ls_model_t *m, int64_t v) {
        if (m->has_engagement_max && v > m->engagement_max)
                v = m->engagement_max;
        if (v < m->engagement_floor)
                v = m->engagement_floor;
        return ls_sat32(v);
}

static inline int32_t ls_clamp_fit(const ls_model_t *m, int64_t v) {
        if (m->has_fit_max && v > m->fit_max)
                v = m->fit_max;
        if (m->has_fit_min && v < m->fit_min)
                v = m->fit_min;
        return ls_sat32(v);
}

/* 1 when @p t is @p none or a time within 0 .. LS_TIME_MAX. */
static inline int ls_time_ok(int64_t t, int64_t none) {
        return t == none || (t >= 0 && t <= LS_TIME_MAX);
}

/*
 * Shared from ls_engine.c
 */

/* One change of a lead under a model: what caused it, as of when, and
 * where its reasons start in the output buffer. */
typedef struct ls_change_s {
        ls_cause_t cause;
        const char *cause_id;
        int64_t time;
        uint32_t reasons_off; /* first reason of this change in ob */
} ls_change_t;

/** Appends a reason to @p ob; @returns it, or NULL when memory is short. */
ls_reason_t *ls_outbuf_add_reason(ls_outbuf_t *ob);

/** @returns the engagement after @p n decay steps/ticks from @p base. */
int32_t ls_decay_value(const ls_model_t *m, int32_t base, uint32_t n);

/** @returns how many decay steps/ticks are due at @p now since @p anchor. */
uint32_t ls_decay_due_n(const ls_model_t *m, int64_t anchor, int64_t now);

/** Brings @p lm's decay up to @p now; appends a decay reason if it took
 *  points. */
ls_err_t ls_catch_up_decay(const ls_model_t *model, ls_lm_t *lm, int64_t now,
                           ls_outbuf_t *ob);

/**
 * After fit / engagement of lead @p lead under model @p m moved from
 * (@p prev_fit, @p prev_eng): recomputes grade and band, emits a score
 * update if anything visible changed, then the MQL transitions.
 */
ls_err_t ls_settle(ls_shard_t *sh, uint32_t lead, size_t m, ls_lm_t *lm,
                   int32_t prev_fit, int32_t prev_eng, const ls_change_t *ch,
                   ls_outbuf_t *ob);

/** Sets @p lm's next decay timer and makes sure a wake-up is queued. */
ls_err_t ls_schedule(ls_shard_t *sh, uint32_t lead, uint32_t m, ls_lm_t *lm);

/** @returns the value of event field @p name (properties, then event_type
 *  and product), or NULL. */
const char *ls_field(const ls_input_t *in, const char *name);

/** 1 when every one of the @p n conditions @p c matches @p in. */
int ls_conds_all(const ls_modelset_t *ms, const ls_cond_t *c, size_t n,
                 const ls_input_t *in);

/**
 * @returns the time of the next decay step of @p lm that changes its
 *          engagement under @p m, or INT64_MAX when none will.
 */
int64_t ls_decay_next_due(const ls_model_t *m, const ls_lm_t *lm);

/**
 * @returns when lead part @p lm of model @p m next changes with no input:
 *          its next decay step, or for a logistic model the next bucket
 *          boundary that moves its features; INT64_MAX when never.
 */
int64_t ls_next_due(const ls_shard_t *sh, size_t m, ls_lm_t *lm);

/**
 * Rebuilds @p sh's wake-ups (one per pending timer) and its scored-lead
 * counts from the lead blocks: ls_timers_reset(), then
 * ls_timers_add_lead() of every lead, which a restore does as it loads
 * each lead (its block still in cache). @returns LS_OK or LS_ERR_NOMEM.
 */
ls_err_t ls_timers_rebuild(ls_shard_t *sh);
void ls_timers_reset(ls_shard_t *sh);
ls_err_t ls_timers_add_lead(ls_shard_t *sh, uint32_t lead);

/**
 * Makes room for one more element in the array @p arr of @p *sizep
 * elements of @p elem bytes, @p n used (doubling, @p first at first).
 * @returns the array (moved or not), or NULL when memory is short (@p arr
 *          is then unchanged).
 */
void *ls_outbuf_grow(void *arr, size_t *sizep, size_t n, size_t elem,
                     size_t first);

/** @returns how many bytes of @p v (at most LS_ALERT_ATTR_BYTES - 1) an
 *  attribute keeps: cut at a UTF-8 character boundary. */
size_t ls_attr_len(const char *v);

/** Copies event id @p id (may be NULL) into a hot-ring slot's id. */
void ls_hot_id_store(char *dst, const char *id);

/** Sets @p lm to a new lead's state under model @p m of @p sh's set. */
void ls_lm_init_model(const ls_shard_t *sh, size_t m, ls_lm_t *lm);

/** Sets every model part and the header of new lead @p lead. */
void ls_lm_init(const ls_shard_t *sh, uint32_t lead);

/*
 * Shared from ls_ring.c
 */

/** Sets up @p p for rings of @p rec_size bytes, referred to at @p ref_off
 *  in a block, @p clear bytes of each zeroed when taken, swept once
 *  @p reach after their newest entry. */
void ls_ring_pool_init(ls_ring_pool_t *p, size_t rec_size, size_t ref_off,
                       size_t clear, int64_t reach, uint32_t track);
void ls_ring_pool_free(ls_ring_pool_t *p);

/**
 * @returns in *@p rp @p lead's ring in @p p, taking one (its header and
 * @p p->clear bytes after it zeroed) when it has none. @returns LS_OK or
 * LS_ERR_NOMEM.
 */
ls_err_t ls_pool_take(ls_shard_t *sh, ls_ring_pool_t *p, uint32_t lead,
                      ls_ring_t **rp);

/** As ls_pool_take() for the ring of burst rule @p r. */
ls_err_t ls_burst_ring_take(ls_shard_t *sh, uint32_t lead, size_t r,
                            ls_supp_ring_t **ringp);
/** @returns the bytes of the pool's records. */
size_t ls_ring_pool_bytes(const ls_ring_pool_t *p);

/**
 * @returns in *@p rp lead @p lead's ring under model m, taking an empty
 * one (position 0 in @p lm) when it has none. @returns LS_OK or
 * LS_ERR_NOMEM.
 */
ls_err_t ls_ring_take(ls_shard_t *sh, uint32_t lead, size_t m, ls_lm_t *lm,
                      ls_ring_t **rp);

/** In each pool whose period stream time has entered since its last
 *  sweep, gives back every ring no event can reach any more (see the
 *  layout above): a ring is kept at most about twice as long as it can
 *  count. */
void ls_ring_sweep(ls_shard_t *sh);

/** Sets each pool's period as of stream time (a loaded or migrated shard
 *  sweeps when a live one would). */
void ls_ring_sweep_start(ls_shard_t *sh);

/** The sweep, when stream time entered a pool's new period. */
static inline void ls_ring_sweep_due(ls_shard_t *sh) {
        if (sh->stream_time >= 0 && sh->stream_time >= sh->next_sweep)
                ls_ring_sweep(sh);
}

/*
 * Shared from ls_strtab.c
 */

void ls_strtab_free(ls_strtab_t *t);
size_t ls_strtab_bytes(const ls_strtab_t *t);
/** @returns the number of value @p s (@p len bytes), counted once more;
 *  0 when memory is short. */
uint32_t ls_strtab_put(ls_strtab_t *t, const char *s, size_t len);
/** Counts value @p id (0: none) once less; frees it at 0. */
void ls_strtab_drop(ls_strtab_t *t, uint32_t id);

/** Sets @p lead's value of alert attribute k to the first @p len bytes
 *  of @p v (0: not set). @returns LS_OK or LS_ERR_NOMEM (unchanged). */
ls_err_t ls_attr_set(ls_shard_t *sh, uint32_t lead, size_t k, const char *v,
                     size_t len);

/*
 * Shared from ls_shard_image.c
 */

/** ls_shard_save() in image format @p format: 6 (what ls_shard_save()
 *  writes) or 5 (the tests write older images from it). */
ls_err_t ls_shard_save_format(const ls_shard_t *sh, ls_buf_t *buf,
                              uint32_t format);

/*
 * Shared from ls_alert.c
 */

/**
 * Fills what alert @p o (just emitted for lead @p lead under model @p m)
 * carries: fit bits, record time and backfill, and its items appended to
 * @p ob (top contributions, for hot_lead the window's events, the
 * attributes). @p hot_event: the hot.events type that fired a hot_lead,
 * NULL for the points. @returns LS_OK or LS_ERR_NOMEM.
 */
ls_err_t ls_alert_fill(ls_shard_t *sh, uint32_t lead, size_t m, ls_lm_t *lm,
                       ls_output_t *o, ls_outbuf_t *ob, const char *hot_event);

/*
 * Shared from ls_suppress.c
 */

/**
 * Runs the set's suppression rules on event @p in of lead @p lead (its
 * clock already at @p now): a burst recognised here takes back its
 * earlier events' points (corrective updates appended to @p ob); the
 * event is counted by the burst rule of its type (*entp, *ent_rulep: its
 * entry, which the apply path fills if the event is scored; NULL when it
 * is suppressed or no burst rule counts it) and, if not suppressed,
 * remembered as an open of its message.
 * @returns LS_OK with the first rule that suppresses the event in *rulep
 *          (-1: none), or LS_ERR_NOMEM.
 */
ls_err_t ls_suppress_event(ls_shard_t *sh, uint32_t lead, const ls_input_t *in,
                           int64_t now, ls_outbuf_t *ob, int *rulep,
                           ls_burst_ent_t **entp, size_t *ent_rulep);

/*
 * Shared from ls_shard_check.c
 */

/**
 * @returns the name of the first field of lead @p lead's state that is out
 *          of range, or NULL when every one is in range.
 */
const char *ls_lead_check(const ls_shard_t *sh, uint32_t lead);

#endif /* LS_ENGINE_INT_H */
