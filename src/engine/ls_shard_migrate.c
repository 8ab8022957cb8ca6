/*
 * ls_shard_migrate.c - a model reload's state move: ls_shard_migrate()
 * builds a shard for the new model set from an old one, lead by lead,
 * keeping what the new models share with the old (models and rules
 * matched by id, categories by name) and starting the rest as a new lead
 * would.
 */
#include "leadscore/ls_engine.h"

#include <string.h>

#include "leadscore/ls_logit.h"
#include "engine/ls_engine_int.h"

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

/*
 * A logistic model's part: the occurrences of the rules kept (by id) when
 * the old model was logistic with the same buckets, else none; the
 * scores then follow from the features as of the lead's clock, as the
 * new coefficients give them.
 */
static void ls_migrate_logit(const ls_shard_t *osh, size_t om, ls_lm_t *olm,
                             const ls_shard_t *nsh, size_t nm, ls_lm_t *nlm,
                             int64_t clock) {
        const ls_model_t *o = &osh->ms->models[om], *n = &nsh->ms->models[nm];
        ls_logit_score_t sc;
        size_t i, j;

        if (o->kind == LS_MODEL_LOGISTIC &&
            o->logit.bucket_ms == n->logit.bucket_ms &&
            o->logit.buckets == n->logit.buckets) {
                const ls_logit_hdr_t *oh = ls_logit_state(osh, olm, om);
                ls_logit_hdr_t *nh = ls_logit_state(nsh, nlm, nm);
                const uint8_t *oc = (const uint8_t *)(oh + 1);
                uint8_t *nc = (uint8_t *)(nh + 1);
                size_t nb = n->logit.buckets;

                *nh = *oh;
                for (i = 0; i < n->n_rules; i++)
                        for (j = 0; j < o->n_rules; j++)
                                if (!strcmp(n->rules[i].id, o->rules[j].id))
                                        memcpy(nc + i * nb, oc + j * nb, nb);
        }
        nlm->anchor = clock == INT64_MIN ? 0 : clock;
        ls_logit_features(n, ls_logit_state(nsh, nlm, nm), nlm->fit_bits,
                          nlm->anchor, nsh->logit_x);
        ls_logit_score(n, nsh->logit_x, &sc);
        nlm->fit = sc.fit;
        nlm->engagement = sc.total - sc.fit;
        nlm->base = 0;
        nlm->decay_n = 0;
        nlm->grade = (uint8_t)ls_model_grade_of(n, nlm->fit);
        nlm->band = (uint8_t)ls_model_band_of(n, nlm->engagement);
        if (clock == INT64_MIN)
                nlm->anchor = INT64_MIN;
}

/* One lead, one model present in both sets (same id). */
static void ls_migrate_lm(const ls_shard_t *osh, size_t om, ls_lm_t *olm,
                          const ls_shard_t *nsh, size_t nm, ls_lm_t *nlm,
                          int64_t clock) {
        const ls_model_t *o = &osh->ms->models[om], *n = &nsh->ms->models[nm];
        size_t i, j;
        int64_t fit = 0;

        ls_lm_init_model(nsh, nm, nlm);
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
        nlm->grade = (uint8_t)ls_model_grade_of(n, nlm->fit);
        nlm->band = (uint8_t)ls_model_band_of(n, nlm->engagement);
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
        if (n->kind == LS_MODEL_LOGISTIC)
                ls_migrate_logit(osh, om, olm, nsh, nm, nlm, clock);
        nlm->timer_due = ls_next_due(nsh, nm, nlm);
}

/*
 * The alert state of one lead under one model present in both sets:
 * contributions by rule id (engagement and suppression rules), and the
 * hot-lead window as far as both rings reach, newest first, its events'
 * types by name. @returns LS_OK or LS_ERR_NOMEM.
 */
static ls_err_t ls_migrate_alert(const ls_shard_t *osh, uint32_t olead,
                                 size_t om, ls_shard_t *nsh, uint32_t nlead,
                                 size_t nm) {
        const ls_model_t *o = &osh->ms->models[om], *n = &nsh->ms->models[nm];
        const int32_t *oc = ls_contrib(osh, olead, om);
        int32_t *nc = ls_contrib(nsh, nlead, nm);
        ls_ring_t *oring = ls_ring(osh, olead, om), *nr;
        uint32_t ol = ls_hot_ring_len(o), nl = ls_hot_ring_len(n), k, cnt;
        const ls_lm_t *olm = ls_lm(osh, olead, om);
        ls_lm_t *nlm = ls_lm(nsh, nlead, nm);
        size_t i, j;

        for (i = 0; oc && nc && i < n->n_rules; i++)
                for (j = 0; j < o->n_rules; j++)
                        if (!strcmp(n->rules[i].id, o->rules[j].id))
                                nc[i] = oc[j];
        for (i = 0; oc && nc && i < nsh->ms->n_suppress; i++)
                for (j = 0; j < osh->ms->n_suppress; j++)
                        if (!strcmp(nsh->ms->suppress[i].id,
                                    osh->ms->suppress[j].id))
                                nc[n->n_rules + i] = oc[o->n_rules + j];
        if (!oring || !nl)
                return LS_OK;
        if (ls_ring_take(nsh, nlead, nm, nlm, &nr) != LS_OK)
                return LS_ERR_NOMEM;
        /* the filled slots, newest first: n of them, the last at
         * hot_pos - 1 (ls_ring_t) */
        cnt = oring->n < nl ? oring->n : nl;
        for (k = 0; k < cnt; k++) {
                /* newest first: walk the old ring backwards */
                uint32_t from = (olm->hot_pos + ol - 1 - k) % ol;
                uint32_t to = cnt - 1 - k;
                const ls_hot_ev_t *oev = &ls_ring_evs(oring, ol)[from];
                ls_hot_ev_t *nev = &ls_ring_evs(nr, nl)[to];
                const char *type;
                int t;

                type = oev->type ? osh->ms->event_types[oev->type - 1] : NULL;
                t = type ? ls_modelset_event_type(nsh->ms, type) : -1;
                ls_ring_times(nr)[to] = ls_ring_times(oring)[from];
                ls_ring_points(nr, nl)[to] = ls_ring_points(oring, ol)[from];
                nev->type = t >= 0 ? (uint32_t)t + 1 : 0;
                memcpy(nev->id, oev->id, LS_HOT_ID_BYTES);
        }
        nr->n = cnt;
        nlm->hot_pos = (uint8_t)(cnt % nl);
        return LS_OK;
}

