/*
 * ls_mload_suppress.c - the model set's `suppress` section
 * (docs/MODEL.md): behavioural suppression rules, each with an id and
 * exactly one of `burst`, `unopened` or `match`. `match` conditions are
 * the ones of `when` (ls_match.c), lists included, so scanner user agents
 * and IP ranges use the same matcher as every other rule. Lists the
 * section names are set-wide, like those of `ignore`: every model's
 * version covers them.
 */
#include <string.h>
#include <strings.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_model.h"
#include "model/ls_mload_int.h"
#include "model/ls_model_int.h"

static ls_err_t ls_mload_burst(ls_mload_t *ld, const yaml_node_t *node,
                               ls_suppress_t *s) {
        static const char *const keys[] = {"events", "count", "within", NULL};
        yaml_node_t *v;
        long long count = 0;
        size_t mark;
        ls_err_t err;

        s->kind = LS_SUPPRESS_BURST;
        if ((err = ls_mload_check_map(ld, node, keys, NULL)) ||
            (err = ls_mload_required(ld, node, "events", &v)))
                return err;
        mark = ls_mload_key(ld, "events");
        err = ls_mload_str_seq(ld, v, 0, &s->events, &s->n_events);
        ls_mload_pop(ld, mark);
        if (err)
                return err;
        if ((err = ls_mload_required(ld, node, "count", &v)))
                return err;
        if ((err = ls_mload_opt_int(ld, node, "count", 2, LS_SUPPRESS_MAX_COUNT,
                                    NULL, &count)))
                return err;
        s->count = (uint32_t)count;
        if ((err = ls_mload_required(ld, node, "within", &v)))
                return err;
        return ls_mload_opt_duration(ld, node, "within", NULL, &s->within_ms);
}

static ls_err_t ls_mload_unopened(ls_mload_t *ld, const yaml_node_t *node,
                                  ls_suppress_t *s) {
        static const char *const keys[] = {"event", "needs", "message_field",
                                           "remember", NULL};
        yaml_node_t *v;
        const char *str;
        long long remember = 16;
        size_t mark;
        ls_err_t err;

        s->kind = LS_SUPPRESS_UNOPENED;
        if ((err = ls_mload_check_map(ld, node, keys, NULL)) ||
            (err = ls_mload_required(ld, node, "event", &v)))
                return err;
        mark = ls_mload_key(ld, "event");
        err = ls_mload_string(ld, v, &str);
        ls_mload_pop(ld, mark);
        if (err)
                return err;
        if (!(s->event = ls_mload_lower(str)))
                return ls_mload_nomem(ld);
        if ((err = ls_mload_required(ld, node, "needs", &v)))
                return err;
        mark = ls_mload_key(ld, "needs");
        err = ls_mload_str_seq(ld, v, 0, &s->events, &s->n_events);
        for (size_t i = 0; !err && i < s->n_events; i++)
                if (!strcmp(s->events[i], s->event))
                        err = ls_mload_err(ld, v,
                                           "'%s' is the event judged; it "
                                           "cannot open its own message",
                                           s->event);
        ls_mload_pop(ld, mark);
        if (err)
                return err;
        if ((v = ls_mload_get(ld, node, "message_field"))) {
                mark = ls_mload_key(ld, "message_field");
                err = ls_mload_string(ld, v, &str);
                ls_mload_pop(ld, mark);
                if (err)
                        return err;
        } else {
                str = "message_id";
        }
        if (!(s->message_field = ls_strdup(str)))
                return ls_mload_nomem(ld);
        if ((err = ls_mload_opt_int(ld, node, "remember", 1,
                                    LS_SUPPRESS_MAX_REMEMBER, NULL, &remember)))
                return err;
        s->remember = (uint32_t)remember;
        return LS_OK;
}

