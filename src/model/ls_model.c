/*
 * ls_model.c - loads a model file (YAML, docs/MODEL.md) into an immutable
 * ls_modelset_t, validates all of it, computes the content versions, and
 * prints the summary shown by `leadscore check`.
 *
 * The whole file is parsed with libyaml's document API; every node keeps
 * its line, so each error reads "<file>:<line>: <key path>: <message>"
 * (helpers in ls_mload.c, conditions in ls_match.c, the summary in
 * ls_model_print.c).
 * The loader fills a zeroed set as it goes; on any error the partial set
 * is destroyed, so callers only ever see a complete, valid set.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <yaml.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_buf.h"
#include "leadscore/ls_model.h"
#include "model/ls_mload_int.h"
#include "model/ls_model_int.h"

#define LS_MODEL_MAX_FIT_RULES 64
#define LS_MODEL_MAX_LEVELS 8
#define LS_MODEL_MAX_DEDUPE 64
#define LS_MODEL_MAX_TRACK 64
#define LS_MODEL_MAX_DEPTH 64
#define LS_MODEL_DAY_MS (24LL * 3600 * 1000)

/*
 * Models
 */

static ls_err_t ls_mload_cap(ls_mload_t *ld, const yaml_node_t *node,
                             ls_cap_t *cap) {
        static const char *const keys[] = {"points", "count", "per", NULL};
        long long v;
        int has_points, has_count, has_per;
        ls_err_t err;

        if ((err = ls_mload_check_map(ld, node, keys, NULL)))
                return err;
        if ((err = ls_mload_opt_int(ld, node, "points", 1, INT32_MAX,
                                    &has_points, &v)))
                return err;
        if (has_points)
                cap->max_points = (int32_t)v;
        if ((err = ls_mload_opt_int(ld, node, "count", 1, UINT32_MAX,
                                    &has_count, &v)))
                return err;
        if (has_count)
                cap->max_count = (uint32_t)v;
        if ((err = ls_mload_opt_duration(ld, node, "per", &has_per,
                                         &cap->per_ms)))
                return err;
        if (!has_points && !has_count)
                return ls_mload_err(ld, node, "needs points and/or count");
        cap->set = 1;
        return LS_OK;
}

/** Reads the required `id` of rule mapping @p node into @p *idp and
 *  checks that no earlier rule (fit or engagement) uses it. */
static ls_err_t ls_mload_rule_id(ls_mload_t *ld, const ls_model_t *m,
                                 const yaml_node_t *node, char **idp) {
        yaml_node_t *idn;
        const char *id;
        size_t i;
        ls_err_t err;

        if ((err = ls_mload_req_id(ld, node, "id", idp, &idn)))
                return err;
        id = *idp;
        for (i = 0; i < m->n_fit_rules; i++)
                if (m->fit_rules[i].id && m->fit_rules[i].id != id &&
                    !strcmp(m->fit_rules[i].id, id))
                        return ls_mload_key_err(ld, idn, "id",
                                                "duplicate rule id '%s'", id);
        for (i = 0; i < m->n_rules; i++)
                if (m->rules[i].id && m->rules[i].id != id &&
                    !strcmp(m->rules[i].id, id))
                        return ls_mload_key_err(ld, idn, "id",
                                                "duplicate rule id '%s'", id);
        return LS_OK;
}

/** A parser of one section of a model, filling @p m from @p node. */
typedef ls_err_t (*ls_mload_section_fn)(ls_mload_t *ld, ls_model_t *m,
                                        const yaml_node_t *node);

/** Parses @p key of mapping @p map with @p fn, the key path naming it;
 *  an absent key is an error when @p required, else LS_OK. */
static ls_err_t ls_mload_section(ls_mload_t *ld, ls_model_t *m,
                                 const yaml_node_t *map, const char *key,
                                 int required, ls_mload_section_fn fn) {
        yaml_node_t *v;
        size_t mark;
        ls_err_t err;

        if (required) {
                if ((err = ls_mload_required(ld, map, key, &v)))
                        return err;
        } else if (!(v = ls_mload_get(ld, map, key))) {
                return LS_OK;
        }
        mark = ls_mload_key(ld, key);
        err = fn(ld, m, v);
        ls_mload_pop(ld, mark);
        return err;
}

static ls_err_t ls_mload_fit_rule(ls_mload_t *ld, ls_model_t *m,
                                  const yaml_node_t *node, ls_fit_rule_t *r) {
        static const char *const extra[] = {"id", "attribute", "points", NULL};
        yaml_node_t *v;
        size_t mark;
        ls_err_t err;

        if (node->type != YAML_MAPPING_NODE)
                return ls_mload_err(ld, node, "expected a mapping");
        if ((err = ls_mload_rule_id(ld, m, node, &r->id)))
                return err;
        if ((err = ls_mload_cond(ld, node, "attribute", extra, &r->cond)))
                return err;
        if ((err = ls_mload_required(ld, node, "points", &v)))
                return err;
        mark = ls_mload_key(ld, "points");
        err = ls_mload_int32(ld, v, &r->points);
        ls_mload_pop(ld, mark);
        return err;
}

static ls_err_t ls_mload_fit(ls_mload_t *ld, ls_model_t *m,
                             const yaml_node_t *node) {
        static const char *const keys[] = {"min", "max", "rules", NULL};
        yaml_node_t *rules;
        size_t i, n, mark;
        ls_err_t err;

        if ((err = ls_mload_check_map(ld, node, keys, NULL)))
                return err;
        if ((err = ls_mload_opt_int32(ld, node, "min", &m->has_fit_min,
                                      &m->fit_min)) ||
            (err = ls_mload_opt_int32(ld, node, "max", &m->has_fit_max,
                                      &m->fit_max)))
                return err;
        if (m->has_fit_min && m->has_fit_max && m->fit_min > m->fit_max)
                return ls_mload_key_err(ld, ls_mload_get(ld, node, "max"),
                                        "max", "must be >= min (%d)",
                                        (int)m->fit_min);
        if (!(rules = ls_mload_get(ld, node, "rules")))
                return LS_OK;
        mark = ls_mload_key(ld, "rules");
        if (rules->type != YAML_SEQUENCE_NODE) {
                err = ls_mload_err(ld, rules, "expected a list of rules");
                goto out;
        }
        n = ls_mload_seq_len(rules);
        if (n > LS_MODEL_MAX_FIT_RULES) {
                err = ls_mload_err(ld, rules,
                                   "at most %d fit rules are allowed (has "
                                   "%zu)",
                                   LS_MODEL_MAX_FIT_RULES, n);
                goto out;
        }
        if (!(m->fit_rules = ls_calloc(n, sizeof(ls_fit_rule_t)))) {
                err = ls_mload_nomem(ld);
                goto out;
        }
        m->n_fit_rules = n;
        for (i = 0; i < n; i++)
                m->fit_rules[i].cond.list = -1;
        for (i = 0; i < n; i++) {
                size_t imark = ls_mload_idx(ld, i);

                err = ls_mload_fit_rule(ld, m, ls_mload_seq_at(ld, rules, i),
                                        &m->fit_rules[i]);
                ls_mload_pop(ld, imark);
                if (err)
                        goto out;
        }
out:
        ls_mload_pop(ld, mark);
        return err;
}

