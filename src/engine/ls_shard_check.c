/*
 * ls_shard_check.c - the shard's invariants, checked: each lead's fields
 * (its suppression state included) are within what the engine computes
 * with (ls_lead_check(), also run on every loaded lead), and ls_shard_check() walks the lead table, the
 * decay wake-ups and the scored counts, as debug builds and tests do after a batch.
 */
#include "leadscore/ls_engine.h"

#include <inttypes.h>
#include <string.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_logit.h"
#include "engine/ls_engine_int.h"

/*
 * The first field of lead @p lead's loaded state that the engine could
 * not compute with (a time past the year 9999, a grade past the model's,
 * a sum beyond the model's clamps, a timer that does not follow from the
 * decay state), or NULL when every one is in range: a snapshot with a
 * valid checksum may still have been written by something else.
 */
/* @p lead's ring in pool @p p, if it holds one: its own. */
static const char *ls_pool_ring_check(const ls_shard_t *sh,
                                      const ls_ring_pool_t *p, uint32_t lead) {
        const uint32_t *ref = ls_pool_ref(sh, p, lead);

        if (!ref || !*ref)
                return NULL;
        if (*ref > p->made)
                return "ring number";
        if (ls_ring_rec(p, *ref - 1)->lead != lead)
                return "ring owner";
        return NULL;
}

/* The first field of burst entry @p e that is out of range, or NULL. */
static const char *ls_burst_ent_check(const ls_shard_t *sh, size_t r,
                                      ls_burst_ent_t *e) {
        const ls_modelset_t *ms = sh->ms;
        size_t m, i;

        if (!ls_time_ok(e->time, INT64_MIN) || !ls_time_ok(e->now, INT64_MIN))
                return "burst event time";
        if (e->flags & ~(uint32_t)LS_BURST_REVERSIBLE)
                return "burst event flags";
        for (m = 0; m < ms->n_models; m++) {
                const ls_model_t *model = &ms->models[m];
                const ls_undo_t *u = ls_undo(sh, e, r, m);
                const ls_cap_slot_t *c = (const ls_cap_slot_t *)(u + 1);

                if (u->fired > 1 || u->hot_set > 1 ||
                    (u->hot_set && u->hot_slot >= ls_hot_ring_len(model)))
                        return "burst event flags";
                if (!ls_time_ok(u->prev_anchor, INT64_MIN) ||
                    (model->decay.kind == LS_DECAY_STEPS &&
                     u->prev_decay_n > model->decay.n_steps))
                        return "burst event decay state";
                if (u->fired &&
                    (u->prev_base != ls_clamp_engagement(model, u->prev_base) ||
                     u->eng_before !=
                             ls_clamp_engagement(model, u->eng_before)))
                        return "burst event engagement";
                for (i = 0; i < ls_undo_layout(sh, r, m)->n_slots; i++)
                        if (c[i].window < 0 || c[i].window > LS_TIME_MAX ||
                            c[i].points < 0)
                                return "burst event cap commit";
        }
        return NULL;
}

/* The first field of lead @p lead's suppression state out of range. */
static const char *ls_supp_check(const ls_shard_t *sh, uint32_t lead) {
        const ls_modelset_t *ms = sh->ms;
        size_t r;
        uint32_t k;

        for (r = 0; r < ms->n_suppress; r++) {
                const ls_suppress_t *s = &ms->suppress[r];
                ls_supp_ring_t *ring = ls_supp_ring(sh, lead, r);
                const char *bad;

                if (s->kind == LS_SUPPRESS_MATCH)
                        continue;
                if (s->kind == LS_SUPPRESS_UNOPENED) {
                        if (ring->pos >= s->remember || ring->n > s->remember)
                                return "unopened ring";
                        continue;
                }
                if ((bad = ls_pool_ring_check(sh, &sh->pools[ms->n_models + r],
                                              lead)))
                        return bad;
                ring = ls_burst_ring(sh, lead, r);
                if (!ring)
                        continue;
                if (ring->pos >= s->count - 1 || ring->n > s->count - 1 ||
                    (ring->n < s->count - 1 && ring->pos != ring->n))
                        return "burst ring";
                /* entries 0 .. n - 1 (written from 0 when taken) */
                for (k = 0; k < ring->n; k++)
                        if ((bad = ls_burst_ent_check(
                                     sh, r, ls_burst_ent(sh, ring, r, k))))
                                return bad;
        }
        return NULL;
}

