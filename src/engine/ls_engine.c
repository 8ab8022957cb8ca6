/*
 * ls_engine.c - the pure scoring engine's hot path: ls_shard_apply() and
 * what it runs for each input - rules, caps, decay, grades and bands, the
 * MQL / hot-lead alert state machine, decay timers and the outputs they
 * emit. The shard's life and views are in ls_shard.c, its image in
 * ls_shard_image.c, its checks in ls_shard_check.c, model reloads in
 * ls_shard_migrate.c, the `suppress` rules in ls_suppress.c (this file
 * notes what each scored event did, so that a burst can undo it), what
 * an alert carries in ls_alert.c; the lead block layout is in
 * ls_engine_int.h.
 *
 * Invariants: engagement is always in [floor, max]; `engagement` is the
 * value last reported, `base` the value right after the last activity
 * (decay is a function of base and the time since `anchor`); every lead /
 * model with a pending decay step has timer_due set, and the shard's
 * wake-ups (ls_timerq.h) hold one for it at or before timer_due (wake_due
 * is the earliest such wake-up, INT64_MAX when none is known). A wake-up
 * that pops before timer_due is re-armed at timer_due, so activity, which
 * moves timer_due later, costs no queue operation; the firing order is
 * still exactly (timer_due, lead, model).
 * Everything the apply path calls is static here, so that the compiler
 * can inline it; only what the colder files share is extern.
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
#include "leadscore/ls_logit.h"
#include "engine/ls_engine_int.h"

/*
 * Appending outputs and reasons
 */

static ls_output_t *ls_outbuf_add(ls_outbuf_t *ob) {
        void *a = ls_outbuf_grow(ob->outs, &ob->size_outs, ob->n_outs,
                                 sizeof(*ob->outs), 16);

        if (!a)
                return NULL;
        ob->outs = a;
        memset(&ob->outs[ob->n_outs], 0, sizeof(ob->outs[0]));
        return &ob->outs[ob->n_outs++];
}