static ls_err_t ls_mload_categories(ls_mload_t *ld, ls_model_t *m,
                                    const yaml_node_t *node) {
        static const char *const keys[] = {"cap", NULL};
        const yaml_node_pair_t *p;
        size_t i, n;
        ls_err_t err;

        if (node->type != YAML_MAPPING_NODE)
                return ls_mload_err(ld, node,
                                    "expected a mapping of name: {cap: ...}");
        n = ls_mload_map_len(node);
        if (!(m->categories = ls_calloc(n, sizeof(ls_category_t))))
                return ls_mload_nomem(ld);
        m->n_categories = n;
        for (i = 0, p = node->data.mapping.pairs.start;
             p < node->data.mapping.pairs.top; p++, i++) {
                yaml_node_t *k = ls_mload_node(ld, p->key);
                yaml_node_t *v = ls_mload_node(ld, p->value);
                yaml_node_t *capn;
                const char *name;
                size_t mark, j;

                if (k->type != YAML_SCALAR_NODE)
                        return ls_mload_err(ld, k, "keys must be strings");
                mark = ls_mload_key(ld, ls_mload_str(k));
                if ((err = ls_mload_id(ld, k, &name)))
                        goto next;
                for (j = 0; j < i; j++) {
                        if (!strcmp(m->categories[j].name, name)) {
                                err = ls_mload_err(ld, k, "duplicate key");
                                goto next;
                        }
                }
                if (!(m->categories[i].name = ls_strdup(name))) {
                        err = ls_mload_nomem(ld);
                        goto next;
                }
                if (ls_mload_is_null(v))
                        goto next; /* a category without a cap */
                if ((err = ls_mload_check_map(ld, v, keys, NULL)))
                        goto next;
                if ((capn = ls_mload_get(ld, v, "cap"))) {
                        size_t cmark = ls_mload_key(ld, "cap");

                        err = ls_mload_cap(ld, capn, &m->categories[i].cap);
                        ls_mload_pop(ld, cmark);
                }
        next:
                ls_mload_pop(ld, mark);
                if (err)
                        return err;
        }
        return LS_OK;
}

static ls_err_t ls_mload_rule(ls_mload_t *ld, ls_model_t *m,
                              const yaml_node_t *node, ls_rule_t *r) {
        static const char *const keys[] = {"id",     "event",  "when",
                                           "unless", "points", "category",
                                           "cap",    NULL};
        yaml_node_t *v;
        const char *s;
        size_t mark, i;
        ls_err_t err;

        if ((err = ls_mload_check_map(ld, node, keys, NULL)) ||
            (err = ls_mload_rule_id(ld, m, node, &r->id)))
                return err;

        if ((err = ls_mload_required(ld, node, "event", &v)))
                return err;
        mark = ls_mload_key(ld, "event");
        err = ls_mload_string(ld, v, &s);
        ls_mload_pop(ld, mark);
        if (err)
                return err;
        if (!(r->event_type = ls_mload_lower(s)))
                return ls_mload_nomem(ld);

        if ((v = ls_mload_get(ld, node, "when"))) {
                mark = ls_mload_key(ld, "when");
                err = ls_mload_when(ld, v, &r->when, &r->n_when);
                ls_mload_pop(ld, mark);
                if (err)
                        return err;
        }
        if ((v = ls_mload_get(ld, node, "unless"))) {
                mark = ls_mload_key(ld, "unless");
                err = ls_mload_when(ld, v, &r->unless, &r->n_unless);
                ls_mload_pop(ld, mark);
                if (err)
                        return err;
        }

        if ((err = ls_mload_required(ld, node, "points", &v)))
                return err;
        mark = ls_mload_key(ld, "points");
        err = ls_mload_int32(ld, v, &r->points);
        if (!err && r->points == 0)
                err = ls_mload_err(ld, v, "must not be zero");
        ls_mload_pop(ld, mark);
        if (err)
                return err;

        r->category = -1;
        if ((v = ls_mload_get(ld, node, "category"))) {
                mark = ls_mload_key(ld, "category");
                err = ls_mload_string(ld, v, &s);
                if (!err) {
                        for (i = 0; i < m->n_categories; i++)
                                if (!strcmp(m->categories[i].name, s))
                                        break;
                        if (i == m->n_categories)
                                err = ls_mload_err(ld, v,
                                                   "unknown category '%s' "
                                                   "(declare it under "
                                                   "engagement.categories)",
                                                   s);
                        else
                                r->category = (int)i;
                }
                ls_mload_pop(ld, mark);
                if (err)
                        return err;
        }
        if ((v = ls_mload_get(ld, node, "cap"))) {
                mark = ls_mload_key(ld, "cap");
                err = ls_mload_cap(ld, v, &r->cap);
                ls_mload_pop(ld, mark);
        }
        return err;
}

/* Precomputes the half-life factors of the first ticks (see ls_decay_t). */
static ls_err_t ls_decay_factors(ls_mload_t *ld, ls_decay_t *d) {
        uint32_t n = 4096, i;

        if (!(d->factors = ls_calloc(n, sizeof(*d->factors))))
                return ls_mload_nomem(ld);
        for (i = 0; i < n; i++)
                d->factors[i] = pow(0.5, (double)i * (double)d->tick_ms /
                                                 (double)d->half_life_ms);
        d->n_factors = n;
        return LS_OK;
}