/*
 * Suppression state of one lead, by rule id (and kind): the message ids an
 * unopened rule remembers, and the times of the events a burst rule
 * counts, newest first, as many as both keep. Burst entries lose their
 * undo parts (they describe the old models' state): points scored before
 * the reload are not taken back by a burst recognised after it.
 */
static ls_err_t ls_migrate_supp(const ls_shard_t *osh, uint32_t olead,
                                ls_shard_t *nsh, uint32_t nlead) {
        size_t r, o;

        for (r = 0; r < nsh->ms->n_suppress; r++) {
                const ls_suppress_t *ns = &nsh->ms->suppress[r], *os = NULL;
                ls_supp_ring_t *nr, *orr;
                ls_ring_t *g = NULL;
                uint32_t ocap, ncap, keep, k;

                for (o = 0; o < osh->ms->n_suppress; o++)
                        if (!strcmp(osh->ms->suppress[o].id, ns->id) &&
                            osh->ms->suppress[o].kind == ns->kind)
                                os = &osh->ms->suppress[o];
                if (!os || ns->kind == LS_SUPPRESS_MATCH)
                        continue;
                if (ns->kind == LS_SUPPRESS_BURST) {
                        orr = ls_burst_ring(osh, olead,
                                            (size_t)(os - osh->ms->suppress));
                        if (!orr)
                                continue; /* none held: nothing in reach */
                        if (ls_pool_take(nsh,
                                         &nsh->pools[nsh->ms->n_models + r],
                                         nlead, &g) != LS_OK)
                                return LS_ERR_NOMEM;
                        nr = (ls_supp_ring_t *)(g + 1);
                } else {
                        nr = ls_supp_ring(nsh, nlead, r);
                        orr = ls_supp_ring(osh, olead,
                                           (size_t)(os - osh->ms->suppress));
                }
                ocap = ns->kind == LS_SUPPRESS_BURST ? os->count - 1
                                                     : os->remember;
                ncap = ns->kind == LS_SUPPRESS_BURST ? ns->count - 1
                                                     : ns->remember;
                keep = orr->n < ncap ? orr->n : ncap;
                for (k = 0; k < keep; k++) {
                        /* oldest kept first, so the newest ends last */
                        uint32_t from = (orr->pos + ocap - keep + k) % ocap;

                        if (ns->kind == LS_SUPPRESS_UNOPENED) {
                                ls_unopened_ids(nr)[k] =
                                        ls_unopened_ids(orr)[from];
                        } else {
                                ls_burst_ent_t *ne =
                                        ls_burst_ent(nsh, nr, r, k);
                                const ls_burst_ent_t *oe = ls_burst_ent(
                                        osh, orr,
                                        (size_t)(os - osh->ms->suppress), from);

                                memset(ne, 0, nsh->burst_ent_size[r]);
                                ne->time = oe->time;
                                ne->now = oe->now;
                        }
                }
                nr->n = (uint8_t)keep;
                nr->pos = (uint8_t)(keep % ncap);
        }
        return LS_OK;
}

ls_shard_t *ls_shard_migrate(const ls_shard_t *osh, const ls_modelset_t *ms,
                             char *errstr, size_t errstr_size) {
        size_t i, n = ls_lead_table_count(osh->leads), m, om;
        ls_shard_t *sh = ls_shard_new(ms);

        if (!sh)
                goto nomem;
        sh->stream_time = osh->stream_time;
        ls_ring_sweep_start(sh); /* the new set's periods */
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
                if (ms->n_suppress && ls_migrate_supp(osh, (uint32_t)i, sh,
                                                      (uint32_t)idx) != LS_OK)
                        goto nomem;
                /* alert attribute values, by name */
                for (k = 0; k < ms->n_alert_attrs; k++)
                        for (om = 0; om < osh->ms->n_alert_attrs; om++) {
                                const char *v;

                                if (strcmp(ms->alert_attrs[k],
                                           osh->ms->alert_attrs[om]))
                                        continue;
                                v = ls_attr_val(osh, (uint32_t)i, om);
                                if (ls_attr_set(sh, (uint32_t)idx, k, v,
                                                strlen(v)) != LS_OK)
                                        goto nomem;
                        }
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
                        if (ls_migrate_alert(osh, (uint32_t)i, om, sh,
                                             (uint32_t)idx, m) != LS_OK)
                                goto nomem;
                }
        }
        if (ls_timers_rebuild(sh) != LS_OK)
                goto nomem;
        return sh;
nomem:
        ls_shard_destroy(sh);
        ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                  "out of memory migrating %zu leads", n);
        return NULL;
}