/* 1 when @p n bytes at @p p are a string padded with NUL bytes (every
 * byte after the first NUL is NUL; the string may fill all n). */
static int ls_padded_ok(const char *p, size_t n) {
        const char *z = memchr(p, '\0', n);

        if (!z)
                return 1;
        for (; z < p + n; z++)
                if (*z)
                        return 0;
        return 1;
}

/* The alert state: attribute values. */
static const char *ls_alert_check(const ls_shard_t *sh, uint32_t lead) {
        const ls_modelset_t *ms = sh->ms;
        size_t k;

        for (k = 0; k < ms->n_alert_attrs; k++) {
                uint32_t id = *ls_attr_ref(sh, lead, k);

                if (id > sh->attrs.n || (id && !sh->attrs.ents[id - 1].s))
                        return "alert attribute";
        }
        return NULL;
}

/* Model m's hot-lead ring of @p lead, if it has one: its own, with times
 * in range and known event types. */
static const char *ls_ring_check(const ls_shard_t *sh, uint32_t lead,
                                 size_t m) {
        const ls_ring_pool_t *p = &sh->pools[m];
        uint32_t i, track = p->track;
        ls_ring_t *r;
        const char *bad = ls_pool_ring_check(sh, p, lead);

        if (bad)
                return bad;
        if (!(r = ls_ring(sh, lead, m)))
                return NULL;
        if (r->n > track)
                return "hot-lead ring fill";
        /* written from slot 0 on: until full, the next slot is the n-th */
        if (r->n < track && ls_lm(sh, lead, m)->hot_pos != r->n)
                return "hot-lead ring position";
        for (i = 0; i < r->n; i++) {
                const ls_hot_ev_t *ev = &ls_ring_evs(r, track)[i];

                if (!ls_time_ok(ls_ring_times(r)[i], INT64_MIN))
                        return "hot-lead ring time";
                if (ev->type > sh->ms->n_event_types ||
                    !ls_padded_ok(ev->id, LS_HOT_ID_BYTES))
                        return "hot-lead ring event";
        }
        return NULL;
}

/* A logistic model's part: scores in range and the newest bucket of its
 * window at or before the lead's clock. */
static const char *ls_logit_check(const ls_shard_t *sh, uint32_t lead, size_t m,
                                  ls_lm_t *lm) {
        const ls_model_t *model = &sh->ms->models[m];
        const ls_logit_hdr_t *h = ls_logit_state(sh, lm, m);
        int64_t total = (int64_t)lm->fit + lm->engagement;
        int64_t clock = ls_hdr(sh, lead)->clock;

        if (lm->fit < 0 || lm->fit > 100 || total < 0 || total > 100)
                return "fit or engagement";
        if (h->head != INT64_MIN && (h->head < 0 || clock == INT64_MIN ||
                                     h->head > clock / model->logit.bucket_ms))
                return "logistic window";
        return NULL;
}