static ls_err_t ls_mload_decay(ls_mload_t *ld, ls_model_t *m,
                               const yaml_node_t *node) {
        static const char *const keys[] = {"steps", "half_life", "tick", NULL};
        static const char *const step_keys[] = {"after", "points", NULL};
        ls_decay_t *d = &m->decay;
        yaml_node_t *steps = NULL, *hl = NULL, *v;
        size_t i, n, mark;
        int has_tick;
        ls_err_t err;

        if ((err = ls_mload_check_map(ld, node, keys, NULL)))
                return err;
        steps = ls_mload_get(ld, node, "steps");
        hl = ls_mload_get(ld, node, "half_life");
        if (!!steps == !!hl)
                return ls_mload_err(ld, node,
                                    "needs exactly one of steps or half_life");
        if ((err = ls_mload_opt_duration(ld, node, "tick", &has_tick,
                                         &d->tick_ms)))
                return err;
        if (hl) {
                d->kind = LS_DECAY_HALF_LIFE;
                mark = ls_mload_key(ld, "half_life");
                err = ls_mload_duration(ld, hl, &d->half_life_ms);
                ls_mload_pop(ld, mark);
                if (!err)
                        err = ls_decay_factors(ld, d);
                return err;
        }
        if (has_tick)
                return ls_mload_key_err(ld, ls_mload_get(ld, node, "tick"),
                                        "tick", "only applies to half_life");
        d->kind = LS_DECAY_STEPS;
        mark = ls_mload_key(ld, "steps");
        if (steps->type != YAML_SEQUENCE_NODE ||
            (n = ls_mload_seq_len(steps)) == 0) {
                err = ls_mload_err(ld, steps,
                                   "expected a non-empty list of steps");
                goto out;
        }
        if (!(d->steps = ls_calloc(n, sizeof(ls_decay_step_t)))) {
                err = ls_mload_nomem(ld);
                goto out;
        }
        d->n_steps = n;
        for (i = 0; i < n && !err; i++) {
                yaml_node_t *st = ls_mload_seq_at(ld, steps, i);
                ls_decay_step_t *step = &d->steps[i];
                size_t imark = ls_mload_idx(ld, i), kmark;

                if ((err = ls_mload_check_map(ld, st, step_keys, NULL)) ||
                    (err = ls_mload_required(ld, st, "after", &v)))
                        goto step_out;
                kmark = ls_mload_key(ld, "after");
                err = ls_mload_duration(ld, v, &step->after_ms);
                if (!err && i > 0 && step->after_ms <= d->steps[i - 1].after_ms)
                        err = ls_mload_err(ld, v,
                                           "must be greater than the previous "
                                           "step's after");
                ls_mload_pop(ld, kmark);
                if (err || (err = ls_mload_required(ld, st, "points", &v)))
                        goto step_out;
                kmark = ls_mload_key(ld, "points");
                err = ls_mload_int32(ld, v, &step->points);
                if (!err && step->points > 0)
                        err = ls_mload_err(ld, v, "must be <= 0");
                ls_mload_pop(ld, kmark);
        step_out:
                ls_mload_pop(ld, imark);
        }
out:
        ls_mload_pop(ld, mark);
        return err;
}

/** engagement.rules: the list of engagement rules. */
static ls_err_t ls_mload_rules(ls_mload_t *ld, ls_model_t *m,
                               const yaml_node_t *node) {
        size_t i, n;
        ls_err_t err = LS_OK;

        if (node->type != YAML_SEQUENCE_NODE)
                return ls_mload_err(ld, node, "expected a list of rules");
        n = ls_mload_seq_len(node);
        if (!(m->rules = ls_calloc(n, sizeof(ls_rule_t))))
                return ls_mload_nomem(ld);
        m->n_rules = n;
        for (i = 0; i < n; i++)
                m->rules[i].category = -1;
        for (i = 0; i < n && !err; i++) {
                size_t imark = ls_mload_idx(ld, i);

                err = ls_mload_rule(ld, m, ls_mload_seq_at(ld, node, i),
                                    &m->rules[i]);
                ls_mload_pop(ld, imark);
        }
        return err;
}

static ls_err_t ls_mload_engagement(ls_mload_t *ld, ls_model_t *m,
                                    const yaml_node_t *node) {
        static const char *const keys[] = {"floor", "max",   "categories",
                                           "rules", "decay", NULL};
        ls_err_t err;

        if ((err = ls_mload_check_map(ld, node, keys, NULL)))
                return err;
        if ((err = ls_mload_opt_int32(ld, node, "floor", NULL,
                                      &m->engagement_floor)) ||
            (err = ls_mload_opt_int32(ld, node, "max", &m->has_engagement_max,
                                      &m->engagement_max)))
                return err;
        if (m->has_engagement_max && m->engagement_max < m->engagement_floor)
                return ls_mload_key_err(ld, ls_mload_get(ld, node, "max"),
                                        "max", "must be >= floor (%d)",
                                        (int)m->engagement_floor);
        if ((err = ls_mload_section(ld, m, node, "categories", 0,
                                    ls_mload_categories)) ||
            (err = ls_mload_section(ld, m, node, "rules", 0, ls_mload_rules)))
                return err;
        return ls_mload_section(ld, m, node, "decay", 0, ls_mload_decay);
}

/** Grades (@p best_first) or bands: names unique, mins monotonic, the
 *  catch-all (last grade / first band) without min. */
static ls_err_t ls_mload_levels(ls_mload_t *ld, const yaml_node_t *node,
                                int grades, ls_level_t **out, size_t *n_out) {
        static const char *const keys[] = {"name", "min", NULL};
        const char *what = grades ? "grade" : "band";
        size_t i, j, n;
        ls_err_t err = LS_OK;

        if (node->type != YAML_SEQUENCE_NODE)
                return ls_mload_err(ld, node, "expected a list of %ss", what);
        n = ls_mload_seq_len(node);
        if (n < 1 || n > LS_MODEL_MAX_LEVELS)
                return ls_mload_err(ld, node, "expected 1 to %d %ss (has %zu)",
                                    LS_MODEL_MAX_LEVELS, what, n);
        if (!(*out = ls_calloc(n, sizeof(ls_level_t))))
                return ls_mload_nomem(ld);
        *n_out = n;
        for (i = 0; i < n && !err; i++) {
                yaml_node_t *it = ls_mload_seq_at(ld, node, i), *namen, *minn;
                ls_level_t *lv = &(*out)[i];
                size_t imark = ls_mload_idx(ld, i), kmark;
                int catch_all = grades ? i == n - 1 : i == 0;

                if ((err = ls_mload_check_map(ld, it, keys, NULL)) ||
                    (err = ls_mload_req_id(ld, it, "name", &lv->name, &namen)))
                        goto next;
                for (j = 0; j < i; j++) {
                        if (!strcmp((*out)[j].name, lv->name)) {
                                err = ls_mload_key_err(ld, namen, "name",
                                                       "duplicate %s name "
                                                       "'%s'",
                                                       what, lv->name);
                                goto next;
                        }
                }
                if ((err = ls_mload_opt_int32(ld, it, "min", &lv->has_min,
                                              &lv->min)))
                        goto next;
                minn = ls_mload_get(ld, it, "min");
                kmark = ls_mload_key(ld, "min");
                if (catch_all && lv->has_min)
                        err = ls_mload_err(ld, minn,
                                           "the %s %s must not have a min "
                                           "(it catches all the rest)",
                                           grades ? "last" : "first", what);
                else if (!catch_all && !lv->has_min)
                        err = ls_mload_err(ld, it,
                                           "required (only the %s %s has no "
                                           "min)",
                                           grades ? "last" : "first", what);
                else if (grades && i > 0 && lv->has_min &&
                         lv->min >= (*out)[i - 1].min)
                        err = ls_mload_err(ld, minn,
                                           "must be less than the previous "
                                           "grade's min (%d)",
                                           (int)(*out)[i - 1].min);
                else if (!grades && i > 1 && lv->min <= (*out)[i - 1].min)
                        err = ls_mload_err(ld, minn,
                                           "must be greater than the previous "
                                           "band's min (%d)",
                                           (int)(*out)[i - 1].min);
                ls_mload_pop(ld, kmark);
        next:
                ls_mload_pop(ld, imark);
        }
        return err;
}

