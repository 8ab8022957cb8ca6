/*
 * ls_shard.c - a shard's life and read-only views: the lead block layout
 * for a model set (ls_engine_int.h), the event-type table and the
 * per-type rule index built once per shard, new / destroy, the lead cap
 * setting, and the views of leads and counters that `score --stats`,
 * replays and tests read. Nothing here changes a lead's scores.
 */
#include "leadscore/ls_engine.h"

#include <string.h>
#include <strings.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_logit.h"
#include "engine/ls_engine_int.h"

/*
 * Shard layout
 */

static size_t ls_align8(size_t n) {
        return (n + 7) & ~(size_t)7;
}

static int ls_etypes_build(ls_shard_t *sh) {
        const ls_modelset_t *ms = sh->ms;
        size_t n = ms->n_event_types, size = 16, i, m;

        for (m = 0; m < ms->n_models; m++)
                n += ms->models[m].hot.n_events;
        for (m = 0; m < ms->n_suppress; m++)
                n += ms->suppress[m].n_events + 1;
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
        /* types only suppression names (opens that no rule scores):
         * they must reach the lead to feed its suppression state */
        for (m = 0; m < ms->n_suppress; m++) {
                const ls_suppress_t *s = &ms->suppress[m];

                for (i = 0; i <= s->n_events; i++) {
                        const char *name =
                                i < s->n_events ? s->events[i] : s->event;
                        ls_etype_t *e;

                        if (!name)
                                continue;
                        e = ls_etype_slot(sh, name);
                        if (!e->name) {
                                e->name = name;
                                e->type_idx = -1;
                                e->supp_only = 1;
                        }
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

/* How long after its newest entry a ring of a window of @p within can
 * still count: lateness + within, or INT64_MAX (never given back). */
static int64_t ls_reach(const ls_modelset_t *ms, int64_t within) {
        if (ms->lateness_ms > LS_TIME_MAX || within > LS_TIME_MAX ||
            ms->lateness_ms < 0 || within < 0)
                return INT64_MAX;
        return ms->lateness_ms + within;
}

/* Bytes of model @p m's part of a block; *logit_offp: where its logistic
 * state starts in it. */
static size_t ls_model_part_size(const ls_model_t *m, size_t *logit_offp) {
        size_t size = sizeof(ls_lm_t) + m->n_cap_slots * sizeof(ls_cap_slot_t);

        *logit_offp = size;
        if (m->kind == LS_MODEL_LOGISTIC)
                size += ls_logit_size(m);
        return size;
}

/* Adds the stretch @p len bytes at @p mem in a block, at @p img in an
 * image's, joining it to the last when both follow on. */
static void ls_img_seg(ls_shard_t *sh, size_t mem, size_t img, size_t len) {
        ls_img_seg_t *last =
                sh->n_img_segs ? &sh->img_segs[sh->n_img_segs - 1] : NULL;

        if (!len)
                return;
        if (last && last->mem + last->len == mem &&
            last->img + last->len == img) {
                last->len += len;
                return;
        }
        sh->img_segs[sh->n_img_segs++] = (ls_img_seg_t){mem, img, len};
}

/*
 * The block of a format 5 image, where each model's hot-lead ring is part
 * of the block (time and points after the cap counters, events after the
 * contributions), and which stretches of a block sit where in it.
 * @returns 0 or -1 (memory).
 */
static int ls_img_layout(ls_shard_t *sh, size_t img_supp_end) {
        const ls_modelset_t *ms = sh->ms;
        size_t m, off, r;
        size_t n = ms->n_models ? ms->n_models : 1;

        sh->img_segs =
                ls_calloc(3 + 3 * n + ms->n_suppress, sizeof(*sh->img_segs));
        sh->img_hot_off = ls_calloc(n, sizeof(size_t));
        sh->img_hot_ev_off = ls_calloc(n, sizeof(size_t));
        sh->img_model_off = ls_calloc(n, sizeof(size_t));
        if (!sh->img_segs || !sh->img_hot_off || !sh->img_hot_ev_off ||
            !sh->img_model_off)
                return -1;
        ls_img_seg(sh, 0, 0, sh->supp_off);  /* header, dedupe */
        for (r = 0; r < ms->n_suppress; r++) /* burst rings: in pools */
                if (ms->suppress[r].kind == LS_SUPPRESS_UNOPENED)
                        ls_img_seg(sh, sh->supp_rule_off[r],
                                   sh->img_supp_rule_off[r],
                                   sizeof(ls_supp_ring_t) +
                                           ms->suppress[r].remember *
                                                   sizeof(uint64_t));
        off = ls_align8(img_supp_end);
        for (m = 0; m < ms->n_models; m++) {
                const ls_model_t *model = &ms->models[m];
                size_t track = ls_hot_ring_len(model), logit;
                size_t part = ls_model_part_size(model, &logit);

                sh->img_model_off[m] = off;
                ls_img_seg(sh, sh->model_off[m], off, logit);
                off += logit;
                if (track)
                        sh->img_hot_off[m] = off;
                off = ls_align8(off +
                                track * (sizeof(int64_t) + sizeof(int32_t)));
                ls_img_seg(sh, sh->model_off[m] + logit, off, part - logit);
                off += part - logit;
        }
        sh->img_alert_off = off; /* then the attribute values (their
                                  * bytes, ls_shard_image.c) */
        off = ls_align8(off + ms->n_alert_attrs * LS_ALERT_ATTR_BYTES);
        for (m = 0; m < ms->n_models; m++) {
                const ls_model_t *model = &ms->models[m];
                size_t nc = ls_contrib_len(ms, model);

                if (!nc)
                        continue;
                ls_img_seg(sh, sh->contrib_off[m], off, nc * sizeof(int32_t));
                off += nc * sizeof(int32_t);
                if (ls_hot_ring_len(model)) {
                        sh->img_hot_ev_off[m] = off;
                        off += ls_hot_ring_len(model) * sizeof(ls_hot_ev_t);
                }
                off = ls_align8(off);
        }
        sh->img_block_size = off;
        return 0;
}

/* The cap counters the rules of burst rule @p s's types can commit to
 * under @p model, each once, into @p lay. @returns 0 or -1 (memory). */
static int ls_undo_slots(const ls_suppress_t *s, const ls_model_t *model,
                         ls_undo_layout_t *lay) {
        size_t i, e;

        lay->slots = ls_calloc(2 * model->n_rules + 1, sizeof(uint32_t));
        if (!lay->slots)
                return -1;
        for (i = 0; i < model->n_rules; i++) {
                const ls_rule_t *rule = &model->rules[i];
                const ls_cap_t *caps[2] = {
                        &rule->cap,
                        rule->category >= 0
                                ? &model->categories[rule->category].cap
                                : NULL};

                for (e = 0; e < s->n_events; e++)
                        if (!strcasecmp(s->events[e], rule->event_type))
                                break;
                if (e == s->n_events)
                        continue;
                for (e = 0; e < 2; e++) {
                        uint32_t k;

                        if (!caps[e] || !caps[e]->set)
                                continue;
                        for (k = 0; k < lay->n_slots; k++)
                                if (lay->slots[k] == caps[e]->slot)
                                        break;
                        if (k == lay->n_slots)
                                lay->slots[lay->n_slots++] = caps[e]->slot;
                }
        }
        return 0;
}

/* Lays out the suppression state of a block from @p off (and of a format
 * 5 image's block from the same offset, into *img_endp); @returns the
 * offset after it, or 0 when memory is short. A burst rule's ring is in
 * its pool: the block holds its number. */
static size_t ls_supp_layout(ls_shard_t *sh, size_t off, size_t *img_endp) {
        size_t img = off;

        const ls_modelset_t *ms = sh->ms;
        size_t r, m;

        sh->undo = ls_calloc(ms->n_suppress * ms->n_models, sizeof(*sh->undo));
        if (!sh->undo)
                return 0;
        sh->supp_off = off;
        for (r = 0; r < ms->n_suppress; r++) {
                const ls_suppress_t *s = &ms->suppress[r];
                size_t ent = sizeof(ls_burst_ent_t);

                sh->supp_rule_off[r] = off;
                sh->img_supp_rule_off[r] = img;
                if (s->kind == LS_SUPPRESS_UNOPENED) {
                        off += sizeof(ls_supp_ring_t) +
                               s->remember * sizeof(uint64_t);
                        img += sizeof(ls_supp_ring_t) +
                               s->remember * sizeof(uint64_t);
                }
                if (s->kind != LS_SUPPRESS_BURST)
                        continue;
                for (m = 0; m < ms->n_models; m++) {
                        ls_undo_layout_t *lay = &sh->undo[r * ms->n_models + m];

                        if (ls_undo_slots(s, &ms->models[m], lay) != 0)
                                return 0;
                        lay->off = ent;
                        ent += sizeof(ls_undo_t) +
                               lay->n_slots * sizeof(ls_cap_slot_t);
                }
                sh->burst_ent_size[r] = ent;
                img += sizeof(ls_supp_ring_t) + (s->count - 1) * ent;
                off += sizeof(uint64_t); /* its ring's number */
        }
        *img_endp = img;
        return off;
}

ls_shard_t *ls_shard_new(const ls_modelset_t *ms) {
        ls_shard_t *sh = ls_calloc(1, sizeof(*sh));
        size_t off, m, n_x = 1, img_supp_end;

        if (!sh)
                return NULL;
        sh->ms = ms;
        sh->stream_time = INT64_MIN;
        ls_tq_init(&sh->tq);
        sh->model_off = ls_calloc(ms->n_models ? ms->n_models : 1,
                                  sizeof(*sh->model_off));
        sh->scored =
                ls_calloc(ms->n_models ? ms->n_models : 1, sizeof(*sh->scored));
        sh->contrib_off = ls_calloc(ms->n_models ? ms->n_models : 1,
                                    sizeof(*sh->contrib_off));
        sh->pools = ls_calloc(ms->n_models + ms->n_suppress + 1,
                              sizeof(*sh->pools));
        sh->logit_off = ls_calloc(ms->n_models ? ms->n_models : 1,
                                  sizeof(*sh->logit_off));
        for (m = 0; m < ms->n_models; m++)
                if (ls_logit_n_features(&ms->models[m]) > n_x)
                        n_x = ls_logit_n_features(&ms->models[m]);
        sh->logit_x = ls_calloc(n_x, sizeof(double));
        if (!sh->model_off || !sh->scored || !sh->contrib_off || !sh->pools ||
            !sh->logit_off || !sh->logit_x)
                goto fail;
        off = ls_align8(sizeof(ls_lead_hdr_t) + ms->dedupe * sizeof(uint64_t));
        sh->supp_off = off;
        img_supp_end = off;
        if (ms->n_suppress &&
            (off = ls_align8(ls_supp_layout(sh, off, &img_supp_end))) == 0)
                goto fail;
        for (m = 0; m < ms->n_models; m++) {
                sh->model_off[m] = off;
                off += ls_model_part_size(&ms->models[m], &sh->logit_off[m]);
        }
        sh->alert_off = off;
        off = ls_align8(off + ms->n_alert_attrs * sizeof(uint32_t));
        for (m = 0; m < ms->n_models; m++) {
                const ls_model_t *model = &ms->models[m];
                size_t nc = ls_contrib_len(ms, model);

                if (nc) {
                        sh->contrib_off[m] = off;
                        off += nc * sizeof(int32_t);
                }
                /* every model with a ring has its number (with or without
                 * contributions: hot with no rules) */
                if (ls_hot_ring_len(model)) {
                        ls_ring_pool_init(
                                &sh->pools[m],
                                ls_ring_rec_size(ls_hot_ring_len(model)), off,
                                0, ls_reach(ms, model->hot.within_ms),
                                ls_hot_ring_len(model));
                        off += sizeof(uint32_t);
                }
                off = ls_align8(off);
        }
        for (m = 0; m < ms->n_suppress; m++) {
                const ls_suppress_t *s = &ms->suppress[m];

                if (s->kind == LS_SUPPRESS_BURST)
                        ls_ring_pool_init(
                                &sh->pools[ms->n_models + m],
                                sizeof(ls_ring_t) + sizeof(ls_supp_ring_t) +
                                        (s->count - 1) * sh->burst_ent_size[m],
                                sh->supp_rule_off[m], sizeof(ls_supp_ring_t),
                                ls_reach(ms, s->within_ms), 0);
        }
        ls_ring_sweep_start(sh);
        sh->block_size = off;
        sh->leads = ls_lead_table_new(sh->block_size);
        if (!sh->leads || ls_etypes_build(sh) != 0 ||
            ls_by_type_build(sh) != 0 || ls_img_layout(sh, img_supp_end) != 0)
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
        ls_free(sh->contrib_off);
        for (size_t k = 0;
             sh->pools && k < sh->ms->n_models + sh->ms->n_suppress; k++)
                ls_ring_pool_free(&sh->pools[k]);
        ls_free(sh->pools);
        ls_strtab_free(&sh->attrs);
        ls_free(sh->img_segs);
        ls_free(sh->img_hot_off);
        ls_free(sh->img_hot_ev_off);
        ls_free(sh->img_model_off);
        ls_free(sh->logit_off);
        ls_free(sh->logit_x);
        for (size_t k = 0;
             sh->undo && k < sh->ms->n_suppress * sh->ms->n_models; k++)
                ls_free(sh->undo[k].slots);
        ls_free(sh->undo);
        ls_tq_free(&sh->tq);
        ls_free(sh);
}

void ls_shard_set_max_leads(ls_shard_t *sh, size_t max) {
        sh->max_leads = max;
}

void ls_shard_set_observer(ls_shard_t *sh, const ls_observer_t *obs) {
        if (obs)
                sh->observer = *obs;
        else
                memset(&sh->observer, 0, sizeof(sh->observer));
}

size_t ls_lead_bytes_estimate(const ls_modelset_t *ms) {
        ls_shard_t *sh = ls_shard_new(ms);
        size_t block = sh ? sh->block_size : 1024;
        size_t m, rings = 0;

        for (m = 0; sh && m < ms->n_models + ms->n_suppress; m++)
                if (sh->pools[m].ref_off)
                        rings += sh->pools[m].rec_size;
        ls_shard_destroy(sh);
        /* the block, a 64-byte key, an index entry and a decay timer per
         * model, doubled for the table's and the allocator's slack; then
         * its rings, as if every lead were active at once (a flood of
         * new leads is), and its own attribute values, as long as they
         * may be */
        rings += ms->n_alert_attrs * (LS_ALERT_ATTR_BYTES + 80);
        return 2 * (block + 64 + 16 + ms->n_models * sizeof(ls_timer_t)) +
               rings;
}

uint64_t ls_input_lead_hash(const ls_input_t *in) {
        uint64_t h;

        if (in->kind == LS_INPUT_TICK || !in->lead_id)
                return 0;
        h = ls_hash64(in->lead_id, strlen(in->lead_id));
        return h ? h : 1; /* (0 says none) */
}

void ls_shard_prefetch(const ls_shard_t *sh, uint64_t lead_hash, int stage) {
        if (!lead_hash)
                return;
        if (stage == 0)
                ls_lead_table_prefetch_hashed(sh->leads, lead_hash);
        else
                ls_lead_table_prefetch_block(sh->leads, lead_hash);
}

/*
 * Views
 */

const ls_modelset_t *ls_shard_modelset(const ls_shard_t *sh) {
        return sh->ms;
}

int64_t ls_shard_stream_time(const ls_shard_t *sh) {
        return sh->stream_time;
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
        size_t m, rings = 0, held = 0;

        *stats = sh->stats;
        for (m = 0; m < sh->ms->n_models + sh->ms->n_suppress; m++) {
                rings += ls_ring_pool_bytes(&sh->pools[m]);
                held += (size_t)sh->pools[m].live * sh->pools[m].rec_size;
        }
        stats->leads = ls_lead_table_count(sh->leads);
        held += sh->attrs.bytes; /* the values, each once */
        stats->state_bytes = ls_lead_table_bytes(sh->leads) + rings +
                             ls_strtab_bytes(&sh->attrs) + ls_tq_bytes(&sh->tq);
        /* a lead's block, and the rings leads hold, on average */
        stats->lead_model_bytes =
                !sh->ms->n_models ? 0
                : stats->leads    ? (sh->block_size + held / stats->leads) /
                                         sh->ms->n_models
                               : sh->block_size / sh->ms->n_models;
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
