/*
 * ls_suppress.c - behavioural suppression (docs/SEMANTICS.md,
 * "Suppression"): the `suppress` rules of a model set run on each event
 * of a lead (ls_suppress_event(), called by ls_shard_apply() only for sets
 * that have them), bursts recognised late take back the points of their
 * earlier events with a corrective update, and opens are remembered per
 * lead. The lead's memories live in its block (ls_engine_int.h); what a
 * scored event did to each model is noted by the apply path in
 * ls_engine.c, so that it can be undone here exactly.
 */
#include "leadscore/ls_engine.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "leadscore/ls_hash.h"
#include "engine/ls_engine_int.h"

static int ls_type_in(char *const *types, size_t n, const char *type) {
        size_t i;

        for (i = 0; i < n; i++)
                if (!strcasecmp(types[i], type))
                        return 1;
        return 0;
}

/* 1 when message hash @p h is in the unopened ring. */
static int ls_unopened_has(ls_supp_ring_t *ring, uint64_t h) {
        const uint64_t *ids = ls_unopened_ids(ring);
        uint32_t i;

        for (i = 0; i < ring->n; i++)
                if (ids[i] == h)
                        return 1;
        return 0;
}

/*
 * Takes back, under one model, the points of the burst entries @p ents
 * (newest first), as of @p now: one corrective update with cause
 * `suppressed` if anything visible changed.
 */
static ls_err_t ls_burst_undo_model(ls_shard_t *sh, uint32_t lead, size_t m,
                                    size_t sr, ls_burst_ent_t *const *ents,
                                    uint32_t n, const ls_input_t *in,
                                    int64_t now, ls_outbuf_t *ob) {
        const ls_model_t *model = &sh->ms->models[m];
        const ls_suppress_t *s = &sh->ms->suppress[sr];
        const ls_undo_layout_t *lay = ls_undo_layout(sh, sr, m);
        ls_lm_t *lm = ls_lm(sh, lead, m);
        ls_cap_slot_t *slots = ls_cap_slots(lm);
        ls_ring_t *ring = ls_ring(sh, lead, m);
        int32_t prev_eng = lm->engagement, before;
        ls_change_t ch = {LS_CAUSE_SUPPRESSED, in->event_id, now,
                          (uint32_t)ob->n_reasons};
        uint32_t k, i, fired = 0, dn;
        ls_reason_t *r;
        ls_err_t err;

        for (k = 0; k < n; k++)
                fired |= ls_undo(sh, ents[k], sr, m)->fired;
        if (!fired)
                return LS_OK;
        err = ls_catch_up_decay(model, lm, now, ob);
        if (err)
                return err;
        before = lm->engagement;
        for (k = 0; k < n; k++) {
                ls_burst_ent_t *e = ents[k];
                ls_undo_t *u = ls_undo(sh, e, sr, m);
                const ls_cap_slot_t *c = (const ls_cap_slot_t *)(u + 1);

                if (!u->fired)
                        continue;
                for (i = 0; i < lay->n_slots; i++) {
                        ls_cap_slot_t *sl = &slots[lay->slots[i]];

                        if (c[i].count == 0 || sl->window != c[i].window)
                                continue;
                        sl->points = sl->points > c[i].points
                                             ? sl->points - c[i].points
                                             : 0;
                        sl->count = sl->count > c[i].count
                                            ? sl->count - c[i].count
                                            : 0;
                }
                /* its ring slot, unless the ring was given back since
                 * (then every entry it held, this one too, was out of
                 * reach, and a slot of a ring taken since holds a later
                 * time) */
                if (u->hot_set && ring && ring->n > u->hot_slot &&
                    ls_ring_times(ring)[u->hot_slot] == e->time)
                        ls_ring_points(ring,
                                       ls_hot_ring_len(model))[u->hot_slot] = 0;
                if (lm->anchor == e->now) {
                        /* it was the last activity: back to the decay
                         * state before it */
                        lm->anchor = u->prev_anchor;
                        lm->base = u->prev_base;
                        lm->decay_n = u->prev_decay_n;
                        lm->engagement = u->eng_before;
                } else {
                        /* later activity holds the clock: only its points */
                        lm->engagement = ls_clamp_engagement(
                                model, (int64_t)lm->engagement - u->delta);
                        lm->base = ls_clamp_engagement(
                                model, (int64_t)lm->base - u->delta);
                }
        }
        /* the decay clock may have moved back: bring it up to now */
        dn = ls_decay_due_n(model, lm->anchor, now);
        if (dn > lm->decay_n) {
                lm->decay_n = dn;
                lm->engagement = ls_decay_value(model, lm->base, dn);
        }
        r = ls_outbuf_add_reason(ob);
        if (!r)
                return LS_ERR_NOMEM;
        r->kind = LS_REASON_SUPPRESSED;
        r->rule_id = s->id;
        r->points = lm->engagement - before;
        r->capped = 0;
        if (ls_contrib(sh, lead, m)) /* what the rule took, as its reason */
                ls_contrib(sh, lead, m)[model->n_rules + sr] = ls_sat32(
                        (int64_t)ls_contrib(sh, lead, m)[model->n_rules + sr] +
                        r->points);
        err = ls_settle(sh, lead, m, lm, lm->fit, prev_eng, &ch, ob);
        if (!err)
                err = ls_schedule(sh, lead, (uint32_t)m, lm);
        return err;
}