static int ls_mload_level_idx(const ls_level_t *lv, size_t n,
                              const char *name) {
        size_t i;

        for (i = 0; i < n; i++)
                if (!strcmp(lv[i].name, name))
                        return (int)i;
        return -1;
}

/** One of mql.enter / mql.stay; @p enter is set when parsing stay, which
 *  must be no stricter. */
static ls_err_t ls_mload_qualify(ls_mload_t *ld, const ls_model_t *m,
                                 const yaml_node_t *node, ls_qualify_t *q,
                                 const ls_qualify_t *enter) {
        static const char *const keys[] = {"min_total", "min_grade", "min_band",
                                           NULL};
        static const char *const level_keys[] = {"min_grade", "min_band"};
        yaml_node_t *v;
        size_t mark;
        ls_err_t err;
        int k;

        q->min_grade = -1;
        q->min_band = -1;
        if ((err = ls_mload_check_map(ld, node, keys, NULL)) ||
            (err = ls_mload_opt_int32(ld, node, "min_total", &q->has_min_total,
                                      &q->min_total)))
                return err;
        for (k = 0; k < 2; k++) {
                const char *s;
                int idx;

                if (!(v = ls_mload_get(ld, node, level_keys[k])))
                        continue;
                mark = ls_mload_key(ld, level_keys[k]);
                err = ls_mload_string(ld, v, &s);
                if (!err) {
                        idx = k == 0 ? ls_mload_level_idx(m->grades,
                                                          m->n_grades, s)
                                     : ls_mload_level_idx(m->bands, m->n_bands,
                                                          s);
                        if (idx < 0)
                                err = ls_mload_err(ld, v, "unknown %s '%s'",
                                                   k == 0 ? "grade" : "band",
                                                   s);
                        else if (k == 0)
                                q->min_grade = idx;
                        else
                                q->min_band = idx;
                }
                ls_mload_pop(ld, mark);
                if (err)
                        return err;
        }
        if (!q->has_min_total && q->min_grade < 0 && q->min_band < 0)
                return ls_mload_err(ld, node,
                                    "needs at least one of min_total, "
                                    "min_grade, min_band");
        if (!enter)
                return LS_OK;
        /* stay must hold whenever enter holds */
        if (q->has_min_total &&
            (!enter->has_min_total || q->min_total > enter->min_total)) {
                return ls_mload_key_err(ld, ls_mload_get(ld, node, "min_total"),
                                        "min_total",
                                        "stay must be no stricter than "
                                        "enter");
        }
        if (q->min_grade >= 0 &&
            (enter->min_grade < 0 || q->min_grade < enter->min_grade)) {
                return ls_mload_key_err(ld, ls_mload_get(ld, node, "min_grade"),
                                        "min_grade",
                                        "stay must be no stricter than "
                                        "enter");
        }
        if (q->min_band >= 0 &&
            (enter->min_band < 0 || q->min_band > enter->min_band)) {
                return ls_mload_key_err(ld, ls_mload_get(ld, node, "min_band"),
                                        "min_band",
                                        "stay must be no stricter than "
                                        "enter");
        }
        return LS_OK;
}

static ls_err_t ls_mload_mql(ls_mload_t *ld, ls_model_t *m,
                             const yaml_node_t *node) {
        static const char *const keys[] = {"enter", "stay", NULL};
        yaml_node_t *v;
        size_t mark;
        ls_err_t err;

        if ((err = ls_mload_check_map(ld, node, keys, NULL)) ||
            (err = ls_mload_required(ld, node, "enter", &v)))
                return err;
        mark = ls_mload_key(ld, "enter");
        err = ls_mload_qualify(ld, m, v, &m->mql.enter, NULL);
        ls_mload_pop(ld, mark);
        if (err)
                return err;
        if ((v = ls_mload_get(ld, node, "stay"))) {
                mark = ls_mload_key(ld, "stay");
                err = ls_mload_qualify(ld, m, v, &m->mql.stay, &m->mql.enter);
                ls_mload_pop(ld, mark);
                if (err)
                        return err;
        } else {
                m->mql.stay = m->mql.enter;
        }
        m->mql.enabled = 1;
        return LS_OK;
}

static ls_err_t ls_mload_hot(ls_mload_t *ld, ls_model_t *m,
                             const yaml_node_t *node) {
        static const char *const keys[] = {"points",      "within", "events",
                                           "rearm_after", "track",  NULL};
        ls_hot_t *hot = &m->hot;
        int has_points, has_within, has_rearm, has_track;
        long long v;
        yaml_node_t *ev;
        size_t mark;
        ls_err_t err;

        if ((err = ls_mload_check_map(ld, node, keys, NULL)) ||
            (err = ls_mload_opt_int(ld, node, "points", 1, INT32_MAX,
                                    &has_points, &v)))
                return err;
        if (has_points)
                hot->points = (int32_t)v;
        if ((err = ls_mload_opt_duration(ld, node, "within", &has_within,
                                         &hot->within_ms)) ||
            (err = ls_mload_opt_duration(ld, node, "rearm_after", &has_rearm,
                                         &hot->rearm_ms)) ||
            (err = ls_mload_opt_int(ld, node, "track", 1, LS_MODEL_MAX_TRACK,
                                    &has_track, &v)))
                return err;
        hot->track = has_track ? (uint32_t)v : 16;
        if ((ev = ls_mload_get(ld, node, "events"))) {
                mark = ls_mload_key(ld, "events");
                err = ls_mload_str_seq(ld, ev, 0, &hot->events, &hot->n_events);
                ls_mload_pop(ld, mark);
                if (err)
                        return err;
        }
        if (has_points && !has_within)
                return ls_mload_key_err(ld, node, "within",
                                        "required with points");
        if (has_within && !has_points)
                return ls_mload_key_err(ld, node, "points",
                                        "required with within");
        if (!has_points && !ev)
                return ls_mload_err(ld, node,
                                    "needs points (with within) or events");
        if (!has_rearm)
                hot->rearm_ms = has_within ? hot->within_ms : LS_MODEL_DAY_MS;
        hot->enabled = 1;
        return LS_OK;
}

static ls_err_t ls_mload_products(ls_mload_t *ld, ls_model_t *m,
                                  const yaml_node_t *node) {
        return ls_mload_str_seq(ld, node, 1, &m->products, &m->n_products);
}

static ls_err_t ls_mload_grades(ls_mload_t *ld, ls_model_t *m,
                                const yaml_node_t *node) {
        return ls_mload_levels(ld, node, 1, &m->grades, &m->n_grades);
}

static ls_err_t ls_mload_bands(ls_mload_t *ld, ls_model_t *m,
                               const yaml_node_t *node) {
        return ls_mload_levels(ld, node, 0, &m->bands, &m->n_bands);
}