/* One entry of `suppress`, the key path naming it. */
static ls_err_t ls_mload_suppress_one(ls_mload_t *ld, const yaml_node_t *node,
                                      size_t idx) {
        static const char *const keys[] = {"id", "burst", "unopened", "match",
                                           NULL};
        static const char *const kinds[] = {"burst", "unopened", "match", NULL};
        ls_modelset_t *ms = ld->ms;
        ls_suppress_t *s = &ms->suppress[idx];
        yaml_node_t *idn, *v = NULL;
        const char *kind = NULL;
        size_t i, mark;
        ls_err_t err;

        if ((err = ls_mload_check_map(ld, node, keys, NULL)) ||
            (err = ls_mload_req_id(ld, node, "id", &s->id, &idn)))
                return err;
        for (i = 0; i < idx; i++)
                if (!strcmp(ms->suppress[i].id, s->id))
                        return ls_mload_key_err(ld, idn, "id",
                                                "duplicate suppression id "
                                                "'%s'",
                                                s->id);
        for (i = 0; kinds[i]; i++) {
                yaml_node_t *k = ls_mload_get(ld, node, kinds[i]);

                if (!k)
                        continue;
                if (v)
                        return ls_mload_key_err(ld, k, kinds[i],
                                                "only one of burst, unopened, "
                                                "match per entry (already has "
                                                "'%s')",
                                                kind);
                v = k;
                kind = kinds[i];
        }
        if (!v)
                return ls_mload_err(ld, node,
                                    "needs one of burst, unopened, match");
        mark = ls_mload_key(ld, kind);
        if (!strcmp(kind, "burst")) {
                err = ls_mload_burst(ld, v, s);
        } else if (!strcmp(kind, "unopened")) {
                err = ls_mload_unopened(ld, v, s);
        } else {
                s->kind = LS_SUPPRESS_MATCH;
                err = ls_mload_when(ld, v, &s->when, &s->n_when);
                if (!err && s->n_when == 0)
                        err = ls_mload_err(ld, v, "needs a condition");
        }
        ls_mload_pop(ld, mark);
        if (err || s->kind != LS_SUPPRESS_BURST)
                return err;
        /* an event is counted by one burst rule at most, so that its
         * points are taken back once */
        for (i = 0; i < idx; i++) {
                const ls_suppress_t *o = &ms->suppress[i];
                size_t a, b;

                if (o->kind != LS_SUPPRESS_BURST)
                        continue;
                for (a = 0; a < s->n_events; a++)
                        for (b = 0; b < o->n_events; b++)
                                if (!strcmp(s->events[a], o->events[b]))
                                        return ls_mload_key_err(
                                                ld, v, "burst.events",
                                                "'%s' is already counted by "
                                                "burst '%s'",
                                                s->events[a], o->id);
        }
        return LS_OK;
}

ls_err_t ls_mload_suppress(ls_mload_t *ld, const yaml_node_t *node) {
        ls_modelset_t *ms = ld->ms;
        size_t i, n;
        ls_err_t err = LS_OK;

        if (node->type != YAML_SEQUENCE_NODE)
                return ls_mload_err(ld, node,
                                    "expected a list of suppression rules");
        n = ls_mload_seq_len(node);
        if (n > LS_SUPPRESS_MAX_RULES)
                return ls_mload_err(ld, node, "at most %d rules",
                                    LS_SUPPRESS_MAX_RULES);
        if (n && !(ms->suppress = ls_calloc(n, sizeof(ls_suppress_t))))
                return ls_mload_nomem(ld);
        for (i = 0; i < n && !err; i++) {
                size_t mark = ls_mload_idx(ld, i);

                ms->n_suppress = i + 1;
                err = ls_mload_suppress_one(ld, ls_mload_seq_at(ld, node, i),
                                            i);
                ls_mload_pop(ld, mark);
        }
        return err;
}

void ls_suppress_clear(ls_suppress_t *s) {
        size_t i;

        ls_free(s->id);
        for (i = 0; s->events && i < s->n_events; i++)
                ls_free(s->events[i]);
        ls_free(s->events);
        ls_free(s->event);
        ls_free(s->message_field);
        for (i = 0; s->when && i < s->n_when; i++)
                ls_cond_clear(&s->when[i]);
        ls_free(s->when);
}