/*
 * Burst rule @p r is recognised at @p in: takes back every scored entry
 * of its ring within its window.
 */
static ls_err_t ls_burst_reverse(ls_shard_t *sh, uint32_t lead, size_t r,
                                 ls_supp_ring_t *ring, const ls_input_t *in,
                                 int64_t now, ls_outbuf_t *ob) {
        const ls_suppress_t *s = &sh->ms->suppress[r];
        ls_burst_ent_t *ents[LS_SUPPRESS_MAX_COUNT];
        uint32_t cap = s->count - 1, n = 0, j;
        ls_err_t err;
        size_t m;

        for (j = 0; j < ring->n; j++) { /* newest first */
                ls_burst_ent_t *e = ls_burst_ent(
                        sh, ring, r, (ring->pos + cap - 1 - j) % cap);

                if ((e->flags & LS_BURST_REVERSIBLE) &&
                    e->time > in->time - s->within_ms)
                        ents[n++] = e;
        }
        if (n == 0)
                return LS_OK;
        for (m = 0; m < sh->ms->n_models; m++) {
                err = ls_burst_undo_model(sh, lead, m, r, ents, n, in, now, ob);
                if (err)
                        return err;
        }
        for (j = 0; j < n; j++)
                ents[j]->flags &= ~(uint32_t)LS_BURST_REVERSIBLE;
        sh->stats.reversed += n;
        return LS_OK;
}

/*
 * Runs the set's suppression rules on event @p in of lead @p lead: a
 * burst recognised here takes back its earlier events' points (outputs
 * appended), the event is counted by the burst rule of its type (*entp:
 * its entry, to be filled if it is scored) and, if not suppressed,
 * remembered as an open of its message.
 * @returns the index of the first rule that suppresses the event in
 *          *rulep, or -1.
 */
ls_err_t ls_suppress_event(ls_shard_t *sh, uint32_t lead, const ls_input_t *in,
                           int64_t now, ls_outbuf_t *ob, int *rulep,
                           ls_burst_ent_t **entp, size_t *ent_rulep) {
        const ls_modelset_t *ms = sh->ms;
        int rule = -1;
        size_t r;
        ls_err_t err;

        *entp = NULL;
        for (r = 0; r < ms->n_suppress; r++) {
                const ls_suppress_t *s = &ms->suppress[r];
                ls_supp_ring_t *ring;
                const char *v;

                if (s->kind == LS_SUPPRESS_MATCH) {
                        if (rule < 0 &&
                            ls_conds_all(ms, s->when, s->n_when, in))
                                rule = (int)r;
                } else if (s->kind == LS_SUPPRESS_UNOPENED) {
                        if (rule >= 0 || strcasecmp(in->event_type, s->event))
                                continue;
                        v = ls_field(in, s->message_field);
                        ring = ls_supp_ring(sh, lead, r);
                        if (!v || !*v ||
                            !ls_unopened_has(ring, ls_hash64(v, strlen(v))))
                                rule = (int)r;
                } else if (ls_type_in(s->events, s->n_events, in->event_type)) {
                        uint32_t cap = s->count - 1, count = 1, j;
                        ls_burst_ent_t *e;
                        ls_ring_t *g;

                        /* a ring given back held nothing in reach: one
                         * taken anew counts the same (ls_engine_int.h) */
                        err = ls_pool_take(sh, &sh->pools[ms->n_models + r],
                                           lead, &g);
                        if (err)
                                return err;
                        ring = (ls_supp_ring_t *)(g + 1);
                        for (j = 0; j < ring->n; j++)
                                count += ls_burst_ent(sh, ring, r, j)->time >
                                         in->time - s->within_ms;
                        if (count >= s->count) {
                                if (rule < 0)
                                        rule = (int)r;
                                err = ls_burst_reverse(sh, lead, r, ring, in,
                                                       now, ob);
                                if (err)
                                        return err;
                        }
                        e = ls_burst_ent(sh, ring, r, ring->pos);
                        memset(e, 0, sh->burst_ent_size[r]);
                        e->time = in->time;
                        e->now = now;
                        ring->pos = (uint8_t)((ring->pos + 1) % cap);
                        if (ring->n < cap)
                                ring->n++;
                        *entp = e;
                        *ent_rulep = r;
                }
        }
        if (rule >= 0) {
                *entp = NULL;
        } else {
                /* a real open (or delivery) of its message */
                for (r = 0; r < ms->n_suppress; r++) {
                        const ls_suppress_t *s = &ms->suppress[r];
                        ls_supp_ring_t *ring;
                        const char *v;
                        uint64_t h;

                        if (s->kind != LS_SUPPRESS_UNOPENED ||
                            !ls_type_in(s->events, s->n_events, in->event_type))
                                continue;
                        v = ls_field(in, s->message_field);
                        if (!v || !*v)
                                continue;
                        ring = ls_supp_ring(sh, lead, r);
                        h = ls_hash64(v, strlen(v));
                        if (ls_unopened_has(ring, h))
                                continue;
                        ls_unopened_ids(ring)[ring->pos] = h;
                        ring->pos = (uint8_t)((ring->pos + 1) % s->remember);
                        if (ring->n < s->remember)
                                ring->n++;
                }
        }
        *rulep = rule;
        return LS_OK;
}