static ls_err_t ls_mload_model(ls_mload_t *ld, const yaml_node_t *node,
                               ls_model_t *m) {
        static const char *const keys[] = {"id",         "products", "fit",
                                           "engagement", "grades",   "bands",
                                           "mql",        "hot",      NULL};
        size_t i;
        uint32_t slot = 0;
        ls_err_t err;

        m->decay.tick_ms = LS_MODEL_DAY_MS;
        m->mql.enter.min_grade = m->mql.enter.min_band = -1;
        m->mql.stay.min_grade = m->mql.stay.min_band = -1;
        if ((err = ls_mload_check_map(ld, node, keys, NULL)) ||
            (err = ls_mload_req_id(ld, node, "id", &m->id, NULL)) ||
            (err = ls_mload_section(ld, m, node, "products", 0,
                                    ls_mload_products)) ||
            (err = ls_mload_section(ld, m, node, "fit", 0, ls_mload_fit)) ||
            (err = ls_mload_section(ld, m, node, "engagement", 0,
                                    ls_mload_engagement)) ||
            (err = ls_mload_section(ld, m, node, "grades", 1,
                                    ls_mload_grades)) ||
            (err = ls_mload_section(ld, m, node, "bands", 1, ls_mload_bands)) ||
            (err = ls_mload_section(ld, m, node, "mql", 0, ls_mload_mql)) ||
            (err = ls_mload_section(ld, m, node, "hot", 0, ls_mload_hot)))
                return err;
        /* Cap slots: capped rules in rule order, then capped categories. */
        for (i = 0; i < m->n_rules; i++)
                if (m->rules[i].cap.set)
                        m->rules[i].cap.slot = slot++;
        for (i = 0; i < m->n_categories; i++)
                if (m->categories[i].cap.set)
                        m->categories[i].cap.slot = slot++;
        m->n_cap_slots = slot;
        return LS_OK;
}

/*
 * Versions
 */

/** libyaml marks count characters; @returns the byte offset of the
 *  character at @p idx. */
static size_t ls_mload_byte_offset(const ls_mload_t *ld, size_t idx) {
        size_t pos = 0, chars = 0;

        if (ld->len >= 3 && !memcmp(ld->text, "\xEF\xBB\xBF", 3))
                pos = 3; /* the reader skips a BOM without counting it */
        while (pos < ld->len && chars < idx) {
                pos++;
                while (pos < ld->len &&
                       ((unsigned char)ld->text[pos] & 0xC0) == 0x80)
                        pos++;
                chars++;
        }
        return pos;
}

/** Feeds the source text of @p node (trailing blanks trimmed). */
/*
 * Hashes one named piece: its label, its length, its bytes. The framing
 * keeps different pieces from hashing alike when run together (list "a"
 * = "x\ny" and "b" = "" against "a" = "x", "b" = "y"; `lateness: 8`
 * against `dedupe: 8`).
 */
static int ls_mload_hash_piece(EVP_MD_CTX *ctx, const char *label,
                               const void *data, size_t len) {
        uint64_t n = len;

        return EVP_DigestUpdate(ctx, label, strlen(label) + 1) &&
               EVP_DigestUpdate(ctx, &n, sizeof(n)) &&
               (len == 0 || EVP_DigestUpdate(ctx, data, len));
}

static int ls_mload_hash_node(const ls_mload_t *ld, EVP_MD_CTX *ctx,
                              const char *label, const yaml_node_t *node) {
        size_t b = ls_mload_byte_offset(ld, node->start_mark.index);
        size_t e = ls_mload_byte_offset(ld, node->end_mark.index);

        while (e > b && isspace((unsigned char)ld->text[e - 1]))
                e--;
        return ls_mload_hash_piece(ctx, label, ld->text + b, e > b ? e - b : 0);
}

static void ls_mload_hex(const unsigned char *md, char *out) {
        static const char hex[] = "0123456789abcdef";
        int i;

        for (i = 0; i < LS_MODEL_VERSION_LEN / 2; i++) {
                out[2 * i] = hex[md[i] >> 4];
                out[2 * i + 1] = hex[md[i] & 0xf];
        }
        out[LS_MODEL_VERSION_LEN] = '\0';
}

/** Finishes SHA-256 digest @p ctx (freed here) into the hex version
 *  @p out; @p ok is false when an earlier digest step failed. */
static ls_err_t ls_mload_sha256_done(ls_mload_t *ld, EVP_MD_CTX *ctx, int ok,
                                     char *out) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;

        ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen);
        EVP_MD_CTX_free(ctx);
        if (!ok)
                return ls_seterr(ld->errstr, ld->errstr_size, LS_ERR_NOMEM,
                                 "%s: SHA-256 failed", ld->name);
        ls_mload_hex(md, out);
        return LS_OK;
}

/** Hashes the model at @p model_node into its version (lists it uses are
 *  flagged in ld->model_lists). */
static ls_err_t ls_mload_model_version(ls_mload_t *ld, ls_model_t *m,
                                       const yaml_node_t *root,
                                       const yaml_node_t *model_node) {
        static const char *const shared[] = {"lateness", "max_future", "dedupe",
                                             "ignore", NULL};
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        size_t i;
        int ok;

        if (!ctx)
                return ls_mload_nomem(ld);
        ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
             ls_mload_hash_node(ld, ctx, "model", model_node);
        for (i = 0; ok && i < ld->ms->n_lists; i++)
                if (ld->model_lists[i] || ld->ignore_lists[i])
                        ok = ls_mload_hash_piece(ctx, ld->ms->lists[i].name,
                                                 ld->list_raw[i].data,
                                                 ld->list_raw[i].len);
        for (i = 0; ok && shared[i]; i++) {
                yaml_node_t *v =
                        ls_mload_get((ls_mload_t *)ld, root, shared[i]);

                if (v)
                        ok = ls_mload_hash_node(ld, ctx, shared[i], v);
        }
        return ls_mload_sha256_done(ld, ctx, ok, m->version);
}

static ls_err_t ls_mload_set_version(ls_mload_t *ld) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        size_t i;
        int ok;

        if (!ctx)
                return ls_mload_nomem(ld);
        ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
             ls_mload_hash_piece(ctx, "file", ld->text, ld->len);
        for (i = 0; ok && i < ld->ms->n_lists; i++)
                ok = ls_mload_hash_piece(ctx, ld->ms->lists[i].name,
                                         ld->list_raw[i].data,
                                         ld->list_raw[i].len);
        return ls_mload_sha256_done(ld, ctx, ok, ld->ms->version);
}

/*
 * The set
 */