ls_reason_t *ls_outbuf_add_reason(ls_outbuf_t *ob) {
        void *a = ls_outbuf_grow(ob->reasons, &ob->size_reasons, ob->n_reasons,
                                 sizeof(*ob->reasons), 32);

        if (!a)
                return NULL;
        ob->reasons = a;
        return &ob->reasons[ob->n_reasons++];
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

/*
 * Arithmetic helpers
 */

static int64_t ls_floordiv(int64_t a, int64_t b) {
        int64_t q = a / b;

        if ((a % b != 0) && ((a < 0) != (b < 0)))
                q--;
        return q;
}

/*
 * Decay: engagement as a function of (base, anchor, n applied steps).
 */

/* @returns the engagement after n decay steps/ticks from base. */
int32_t ls_decay_value(const ls_model_t *m, int32_t base, uint32_t n) {
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
uint32_t ls_decay_due_n(const ls_model_t *m, int64_t anchor, int64_t now) {
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
int64_t ls_decay_next_due(const ls_model_t *m, const ls_lm_t *lm) {
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

int64_t ls_next_due(const ls_shard_t *sh, size_t m, ls_lm_t *lm) {
        const ls_model_t *model = &sh->ms->models[m];

        if (model->kind == LS_MODEL_LOGISTIC)
                return lm->anchor == INT64_MIN
                               ? INT64_MAX
                               : ls_logit_next_change(model,
                                                      ls_logit_state(sh, lm, m),
                                                      lm->anchor);
        return ls_decay_next_due(model, lm);
}

/* Queues a wake-up of model @p model of @p lead at @p due. */
static ls_err_t ls_wake_push(ls_shard_t *sh, int64_t due, uint32_t lead,
                             uint32_t model) {
        return ls_tq_push(&sh->tq, due, lead, model) ? LS_ERR_NOMEM : LS_OK;
}

void ls_timers_reset(ls_shard_t *sh) {
        ls_tq_clear(&sh->tq, sh->stream_time);
        sh->live_timers = 0;
        memset(sh->scored, 0, sh->ms->n_models * sizeof(*sh->scored));
}

ls_err_t ls_timers_add_lead(ls_shard_t *sh, uint32_t lead) {
        size_t m;

        for (m = 0; m < sh->ms->n_models; m++) {
                ls_lm_t *lm = ls_lm(sh, lead, m);

                if (lm->seq > 0)
                        sh->scored[m]++;
                lm->wake_due = INT64_MAX;
                if (lm->timer_due == INT64_MAX)
                        continue;
                sh->live_timers++;
                if (ls_wake_push(sh, lm->timer_due, lead, (uint32_t)m))
                        return LS_ERR_NOMEM;
                lm->wake_due = lm->timer_due; /* queued */
        }
        return LS_OK;
}

/*
 * Rebuilds the wake-ups with exactly one per pending timer, at its due
 * time: after a model reload, and when superseded wake-ups dominate.
 */
ls_err_t ls_timers_rebuild(ls_shard_t *sh) {
        size_t i, n = ls_lead_table_count(sh->leads), m;

        ls_timers_reset(sh);
        for (i = 0; i < n; i++)
                if (ls_timers_add_lead(sh, (uint32_t)i))
                        break;
        if (i == n)
                return LS_OK;
        /* out of memory: the leads not reached claim no wake-up, so that
         * the next schedule of each queues one (ls_arm) */
        for (; i < n; i++)
                for (m = 0; m < sh->ms->n_models; m++)
                        ls_lm(sh, (uint32_t)i, m)->wake_due = INT64_MAX;
        return LS_ERR_NOMEM;
}

/* Makes sure a wake-up at or before lm->timer_due is queued. */
static ls_err_t ls_arm(ls_shard_t *sh, uint32_t lead, uint32_t m, ls_lm_t *lm) {
        if (lm->timer_due == INT64_MAX || lm->wake_due <= lm->timer_due)
                return LS_OK;
        if (ls_wake_push(sh, lm->timer_due, lead, m))
                return LS_ERR_NOMEM; /* not queued: wake_due unchanged */
        lm->wake_due = lm->timer_due;
        return LS_OK;
}

ls_err_t ls_schedule(ls_shard_t *sh, uint32_t lead, uint32_t m, ls_lm_t *lm) {
        int64_t due = ls_next_due(sh, m, lm);

        if (due == lm->timer_due)
                return LS_OK;
        if (lm->timer_due != INT64_MAX)
                sh->live_timers--;
        lm->timer_due = due;
        if (due == INT64_MAX)
                return LS_OK;
        sh->live_timers++;
        if (ls_tq_count(&sh->tq) > 4096 &&
            ls_tq_count(&sh->tq) > 2 * sh->live_timers)
                return ls_timers_rebuild(sh);
        return ls_arm(sh, lead, m, lm);
}

/*
 * Emitting outputs
 */

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

/*
 * Logistic models
 */

static ls_feature_t *ls_outbuf_add_feature(ls_outbuf_t *ob) {
        void *a = ls_outbuf_grow(ob->features, &ob->size_features,
                                 ob->n_features, sizeof(*ob->features), 32);

        if (!a)
                return NULL;
        ob->features = a;
        return &ob->features[ob->n_features++];
}

/* What output @p o of logistic model @p m carries: the probability and
 * the features as of the lead part's time (lm->anchor), the intercept
 * first, then every feature whose value is not 0, in model order. */
static ls_err_t ls_logit_outputs(ls_shard_t *sh, size_t m, ls_lm_t *lm,
                                 ls_output_t *o, ls_outbuf_t *ob) {
        const ls_model_t *model = &sh->ms->models[m];
        size_t i, n = ls_logit_n_features(model);
        double *x = sh->logit_x;
        ls_logit_score_t sc;
        ls_feature_t *f;

        ls_logit_features(model, ls_logit_state(sh, lm, m), lm->fit_bits,
                          lm->anchor == INT64_MIN ? 0 : lm->anchor, x);
        ls_logit_score(model, x, &sc);
        o->probability = sc.probability;
        o->features_off = (uint32_t)ob->n_features;
        if (!(f = ls_outbuf_add_feature(ob)))
                return LS_ERR_NOMEM;
        f->name = LS_LOGIT_INTERCEPT;
        f->value = 1.0;
        f->contribution = model->logit.intercept;
        for (i = 0; i < n; i++) {
                if (x[i] == 0.0)
                        continue;
                if (!(f = ls_outbuf_add_feature(ob)))
                        return LS_ERR_NOMEM;
                f->name = ls_logit_feature_name(model, i);
                f->value = x[i];
                f->contribution = ls_logit_coef(model, i) * x[i];
        }
        o->n_features = (uint32_t)(ob->n_features - o->features_off);
        return LS_OK;
}

/* Sets a logistic model's scores from its features as of @p now. */
static void ls_logit_rescore(const ls_shard_t *sh, size_t m, ls_lm_t *lm,
                             int64_t now) {
        const ls_model_t *model = &sh->ms->models[m];
        ls_logit_score_t sc;

        lm->anchor = now;
        ls_logit_features(model, ls_logit_state(sh, lm, m), lm->fit_bits, now,
                          sh->logit_x);
        ls_logit_score(model, sh->logit_x, &sc);
        lm->fit = sc.fit;
        lm->engagement = sc.total - sc.fit;
}

static ls_err_t ls_emit(ls_shard_t *sh, uint32_t lead, size_t m, ls_lm_t *lm,
                        const ls_change_t *ch, ls_outbuf_t *ob,
                        ls_output_kind_t kind, ls_alert_kind_t alert,
                        int32_t prev_total, const char *hot_event) {
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
        if (model->kind == LS_MODEL_LOGISTIC) {
                ls_err_t err = ls_logit_outputs(sh, m, lm, o, ob);

                if (err)
                        return err;
        }
        sh->stats.outputs++;
        if (kind == LS_OUT_ALERT)
                return ls_alert_fill(sh, lead, m, lm, o, ob, hot_event);
        return LS_OK;
}

/*
 * After fit / engagement moved: recompute grade and band, emit a score
 * update if anything visible changed, then the MQL transitions.
 */
ls_err_t ls_settle(ls_shard_t *sh, uint32_t lead, size_t m, ls_lm_t *lm,
                   int32_t prev_fit, int32_t prev_eng, const ls_change_t *ch,
                   ls_outbuf_t *ob) {
        const ls_model_t *model = &sh->ms->models[m];
        int prev_grade = lm->grade, prev_band = lm->band;
        int32_t prev_total = ls_sat32((int64_t)prev_fit + prev_eng);
        ls_alert_kind_t alert = LS_ALERT_NONE;
        int32_t total;
        ls_err_t err;

        lm->grade = (uint8_t)ls_model_grade_of(model, lm->fit);
        lm->band = (uint8_t)ls_model_band_of(model, lm->engagement);
        total = ls_sat32((int64_t)lm->fit + lm->engagement);
        /* the MQL transition first, so the update carries the new status */
        if (model->mql.enabled) {
                if (!(lm->flags & LS_LM_MQL) &&
                    ls_qualify_holds(&model->mql.enter, total, lm->grade,
                                     lm->band)) {
                        lm->flags |= LS_LM_MQL;
                        alert = LS_ALERT_MQL;
                } else if ((lm->flags & LS_LM_MQL) &&
                           !ls_qualify_holds(&model->mql.stay, total, lm->grade,
                                             lm->band)) {
                        lm->flags &= (uint8_t)~LS_LM_MQL;
                        alert = LS_ALERT_MQL_LOST;
                }
        }
        if (lm->fit != prev_fit || lm->engagement != prev_eng ||
            lm->grade != prev_grade || lm->band != prev_band) {
                err = ls_emit(sh, lead, m, lm, ch, ob, LS_OUT_SCORE_UPDATE,
                              LS_ALERT_NONE, prev_total, NULL);
                if (err)
                        return err;
        }
        if (alert != LS_ALERT_NONE)
                return ls_emit(sh, lead, m, lm, ch, ob, LS_OUT_ALERT, alert,
                               prev_total, NULL);
        return LS_OK;
}

/* Brings decay up to `now`; appends a decay reason if points were taken. */
ls_err_t ls_catch_up_decay(const ls_model_t *model, ls_lm_t *lm, int64_t now,
                           ls_outbuf_t *ob) {
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

static ls_err_t ls_advance(ls_shard_t *sh, int64_t time, ls_outbuf_t *ob);

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
        if (model->kind == LS_MODEL_LOGISTIC) {
                ls_reason_t *r = ls_outbuf_add_reason(ob);

                if (!r)
                        return LS_ERR_NOMEM;
                r->kind = LS_REASON_DECAY; /* the window moved on */
                r->rule_id = "window";
                r->points = 0;
                r->capped = 0;
                ls_logit_rescore(sh, t->model, lm, t->due);
                err = LS_OK;
        } else {
                err = ls_catch_up_decay(model, lm, t->due, ob);
        }
        if (!err) {
                size_t outs = ob->n_outs;

                err = ls_settle(sh, t->lead, t->model, lm, lm->fit, prev_eng,
                                &ch, ob);
                if (!err && ob->n_outs == outs)
                        ob->n_reasons = ch.reasons_off; /* nothing written */
        }
        if (!err)
                err = ls_schedule(sh, t->lead, t->model, lm);
        return err;
}

ls_err_t ls_shard_advance(ls_shard_t *sh, int64_t time, ls_outbuf_t *ob) {
        sh->record_time = 0; /* a tick: no record timestamp (no backfill) */
        return ls_advance(sh, time, ob);
}

static ls_err_t ls_advance(ls_shard_t *sh, int64_t time, ls_outbuf_t *ob) {
        ls_err_t err;

        if (time > sh->stream_time) {
                sh->stream_time = time;
                ls_ring_sweep_due(sh);
        }
        for (;;) {
                const ls_timer_t *next;
                ls_timer_t t;
                ls_lm_t *lm;
                size_t k;
                int got = ls_tq_pop_due(&sh->tq, sh->stream_time, &t);

                if (got <= 0)
                        return got < 0 ? LS_ERR_NOMEM : LS_OK;
                /* the next wake-up is one of the next three: its lead is
                 * loaded while this one fires */
                for (k = 0; k < 3 && (next = ls_tq_upcoming(&sh->tq, k)); k++)
                        __builtin_prefetch(ls_lm(sh, next->lead, next->model));
                lm = ls_lm(sh, t.lead, t.model);
                if (lm->wake_due == t.due)
                        lm->wake_due = INT64_MAX;
                if (lm->timer_due == t.due)
                        err = ls_fire_timer(sh, &t, ob);
                else /* superseded: re-arm at the current due time */
                        err = ls_arm(sh, t.lead, t.model, lm);
                if (err)
                        return err;
        }
}

/*
 * Inputs
 */

const char *ls_field(const ls_input_t *in, const char *name) {
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

int ls_conds_all(const ls_modelset_t *ms, const ls_cond_t *c, size_t n,
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

/* Notes in @p u that the event committed @p points to cap counter @p i
 * (now in slot->window); @p lay lists the counters an undo part holds. */
static void ls_undo_cap(ls_undo_t *u, const ls_undo_layout_t *lay,
                        const ls_cap_slot_t *slot, uint32_t i, int32_t points) {
        uint32_t k;

        for (k = 0; k < lay->n_slots; k++) {
                if (lay->slots[k] == i) {
                        ls_cap_slot_t *c = (ls_cap_slot_t *)(u + 1) + k;

                        c->window = slot->window;
                        ls_cap_commit(c, points);
                        return;
                }
        }
}

static int ls_hot_event(const ls_model_t *model, const char *event_type) {
        size_t i;

        for (i = 0; i < model->hot.n_events; i++)
                if (strcasecmp(model->hot.events[i], event_type) == 0)
                        return 1;
        return 0;
}

/* @returns the index of a listed hot event type (0 if, oddly, none). */
static size_t ls_hot_index(const ls_model_t *model, const char *event_type) {
        size_t i;

        for (i = 0; i < model->hot.n_events; i++)
                if (strcasecmp(model->hot.events[i], event_type) == 0)
                        return i;
        return 0;
}

/*
 * Hot lead after event @p in raised lead @p lead's engagement under model
 * @p m by @p gained (from @p prev_eng): a listed event, or enough points
 * within the window. @p u: the event's undo record, or NULL.
 */
static ls_err_t ls_hot_check(ls_shard_t *sh, uint32_t lead, size_t m,
                             ls_lm_t *lm, const ls_input_t *in, int type_idx,
                             int hot_listed, int64_t now, int64_t gained,
                             int32_t prev_eng, ls_undo_t *u,
                             const ls_change_t *chp, ls_outbuf_t *ob) {
        const ls_model_t *model = &sh->ms->models[m];
        int hot = 0;
        ls_err_t err;

        if (model->hot.enabled) {
                uint32_t track = ls_hot_ring_len(model);
                ls_ring_t *ring = NULL;

                if (gained > 0 && track > 0) {
                        /* a lead whose ring was given back takes an empty
                         * one: every entry of the old one was out of any
                         * window an event can still have, so the live
                         * entries and their order are the same */
                        err = ls_ring_take(sh, lead, m, lm, &ring);
                        if (err)
                                return err;
                        if (u) {
                                u->hot_set = 1;
                                u->hot_slot = lm->hot_pos;
                        }
                        ls_ring_times(ring)[lm->hot_pos] = in->time;
                        ls_ring_points(ring, track)[lm->hot_pos] =
                                ls_sat32(gained);
                        ls_ring_evs(ring, track)[lm->hot_pos].type =
                                (uint32_t)type_idx + 1;
                        ls_hot_id_store(
                                ls_ring_evs(ring, track)[lm->hot_pos].id,
                                in->event_id);
                        if (ring->n < track)
                                ring->n++; /* written from slot 0 on */
                        lm->hot_pos = (uint8_t)((lm->hot_pos + 1) % track);
                }
                if (hot_listed)
                        hot = 1;
                if (!hot && ring && model->hot.points > 0) {
                        const int64_t *times = ls_ring_times(ring);
                        const int32_t *pts = ls_ring_points(ring, track);
                        int64_t sum = 0;
                        uint32_t k;

                        for (k = 0; k < ring->n; k++)
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
                        err = ls_emit(sh, lead, m, lm, chp, ob, LS_OUT_ALERT,
                                      LS_ALERT_HOT_LEAD,
                                      ls_sat32((int64_t)lm->fit + prev_eng),
                                      hot_listed
                                              ? model->hot.events[ls_hot_index(
                                                        model, in->event_type)]
                                              : NULL);
                        if (err)
                                return err;
                }
        }
        return LS_OK;
}

/*
 * Scores one event under logistic model @p m: every rule it matches is an
 * occurrence (a reason of 0 points), and the scores follow from the
 * features as of @p now. A burst recognised later does not take it back
 * (docs/SEMANTICS.md "Logistic models").
 */
static ls_err_t ls_apply_event_logit(ls_shard_t *sh, uint32_t lead, size_t m,
                                     const ls_input_t *in, int type_idx,
                                     int hot_listed, int64_t now,
                                     ls_outbuf_t *ob) {
        const ls_modelset_t *ms = sh->ms;
        const ls_model_t *model = &ms->models[m];
        ls_lm_t *lm = ls_lm(sh, lead, m);
        int32_t prev_eng = lm->engagement;
        ls_change_t ch = {LS_CAUSE_EVENT, in->event_id, now,
                          (uint32_t)ob->n_reasons};
        ls_err_t err;
        size_t i;

        for (i = type_idx >= 0 ? sh->by_type_start[m][type_idx] : 0;
             type_idx >= 0 && i < sh->by_type_start[m][type_idx + 1]; i++) {
                const ls_rule_t *rule = &model->rules[sh->by_type[m][i]];
                ls_reason_t *r;

                if (!ls_conds_all(ms, rule->when, rule->n_when, in) ||
                    ls_conds_any(ms, rule->unless, rule->n_unless, in))
                        continue;
                if (sh->observer.match)
                        sh->observer.match(sh->observer.ctx,
                                           ls_lead_table_key(sh->leads, lead),
                                           m, sh->by_type[m][i], in->time);
                ls_logit_note(model, ls_logit_state(sh, lm, m),
                              sh->by_type[m][i], in->time);
                if (!(r = ls_outbuf_add_reason(ob)))
                        return LS_ERR_NOMEM;
                r->kind = LS_REASON_RULE;
                r->rule_id = rule->id;
                r->points = 0;
                r->capped = 0;
        }
        ls_logit_rescore(sh, m, lm, now);
        err = ls_settle(sh, lead, m, lm, lm->fit, prev_eng, &ch, ob);
        if (!err)
                err = ls_hot_check(sh, lead, m, lm, in, type_idx, hot_listed,
                                   now, (int64_t)lm->engagement - prev_eng,
                                   prev_eng, NULL, &ch, ob);
        if (!err)
                err = ls_schedule(sh, lead, (uint32_t)m, lm);
        return err;
}

/* Scores one event under one model. */
static ls_err_t ls_apply_event_model(ls_shard_t *sh, uint32_t lead, size_t m,
                                     const ls_input_t *in, int type_idx,
                                     int hot_listed, int64_t now,
                                     ls_burst_ent_t *ent, size_t ent_rule,
                                     ls_outbuf_t *ob) {
        const ls_modelset_t *ms = sh->ms;
        const ls_model_t *model = &ms->models[m];
        ls_lm_t *lm = ls_lm(sh, lead, m);
        ls_cap_slot_t *slots = ls_cap_slots(lm);
        int32_t *contrib = ls_contrib(sh, lead, m);
        const ls_undo_layout_t *lay =
                ent ? ls_undo_layout(sh, ent_rule, m) : NULL;
        ls_undo_t *u = ent ? ls_undo(sh, ent, ent_rule, m) : NULL;
        int32_t prev_eng = lm->engagement;
        int64_t eng, gained = 0;
        int fired = 0;
        ls_change_t ch = {LS_CAUSE_EVENT, in->event_id, now,
                          (uint32_t)ob->n_reasons};
        ls_err_t err;
        size_t i;

        err = ls_catch_up_decay(model, lm, now, ob);
        if (err)
                return err;
        eng = lm->engagement;
        if (u) { /* a burst may take this event back: note its effect */
                u->prev_anchor = lm->anchor;
                u->prev_base = lm->base;
                u->prev_decay_n = lm->decay_n;
                u->eng_before = lm->engagement;
        }
        for (i = type_idx >= 0 ? sh->by_type_start[m][type_idx] : 0;
             type_idx >= 0 && i < sh->by_type_start[m][type_idx + 1]; i++) {
                const ls_rule_t *rule = &model->rules[sh->by_type[m][i]];
                int32_t award = rule->points;
                ls_reason_t *r;

                if (!ls_conds_all(ms, rule->when, rule->n_when, in) ||
                    ls_conds_any(ms, rule->unless, rule->n_unless, in))
                        continue;
                fired = 1;
                if (sh->observer.match)
                        sh->observer.match(sh->observer.ctx,
                                           ls_lead_table_key(sh->leads, lead),
                                           m, sh->by_type[m][i], in->time);
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
                                if (u && rule->cap.set)
                                        ls_undo_cap(u, lay,
                                                    &slots[rule->cap.slot],
                                                    rule->cap.slot, award);
                                if (u && cc)
                                        ls_undo_cap(u, lay, &slots[cc->slot],
                                                    cc->slot, award);
                        }
                        gained += award;
                } else if (eng + award < model->engagement_floor) {
                        award = (int32_t)(model->engagement_floor - eng < 0
                                                  ? model->engagement_floor -
                                                            eng
                                                  : 0);
                }
                eng += award;
                if (contrib && award)
                        contrib[sh->by_type[m][i]] = ls_sat32(
                                (int64_t)contrib[sh->by_type[m][i]] + award);
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
                if (u) {
                        u->fired = 1;
                        u->delta = lm->engagement - u->eng_before;
                }
        }
        err = ls_settle(sh, lead, m, lm, lm->fit, prev_eng, &ch, ob);
        if (err)
                return err;

        err = ls_hot_check(sh, lead, m, lm, in, type_idx, hot_listed, now,
                           gained, prev_eng, u, &ch, ob);
        if (err)
                return err;
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
                                /* logistic: 0, its rules have no points */
                                r->points = match ? fr->points : -fr->points;
                                r->capped = 0;
                                bits = match ? bits | bit : bits & ~bit;
                        }
                }
                if (bits & ((uint64_t)1 << i))
                        sum += fr->points;
        }
        lm->fit_bits = bits;
        if (sh->observer.fit)
                sh->observer.fit(sh->observer.ctx,
                                 ls_lead_table_key(sh->leads, lead), m, bits,
                                 in->time);
        if (model->kind == LS_MODEL_LOGISTIC)
                ls_logit_rescore(sh, m, lm, now);
        else
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
void ls_lm_init_model(const ls_shard_t *sh, size_t m, ls_lm_t *lm) {
        const ls_modelset_t *ms = sh->ms;
        const ls_model_t *model = &ms->models[m];
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
        if (model->kind == LS_MODEL_LOGISTIC) {
                /* its scores before any input; the part's time stays unset */
                ls_logit_init(model, ls_logit_state(sh, lm, m));
                ls_logit_rescore(sh, m, lm, 0);
                lm->anchor = INT64_MIN;
        }
        lm->grade = (uint8_t)ls_model_grade_of(model, lm->fit);
        lm->band = (uint8_t)ls_model_band_of(model, lm->engagement);
}

void ls_lm_init(const ls_shard_t *sh, uint32_t lead) {
        size_t m;

        for (m = 0; m < sh->ms->n_models; m++)
                ls_lm_init_model(sh, m, ls_lm(sh, lead, m));
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

/* Keeps the latest values of the set's alert attributes that profile
 * update @p in sets (the last field of a name wins; "" clears).
 * @returns LS_OK or LS_ERR_NOMEM (some names may be set already: the
 * input is refused, and out of memory stops the pipeline, which applies
 * the update again after a restart). */
static ls_err_t ls_attrs_update(ls_shard_t *sh, uint32_t lead,
                                const ls_input_t *in) {
        size_t k, i;

        for (k = 0; k < sh->ms->n_alert_attrs; k++) {
                for (i = in->n_fields; i-- > 0;) {
                        const char *v = in->fields[i].value;

                        if (!in->fields[i].key ||
                            strcmp(in->fields[i].key, sh->ms->alert_attrs[k]))
                                continue;
                        if (ls_attr_set(sh, lead, k, v, ls_attr_len(v)))
                                return LS_ERR_NOMEM;
                        break;
                }
        }
        return LS_OK;
}

ls_err_t ls_shard_apply(ls_shard_t *sh, const ls_input_t *in, ls_outbuf_t *ob,
                        char *errstr, size_t errstr_size) {
        const ls_modelset_t *ms = sh->ms;
        ls_lead_hdr_t *hdr;
        int64_t idx, now;
        int type_idx = -1, created, ignored = 0;
        const ls_etype_t *et = NULL;
        ls_burst_ent_t *ent = NULL;
        size_t ent_rule = 0;
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
        sh->record_time = in->record_time;
        if (in->kind == LS_INPUT_EVENT) {
                err = ls_advance(sh, in->time, ob);
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
                if (ms->n_alert_attrs && ls_attrs_update(sh, lead, in))
                        return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                         "out of memory for the alert "
                                         "attributes of lead %s",
                                         in->lead_id);
                hdr->profile_time = in->time;
        }
        now = hdr->clock > in->time ? hdr->clock : in->time;
        hdr->clock = now;
        if (ms->n_suppress && in->kind == LS_INPUT_EVENT) {
                int rule;

                err = ls_suppress_event(sh, lead, in, now, ob, &rule, &ent,
                                        &ent_rule);
                if (err)
                        return ls_seterr(errstr, errstr_size, err,
                                         "out of memory");
                if (rule >= 0) {
                        switch (ms->suppress[rule].kind) {
                        case LS_SUPPRESS_BURST:
                                sh->stats.suppressed_burst++;
                                break;
                        case LS_SUPPRESS_UNOPENED:
                                sh->stats.suppressed_unopened++;
                                break;
                        default:
                                sh->stats.suppressed_match++;
                        }
                        return LS_OK;
                }
                if (et->supp_only)
                        return LS_OK;
        }
        for (m = 0; m < ms->n_models; m++) {
                if (in->kind == LS_INPUT_EVENT) {
                        if (!ls_model_wants_product(&ms->models[m],
                                                    in->product))
                                continue;
                        int hot_listed = m < 64 ? (int)(et->hot >> m & 1)
                                                : ls_hot_event(&ms->models[m],
                                                               in->event_type);

                        if (ms->models[m].kind == LS_MODEL_LOGISTIC)
                                err = ls_apply_event_logit(sh, lead, m, in,
                                                           type_idx, hot_listed,
                                                           now, ob);
                        else
                                err = ls_apply_event_model(
                                        sh, lead, m, in, type_idx, hot_listed,
                                        now, ent, ent_rule, ob);
                } else {
                        err = ls_apply_profile_model(sh, lead, m, in, now, ob);
                }
                if (err)
                        return ls_seterr(errstr, errstr_size, err,
                                         "out of memory");
                if (ent && ls_undo(sh, ent, ent_rule, m)->fired)
                        ent->flags |= LS_BURST_REVERSIBLE;
        }
        return LS_OK;
}
