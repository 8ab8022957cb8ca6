/*
 * ls_alert.c - what an alert carries beyond a score update
 * (docs/SEMANTICS.md "Alerts"): the fit rules matching, the largest
 * contributions over the lead's history, the hot-lead window's events,
 * the model's alert_attributes and the backfill marker, written into the
 * output buffer's side arrays when ls_emit() (ls_engine.c) emits an
 * alert. Alerts are rare next to score updates, so this is kept out of
 * the apply path's file; the state it reads is laid out in
 * ls_engine_int.h and kept up to date by the apply path.
 */
#include "leadscore/ls_engine.h"

#include <string.h>

#include "leadscore/ls_alloc.h"
#include "engine/ls_engine_int.h"

/* Appends an alert item (its text, @p len bytes of @p text, copied);
 * @returns it, or NULL when memory is short. */
static ls_alert_item_t *ls_outbuf_add_item(ls_outbuf_t *ob, const char *name,
                                           const char *text, size_t len) {
        void *a = ls_outbuf_grow(ob->items, &ob->size_items, ob->n_items,
                                 sizeof(*ob->items), 32);
        ls_alert_item_t *it;

        if (!a)
                return NULL;
        ob->items = a;
        if (len && ob->size_text - ob->n_text < len + 1) {
                size_t n = ob->size_text ? ob->size_text : 256;
                char *t;

                while (n - ob->n_text < len + 1)
                        n *= 2;
                if (!(t = ls_realloc(ob->text, n)))
                        return NULL;
                ob->text = t;
                ob->size_text = n;
        }
        it = &ob->items[ob->n_items++];
        memset(it, 0, sizeof(*it));
        it->name = name;
        if (len) {
                it->text_off = (uint32_t)ob->n_text;
                it->text_len = (uint32_t)len;
                memcpy(ob->text + ob->n_text, text, len);
                ob->text[ob->n_text + len] = '\0';
                ob->n_text += len + 1;
        }
        return it;
}

/*
 * What an alert carries beyond a score update (docs/SEMANTICS.md
 * "Alerts"): the fit rules matching, the largest contributions over the
 * lead's history, the hot-lead window's events, the alert attributes and
 * the backfill marker. Run for alerts only.
 */
ls_err_t ls_alert_fill(ls_shard_t *sh, uint32_t lead, size_t m, ls_lm_t *lm,
                       ls_output_t *o, ls_outbuf_t *ob, const char *hot_event) {
        const ls_modelset_t *ms = sh->ms;
        const ls_model_t *model = &ms->models[m];
        const int32_t *contrib = ls_contrib(sh, lead, m);
        size_t nc = ls_contrib_len(ms, model), i, k;
        uint32_t pick[LS_ALERT_TOP];

        o->fit_bits = lm->fit_bits;
        o->record_time = sh->record_time > 0 ? sh->record_time : 0;
        o->backfill = ms->backfill_after_ms > 0 && o->record_time > 0 &&
                      o->record_time - o->time > ms->backfill_after_ms;
        o->items_off = (uint32_t)ob->n_items;
        /* top contributions: largest points first, then file order (rules,
         * then suppression rules); zero never listed */
        for (i = 0; contrib && i < nc; i++) {
                if (contrib[i] == 0)
                        continue;
                for (k = o->n_top; k > 0 && contrib[pick[k - 1]] < contrib[i];
                     k--)
                        if (k < LS_ALERT_TOP)
                                pick[k] = pick[k - 1];
                if (k < LS_ALERT_TOP) {
                        pick[k] = (uint32_t)i;
                        if (o->n_top < LS_ALERT_TOP)
                                o->n_top++;
                }
        }
        for (k = 0; k < o->n_top; k++) {
                ls_alert_item_t *it = ls_outbuf_add_item(
                        ob,
                        pick[k] < model->n_rules
                                ? model->rules[pick[k]].id
                                : ms->suppress[pick[k] - model->n_rules].id,
                        NULL, 0);

                if (!it)
                        return LS_ERR_NOMEM;
                it->points = contrib[pick[k]];
        }
        if (o->alert == LS_ALERT_HOT_LEAD) {
                ls_ring_t *ring = ls_ring(sh, lead, m);
                uint32_t len = ring ? ls_hot_ring_len(model) : 0, n = 0, j;
                const int64_t *times = ring ? ls_ring_times(ring) : NULL;
                const int32_t *pts = ring ? ls_ring_points(ring, len) : NULL;
                const ls_hot_ev_t *ev = ring ? ls_ring_evs(ring, len) : NULL;
                int64_t sum = 0;

                o->hot_event = hot_event;
                /* the window's events, oldest first (ring order from the
                 * oldest slot); the newest LS_ALERT_HOT_EVENTS listed */
                for (j = 0; j < len; j++) {
                        uint32_t s = (lm->hot_pos + j) % len;

                        if (s < ring->n && pts[s] > 0 &&
                            times[s] > o->time - model->hot.within_ms) {
                                n++;
                                sum += pts[s];
                        }
                }
                o->hot_sum = ls_sat32(sum);
                o->hot_more =
                        n > LS_ALERT_HOT_EVENTS ? n - LS_ALERT_HOT_EVENTS : 0;
                for (j = 0, k = 0; j < len; j++) {
                        uint32_t s = (lm->hot_pos + j) % len;
                        ls_alert_item_t *it;
                        const char *id;

                        if (!(s < ring->n && pts[s] > 0 &&
                              times[s] > o->time - model->hot.within_ms) ||
                            k++ < o->hot_more)
                                continue;
                        id = ev[s].id;
                        it = ls_outbuf_add_item(
                                ob,
                                ev[s].type ? ms->event_types[ev[s].type - 1]
                                           : "",
                                id, strnlen(id, LS_HOT_ID_BYTES));
                        if (!it)
                                return LS_ERR_NOMEM;
                        it->points = pts[s];
                        it->time = times[s];
                        o->n_hot++;
                }
        }
        for (k = 0; k < model->n_alert_attributes; k++) {
                const char *v = ls_attr_val(sh, lead, model->alert_attr_idx[k]);

                if (!*v)
                        continue;
                if (!ls_outbuf_add_item(ob, model->alert_attributes[k], v,
                                        strlen(v)))
                        return LS_ERR_NOMEM;
                o->n_attrs++;
        }
        return LS_OK;
}