static ls_err_t ls_mload_event_types(ls_mload_t *ld) {
        ls_modelset_t *ms = ld->ms;
        size_t total = 0, i, j, n = 0;

        for (i = 0; i < ms->n_models; i++)
                total += ms->models[i].n_rules;
        if (!(ms->event_types = ls_calloc(total, sizeof(char *))))
                return ls_mload_nomem(ld);
        for (i = 0; i < ms->n_models; i++)
                for (j = 0; j < ms->models[i].n_rules; j++)
                        ms->event_types[n++] =
                                ms->models[i].rules[j].event_type;
        qsort(ms->event_types, n, sizeof(char *), ls_mload_strcmp);
        for (i = 0, j = 0; i < n; i++)
                if (j == 0 ||
                    strcmp(ms->event_types[i], ms->event_types[j - 1]))
                        ms->event_types[j++] = ms->event_types[i];
        /* Own copies, so the table outlives nothing it points into. */
        ms->n_event_types = 0;
        for (i = 0; i < j; i++) {
                if (!(ms->event_types[i] = ls_strdup(ms->event_types[i])))
                        return ls_mload_nomem(ld);
                ms->n_event_types++;
        }
        for (i = 0; i < ms->n_models; i++)
                for (j = 0; j < ms->models[i].n_rules; j++)
                        ms->models[i].rules[j].type_idx =
                                (uint32_t)ls_modelset_event_type(
                                        ms, ms->models[i].rules[j].event_type);
        return LS_OK;
}

static ls_err_t ls_mload_top(ls_mload_t *ld, const yaml_node_t *root) {
        static const char *const keys[] = {"lateness", "max_future", "dedupe",
                                           "lists",    "ignore",     "models",
                                           NULL};
        ls_modelset_t *ms = ld->ms;
        yaml_node_t *v, *models;
        long long dedupe;
        size_t i, j, n, mark;
        int has;
        ls_err_t err;

        if (root->type != YAML_MAPPING_NODE)
                return ls_mload_err(ld, root,
                                    "expected a mapping with `models`");
        if ((err = ls_mload_check_map(ld, root, keys, NULL)))
                return err;
        ms->lateness_ms = 3600LL * 1000;
        ms->max_future_ms = 3600LL * 1000;
        if ((err = ls_mload_opt_duration(ld, root, "lateness", NULL,
                                         &ms->lateness_ms)) ||
            (err = ls_mload_opt_duration(ld, root, "max_future", NULL,
                                         &ms->max_future_ms)) ||
            (err = ls_mload_opt_int(ld, root, "dedupe", 0, LS_MODEL_MAX_DEDUPE,
                                    &has, &dedupe)))
                return err;
        ms->dedupe = has ? (uint32_t)dedupe : 8;
        if ((v = ls_mload_get(ld, root, "lists"))) {
                mark = ls_mload_key(ld, "lists");
                err = ls_mload_lists(ld, v);
                ls_mload_pop(ld, mark);
                if (err)
                        return err;
        }
        if (!ld->ignore_lists && (!(ld->ignore_lists = ls_calloc(1, 1)) ||
                                  !(ld->model_lists = ls_calloc(1, 1))))
                return ls_mload_nomem(ld);
        if ((v = ls_mload_get(ld, root, "ignore"))) {
                static const char *const extra[] = {"field", NULL};

                mark = ls_mload_key(ld, "ignore");
                if (v->type != YAML_SEQUENCE_NODE) {
                        err = ls_mload_err(ld, v,
                                           "expected a list of conditions");
                        ls_mload_pop(ld, mark);
                        return err;
                }
                n = ls_mload_seq_len(v);
                if (!(ms->ignore = ls_calloc(n, sizeof(ls_cond_t)))) {
                        ls_mload_pop(ld, mark);
                        return ls_mload_nomem(ld);
                }
                ms->n_ignore = n;
                for (i = 0; i < n; i++)
                        ms->ignore[i].list = -1;
                ld->used_lists = ld->ignore_lists;
                for (i = 0; i < n && !err; i++) {
                        size_t imark = ls_mload_idx(ld, i);

                        err = ls_mload_cond(ld, ls_mload_seq_at(ld, v, i),
                                            "field", extra, &ms->ignore[i]);
                        ls_mload_pop(ld, imark);
                }
                ls_mload_pop(ld, mark);
                if (err)
                        return err;
        }
        if ((err = ls_mload_required(ld, root, "models", &models)))
                return err;
        mark = ls_mload_key(ld, "models");
        if (models->type != YAML_SEQUENCE_NODE ||
            (n = ls_mload_seq_len(models)) == 0) {
                err = ls_mload_err(ld, models,
                                   "expected a list of at least one model");
                ls_mload_pop(ld, mark);
                return err;
        }
        if (!(ms->models = ls_calloc(n, sizeof(ls_model_t)))) {
                ls_mload_pop(ld, mark);
                return ls_mload_nomem(ld);
        }
        ms->n_models = n;
        for (i = 0; i < n && !err; i++) {
                yaml_node_t *mn = ls_mload_seq_at(ld, models, i);
                size_t imark = ls_mload_idx(ld, i);

                if (ms->n_lists)
                        memset(ld->model_lists, 0, ms->n_lists);
                ld->used_lists = ld->model_lists;
                err = ls_mload_model(ld, mn, &ms->models[i]);
                for (j = 0; !err && j < i; j++) {
                        if (!strcmp(ms->models[j].id, ms->models[i].id)) {
                                size_t kmark = ls_mload_key(ld, "id");

                                err = ls_mload_err(ld,
                                                   ls_mload_get(ld, mn, "id"),
                                                   "duplicate model id '%s'",
                                                   ms->models[i].id);
                                ls_mload_pop(ld, kmark);
                        }
                }
                if (!err)
                        err = ls_mload_model_version(ld, &ms->models[i], root,
                                                     mn);
                ls_mload_pop(ld, imark);
        }
        ls_mload_pop(ld, mark);
        if (err || (err = ls_mload_event_types(ld)))
                return err;
        return ls_mload_set_version(ld);
}

/** Rejects aliases (a node reachable twice) and over-deep nesting. */
static ls_err_t ls_mload_check_tree(ls_mload_t *ld, unsigned char *seen, int id,
                                    int depth) {
        yaml_node_t *node = ls_mload_node(ld, id);
        size_t idx;
        ls_err_t err;

        if (!node)
                return LS_OK;
        idx = (size_t)(node - ld->doc->nodes.start);
        if (seen[idx])
                return ls_seterr(ld->errstr, ld->errstr_size, LS_ERR_INVALID,
                                 "%s:%zu: anchors and aliases are not "
                                 "supported",
                                 ld->name, node->start_mark.line + 1);
        seen[idx] = 1;
        if (depth > LS_MODEL_MAX_DEPTH)
                return ls_seterr(ld->errstr, ld->errstr_size, LS_ERR_INVALID,
                                 "%s:%zu: nesting deeper than %d levels",
                                 ld->name, node->start_mark.line + 1,
                                 LS_MODEL_MAX_DEPTH);
        if (node->type == YAML_SEQUENCE_NODE) {
                yaml_node_item_t *it;

                for (it = node->data.sequence.items.start;
                     it < node->data.sequence.items.top; it++)
                        if ((err = ls_mload_check_tree(ld, seen, *it,
                                                       depth + 1)))
                                return err;
        } else if (node->type == YAML_MAPPING_NODE) {
                yaml_node_pair_t *p;

                for (p = node->data.mapping.pairs.start;
                     p < node->data.mapping.pairs.top; p++)
                        if ((err = ls_mload_check_tree(ld, seen, p->key,
                                                       depth + 1)) ||
                            (err = ls_mload_check_tree(ld, seen, p->value,
                                                       depth + 1)))
                                return err;
        }
        return LS_OK;
}