const char *ls_lead_check(const ls_shard_t *sh, uint32_t lead) {
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
        if (ms->n_suppress) {
                const char *bad = ls_supp_check(sh, lead);

                if (bad)
                        return bad;
        }
        if (sh->block_size > sh->alert_off) {
                const char *bad = ls_alert_check(sh, lead);

                if (bad)
                        return bad;
        }
        for (m = 0; m < ms->n_models; m++) {
                const ls_model_t *model = &ms->models[m];
                ls_lm_t *lm = ls_lm(sh, lead, m);
                const ls_cap_slot_t *slots = ls_cap_slots(lm);
                uint32_t track = ls_hot_ring_len(model);
                const char *bad = ls_ring_check(sh, lead, m);

                if (bad)
                        return bad;

                if (lm->grade >= model->n_grades || lm->band >= model->n_bands)
                        return "grade or band";
                if (track && lm->hot_pos >= track)
                        return "hot-lead ring position";
                if (model->n_fit_rules < 64 &&
                    lm->fit_bits >> model->n_fit_rules)
                        return "fit rule bits";
                if (model->kind == LS_MODEL_LOGISTIC) {
                        /* fit and total are percentages, engagement their
                         * difference */
                        if ((bad = ls_logit_check(sh, lead, m, lm)) != NULL)
                                return bad;
                } else if (lm->fit != ls_clamp_fit(model, lm->fit) ||
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
                if (lm->timer_due != ls_next_due(sh, m, lm))
                        return "decay timer";
                for (i = 0; i < model->n_cap_slots; i++)
                        if (slots[i].window < 0 ||
                            slots[i].window > LS_TIME_MAX)
                                return "cap window";
        }
        return NULL;
}

ls_err_t ls_shard_check(const ls_shard_t *sh, char *errstr,
                        size_t errstr_size) {
        size_t n = ls_lead_table_count(sh->leads), i, m;
        const char *bad;

        if (ls_tq_count(&sh->tq) < sh->live_timers ||
            sh->live_timers > n * sh->ms->n_models)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "timers: %zu wake-ups, %zu live",
                                 ls_tq_count(&sh->tq), sh->live_timers);
        if ((bad = ls_tq_check(&sh->tq, n, sh->ms->n_models, &i)))
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "timer wake-up %zu: %s", i, bad);
        for (m = 0; m < sh->ms->n_models + sh->ms->n_suppress; m++) {
                const ls_ring_pool_t *p = &sh->pools[m];
                uint32_t held = 0, free = 0, f;

                /* every ring is held by the lead it names (ls_lead_check
                 * checks the other way), or on the free list */
                for (i = 0; i < p->made; i++) {
                        ls_ring_t *r = ls_ring_rec(p, (uint32_t)i);
                        const uint32_t *ref;

                        if (r->lead == UINT32_MAX)
                                continue;
                        ref = r->lead < n ? ls_pool_ref(sh, p, r->lead) : NULL;
                        if (!ref || *ref != i + 1)
                                return ls_seterr(errstr, errstr_size,
                                                 LS_ERR_INVALID,
                                                 "ring pool %zu: ring %zu is "
                                                 "not its lead's",
                                                 m, i);
                        held++;
                }
                for (f = p->free1; f; f = ls_ring_rec(p, f - 1)->next1) {
                        if (f > p->made || free == p->made ||
                            ls_ring_rec(p, f - 1)->lead != UINT32_MAX)
                                return ls_seterr(errstr, errstr_size,
                                                 LS_ERR_INVALID,
                                                 "ring pool %zu: free list "
                                                 "broken at %u",
                                                 m, f);
                        free++;
                }
                if (held != p->live || held + free != p->made)
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "ring pool %zu: %u rings held "
                                         "(counted %u), %u free, %u made",
                                         m, held, p->live, free, p->made);
        }
        if (sh->ms->n_alert_attrs) {
                /* every value is counted as often as leads hold it */
                uint32_t *refs = ls_calloc(sh->attrs.n + 1, sizeof(*refs));
                uint32_t v, live = 0;

                if (!refs)
                        return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                         "out of memory");
                for (i = 0; i < n; i++)
                        for (m = 0; m < sh->ms->n_alert_attrs; m++) {
                                v = *ls_attr_ref(sh, (uint32_t)i, m);
                                if (v <= sh->attrs.n)
                                        refs[v]++;
                        }
                for (v = 1; v <= sh->attrs.n; v++) {
                        const ls_strent_t *e = &sh->attrs.ents[v - 1];

                        live += e->s != NULL;
                        if (e->s ? e->refs != refs[v] || !e->refs ||
                                            strlen(e->s) != e->len ||
                                            e->len >= LS_ALERT_ATTR_BYTES
                                 : refs[v] != 0) {
                                uint32_t held = refs[v];

                                ls_free(refs);
                                return ls_seterr(errstr, errstr_size,
                                                 LS_ERR_INVALID,
                                                 "alert attribute value %u: "
                                                 "held %u times, counted %u",
                                                 v, held, e->refs);
                        }
                }
                ls_free(refs);
                if (live != sh->attrs.live)
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "alert attribute values: %u live, "
                                         "counted %u",
                                         live, sh->attrs.live);
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
                        /* a wake-up at or before a pending timer is
                         * queued (ls_arm) */
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