static ls_err_t ls_mload_yaml_err(ls_mload_t *ld, yaml_parser_t *parser) {
        size_t line = parser->problem_mark.line + 1, i;

        if (parser->error == YAML_MEMORY_ERROR)
                return ls_mload_nomem(ld);
        if (parser->error == YAML_READER_ERROR) {
                /* Encoding errors carry a byte offset, not a mark. */
                size_t off = parser->problem_offset;

                for (i = 0, line = 1; i < off && i < ld->len; i++)
                        if (ld->text[i] == '\n')
                                line++;
                return ls_seterr(ld->errstr, ld->errstr_size, LS_ERR_INVALID,
                                 "%s:%zu: YAML syntax error: %s (byte offset "
                                 "%zu)",
                                 ld->name, line,
                                 parser->problem ? parser->problem
                                                 : "invalid input",
                                 off);
        }
        return ls_seterr(ld->errstr, ld->errstr_size, LS_ERR_INVALID,
                         "%s:%zu: YAML syntax error: %s%s%s%s", ld->name, line,
                         parser->problem ? parser->problem : "invalid YAML",
                         parser->context ? " (" : "",
                         parser->context ? parser->context : "",
                         parser->context ? ")" : "");
}

/*
 * The set's source (ls_modelset_source()): u32 YAML length, the YAML,
 * u32 list count, then per list u32 name length, name, u32 length, bytes.
 * Little endian, like every image leadscore writes.
 */
static ls_err_t ls_msrc_put32(ls_buf_t *b, size_t v) {
        uint32_t u = (uint32_t)v;

        return ls_buf_append(b, &u, sizeof(u));
}

static ls_err_t ls_msrc_build(const ls_mload_t *ld, ls_buf_t *out) {
        const ls_modelset_t *ms = ld->ms;
        ls_err_t err = LS_OK;
        size_t i;

        if (ld->len > UINT32_MAX)
                return LS_ERR_INVALID;
        err |= ls_msrc_put32(out, ld->len);
        err |= ls_buf_append(out, ld->text, ld->len);
        err |= ls_msrc_put32(out, ms->n_lists);
        for (i = 0; !err && i < ms->n_lists; i++) {
                if (ld->list_raw[i].len > UINT32_MAX)
                        return LS_ERR_INVALID;
                err |= ls_msrc_put32(out, strlen(ms->lists[i].name));
                err |= ls_buf_append(out, ms->lists[i].name,
                                     strlen(ms->lists[i].name));
                err |= ls_msrc_put32(out, ld->list_raw[i].len);
                err |= ls_buf_append(out, ld->list_raw[i].data,
                                     ld->list_raw[i].len);
        }
        return err ? LS_ERR_NOMEM : LS_OK;
}

/* Reads a u32 length and that many bytes at *off of (p, len). */
static int ls_msrc_get(const unsigned char *p, size_t len, size_t *off,
                       const char **datap, size_t *np) {
        uint32_t n;

        if (len - *off < sizeof(n))
                return -1;
        memcpy(&n, p + *off, sizeof(n));
        *off += sizeof(n);
        if (datap) {
                if (len - *off < n)
                        return -1;
                *datap = (const char *)p + *off;
                *off += n;
        }
        *np = n;
        return 0;
}

static ls_err_t ls_mload_run(const char *yaml, size_t len, const char *name,
                             const char *base_dir, const ls_msrc_t *src,
                             ls_modelset_t **msp, char *errstr,
                             size_t errstr_size);

ls_err_t ls_modelset_load_string(const char *yaml, size_t len, const char *name,
                                 const char *base_dir, ls_modelset_t **msp,
                                 char *errstr, size_t errstr_size) {
        return ls_mload_run(yaml, len, name, base_dir, NULL, msp, errstr,
                            errstr_size);
}

ls_err_t ls_modelset_load_source(const void *data, size_t len, const char *name,
                                 ls_modelset_t **msp, char *errstr,
                                 size_t errstr_size) {
        const unsigned char *p = data;
        size_t off = 0, i, n;
        ls_msrc_t src;
        ls_err_t err;

        memset(&src, 0, sizeof(src));
        if (ls_msrc_get(p, len, &off, &src.text, &src.len) ||
            ls_msrc_get(p, len, &off, NULL, &n) || n > (len - off) / 8)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "%s: model source truncated at byte %zu", name,
                                 off);
        src.n_lists = n;
        src.names = ls_calloc(n + 1, sizeof(*src.names));
        src.name_lens = ls_calloc(n + 1, sizeof(*src.name_lens));
        src.raws = ls_calloc(n + 1, sizeof(*src.raws));
        src.raw_lens = ls_calloc(n + 1, sizeof(*src.raw_lens));
        if (!src.names || !src.name_lens || !src.raws || !src.raw_lens) {
                err = ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                "%s: out of memory", name);
                goto out;
        }
        for (i = 0; i < n; i++) {
                if (ls_msrc_get(p, len, &off, &src.names[i],
                                &src.name_lens[i]) ||
                    ls_msrc_get(p, len, &off, &src.raws[i], &src.raw_lens[i])) {
                        err = ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                        "%s: model source truncated at byte "
                                        "%zu (list %zu of %zu)",
                                        name, off, i + 1, n);
                        goto out;
                }
        }
        if (off != len) {
                err = ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                "%s: %zu bytes after the model source", name,
                                len - off);
                goto out;
        }
        err = ls_mload_run(src.text, src.len, name, NULL, &src, msp, errstr,
                           errstr_size);
out:
        ls_free(src.names);
        ls_free(src.name_lens);
        ls_free(src.raws);
        ls_free(src.raw_lens);
        return err;
}

const ls_buf_t *ls_modelset_source(const ls_modelset_t *ms) {
        return &ms->source;
}

static ls_err_t ls_mload_run(const char *yaml, size_t len, const char *name,
                             const char *base_dir, const ls_msrc_t *src,
                             ls_modelset_t **msp, char *errstr,
                             size_t errstr_size) {
        yaml_parser_t parser;
        yaml_document_t doc, doc2;
        yaml_node_t *root;
        unsigned char *seen = NULL;
        ls_mload_t ld;
        ls_err_t err = LS_OK;
        size_t i, n_nodes;

        memset(&ld, 0, sizeof(ld));
        ld.name = name ? name : "<string>";
        ld.base_dir = base_dir;
        ld.src = src;
        ld.text = yaml;
        ld.len = len;
        ld.errstr = errstr;
        ld.errstr_size = errstr_size;
        ld.doc = &doc;

        if (!yaml_parser_initialize(&parser))
                return ls_mload_nomem(&ld);
        yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
        if (!yaml_parser_load(&parser, &doc)) {
                err = ls_mload_yaml_err(&ld, &parser);
                yaml_parser_delete(&parser);
                return err;
        }
        root = yaml_document_get_root_node(&doc);
        if (!root) {
                err = ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                "%s:1: models: required (the file is empty)",
                                ld.name);
                goto out_doc;
        }
        if (!yaml_parser_load(&parser, &doc2)) {
                err = ls_mload_yaml_err(&ld, &parser);
                goto out_doc;
        }
        if (yaml_document_get_root_node(&doc2)) {
                err = ls_seterr(
                        errstr, errstr_size, LS_ERR_INVALID,
                        "%s:%zu: only one YAML document is allowed", ld.name,
                        yaml_document_get_root_node(&doc2)->start_mark.line +
                                1);
        }
        yaml_document_delete(&doc2);
        if (err)
                goto out_doc;

        n_nodes = (size_t)(doc.nodes.top - doc.nodes.start);
        if (!(seen = ls_calloc(n_nodes, 1))) {
                err = ls_mload_nomem(&ld);
                goto out_doc;
        }
        if ((err = ls_mload_check_tree(&ld, seen, 1, 0)))
                goto out_doc;

        if (!(ld.ms = ls_calloc(1, sizeof(ls_modelset_t))) ||
            !(ld.ms->path = ls_strdup(ld.name))) {
                err = ls_mload_nomem(&ld);
                goto out_doc;
        }
        ls_buf_init(&ld.ms->source);
        err = ls_mload_top(&ld, root);
        if (!err && (err = ls_msrc_build(&ld, &ld.ms->source)))
                err = err == LS_ERR_NOMEM
                              ? ls_mload_nomem(&ld)
                              : ls_seterr(errstr, errstr_size, err,
                                          "%s: a file over 4 GiB", ld.name);

out_doc:
        if (err) {
                ls_modelset_destroy(ld.ms);
        } else {
                *msp = ld.ms;
        }
        for (i = 0; ld.list_raw && i < ld.n_raw; i++)
                ls_buf_free(&ld.list_raw[i]);
        ls_free(ld.list_raw);
        ls_free(ld.ignore_lists);
        ls_free(ld.model_lists);
        ls_free(seen);
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        return err;
}

ls_err_t ls_modelset_load(const char *path, ls_modelset_t **msp, char *errstr,
                          size_t errstr_size) {
        ls_buf_t buf;
        char *dir;
        const char *slash;
        ls_err_t err;
        int eno = 0;

        ls_buf_init(&buf);
        err = ls_mload_read_file(path, &buf, &eno);
        if (err) {
                ls_buf_free(&buf);
                if (err == LS_ERR_IO)
                        return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                         "%s: cannot read model file: %s%s",
                                         path, strerror(eno),
                                         eno == EFBIG ? " (over 64 MiB)" : "");
                return ls_seterr(errstr, errstr_size, err, "%s: out of memory",
                                 path);
        }
        slash = strrchr(path, '/');
        dir = slash ? ls_strndup(path,
                                 slash == path ? 1 : (size_t)(slash - path))
                    : ls_strdup(".");
        if (!dir) {
                ls_buf_free(&buf);
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "%s: out of memory", path);
        }
        err = ls_modelset_load_string(buf.data, buf.len, path, dir, msp, errstr,
                                      errstr_size);
        ls_free(dir);
        ls_buf_free(&buf);
        return err;
}

/*
 * Destroy and queries
 */

static void ls_mload_free_strv(char **v, size_t n) {
        size_t i;

        for (i = 0; v && i < n; i++)
                ls_free(v[i]);
        ls_free(v);
}

static void ls_model_clear(ls_model_t *m) {
        size_t i, j;

        ls_free(m->id);
        ls_mload_free_strv(m->products, m->n_products);
        for (i = 0; m->fit_rules && i < m->n_fit_rules; i++) {
                ls_free(m->fit_rules[i].id);
                ls_cond_clear(&m->fit_rules[i].cond);
        }
        ls_free(m->fit_rules);
        for (i = 0; m->rules && i < m->n_rules; i++) {
                ls_rule_t *r = &m->rules[i];

                ls_free(r->id);
                ls_free(r->event_type);
                for (j = 0; r->when && j < r->n_when; j++)
                        ls_cond_clear(&r->when[j]);
                ls_free(r->when);
                for (j = 0; r->unless && j < r->n_unless; j++)
                        ls_cond_clear(&r->unless[j]);
                ls_free(r->unless);
        }
        ls_free(m->rules);
        for (i = 0; m->categories && i < m->n_categories; i++)
                ls_free(m->categories[i].name);
        ls_free(m->categories);
        ls_free(m->decay.steps);
        ls_free(m->decay.factors);
        for (i = 0; m->grades && i < m->n_grades; i++)
                ls_free(m->grades[i].name);
        ls_free(m->grades);
        for (i = 0; m->bands && i < m->n_bands; i++)
                ls_free(m->bands[i].name);
        ls_free(m->bands);
        ls_mload_free_strv(m->hot.events, m->hot.n_events);
}

void ls_modelset_destroy(ls_modelset_t *ms) {
        size_t i;

        if (!ms)
                return;
        for (i = 0; ms->models && i < ms->n_models; i++)
                ls_model_clear(&ms->models[i]);
        ls_free(ms->models);
        for (i = 0; ms->ignore && i < ms->n_ignore; i++)
                ls_cond_clear(&ms->ignore[i]);
        ls_free(ms->ignore);
        for (i = 0; ms->lists && i < ms->n_lists; i++) {
                ls_free(ms->lists[i].name);
                ls_free(ms->lists[i].path);
                ls_mload_free_strv(ms->lists[i].items, ms->lists[i].n_items);
        }
        ls_free(ms->lists);
        ls_mload_free_strv(ms->event_types, ms->n_event_types);
        ls_buf_free(&ms->source);
        ls_free(ms->path);
        ls_free(ms);
}

const ls_model_t *ls_modelset_find(const ls_modelset_t *ms, const char *id) {
        size_t i;

        for (i = 0; id && i < ms->n_models; i++)
                if (!strcmp(ms->models[i].id, id))
                        return &ms->models[i];
        return NULL;
}

int ls_modelset_event_type(const ls_modelset_t *ms, const char *event_type) {
        size_t lo = 0, hi = ms->n_event_types;

        if (!event_type)
                return -1;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcasecmp(event_type, ms->event_types[mid]);

                if (c == 0)
                        return (int)mid;
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return -1;
}

int ls_model_wants_product(const ls_model_t *model, const char *product) {
        size_t i;

        if (model->n_products == 0 || !product || !*product)
                return 1;
        for (i = 0; i < model->n_products; i++)
                if (!strcasecmp(model->products[i], product))
                        return 1;
        return 0;
}
