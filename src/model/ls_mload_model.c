/*
 * ls_mload_model.c - one model of a model file: each section (products,
 * fit, engagement with its rules, categories, caps and decay, grades,
 * bands, mql, hot) is read and validated as a whole - ids unique, limits
 * and ranges kept, levels ordered, qualify conditions naming known grades
 * and bands - then the cap slots are numbered. Called by ls_mload_top()
 * in ls_model.c for each entry of `models`.
 */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <yaml.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_model.h"
#include "model/ls_mload_int.h"

#define LS_MODEL_MAX_FIT_RULES 64
#define LS_MODEL_MAX_LEVELS 8
#define LS_MODEL_MAX_TRACK 64
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

/* A key a logistic model does not have: its rules take coefficients
 * (`logistic.coefficients`), and time enters through the window. */
static ls_err_t ls_mload_points_only(ls_mload_t *ld, const yaml_node_t *map,
                                     const char *key) {
        yaml_node_t *v = ls_mload_get(ld, map, key);

        if (!v)
                return LS_OK;
        return ls_mload_key_err(ld, v, key,
                                "not in a logistic model (its rules take "
                                "coefficients under logistic.coefficients)");
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
        if (m->kind == LS_MODEL_LOGISTIC)
                return ls_mload_points_only(ld, node, "points");
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
        if (m->kind == LS_MODEL_LOGISTIC &&
            ((err = ls_mload_points_only(ld, node, "min")) ||
             (err = ls_mload_points_only(ld, node, "max"))))
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

        r->category = -1;
        if (m->kind == LS_MODEL_LOGISTIC) {
                if ((err = ls_mload_points_only(ld, node, "points")) ||
                    (err = ls_mload_points_only(ld, node, "category")))
                        return err;
                return ls_mload_points_only(ld, node, "cap");
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
        if (m->kind == LS_MODEL_LOGISTIC &&
            ((err = ls_mload_points_only(ld, node, "floor")) ||
             (err = ls_mload_points_only(ld, node, "max")) ||
             (err = ls_mload_points_only(ld, node, "categories")) ||
             (err = ls_mload_points_only(ld, node, "decay"))))
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

/* alert_attributes: profile attribute names, as written (attribute names
 * are case-sensitive), distinct, at most LS_ALERT_MAX_ATTRS. */
static ls_err_t ls_mload_alert_attributes(ls_mload_t *ld, ls_model_t *m,
                                          const yaml_node_t *node) {
        size_t i, j, n;
        ls_err_t err;

        if (node->type != YAML_SEQUENCE_NODE)
                return ls_mload_err(ld, node, "expected a list of names");
        n = ls_mload_seq_len(node);
        if (n > LS_ALERT_MAX_ATTRS)
                return ls_mload_err(ld, node, "at most %d names",
                                    LS_ALERT_MAX_ATTRS);
        if (n && !(m->alert_attributes = ls_calloc(n, sizeof(char *))))
                return ls_mload_nomem(ld);
        for (i = 0; i < n; i++) {
                yaml_node_t *it = ls_mload_seq_at(ld, node, i);
                const char *s = NULL;
                size_t mark = ls_mload_idx(ld, i);

                err = ls_mload_string(ld, it, &s);
                if (!err && !*s)
                        err = ls_mload_err(ld, it, "must not be empty");
                for (j = 0; !err && j < i; j++)
                        if (!strcmp(m->alert_attributes[j], s))
                                err = ls_mload_err(ld, it,
                                                   "duplicate name '%s'", s);
                ls_mload_pop(ld, mark);
                if (err)
                        return err;
                if (!(m->alert_attributes[i] = ls_strdup(s)))
                        return ls_mload_nomem(ld);
                m->n_alert_attributes = i + 1;
        }
        return LS_OK;
}

static ls_err_t ls_mload_grades(ls_mload_t *ld, ls_model_t *m,
                                const yaml_node_t *node) {
        return ls_mload_levels(ld, node, 1, &m->grades, &m->n_grades);
}

static ls_err_t ls_mload_bands(ls_mload_t *ld, ls_model_t *m,
                               const yaml_node_t *node) {
        return ls_mload_levels(ld, node, 0, &m->bands, &m->n_bands);
}

/* `kind`: points (the default) or logistic. */
static ls_err_t ls_mload_kind(ls_mload_t *ld, const yaml_node_t *map,
                              ls_model_t *m) {
        yaml_node_t *v = ls_mload_get(ld, map, "kind");
        const char *s;
        size_t mark;
        ls_err_t err;

        m->kind = LS_MODEL_POINTS;
        if (!v)
                return LS_OK;
        mark = ls_mload_key(ld, "kind");
        err = ls_mload_string(ld, v, &s);
        if (!err && !strcmp(s, "logistic"))
                m->kind = LS_MODEL_LOGISTIC;
        else if (!err && strcmp(s, "points"))
                err = ls_mload_err(ld, v,
                                   "unknown kind '%s' (points or logistic)", s);
        ls_mload_pop(ld, mark);
        return err;
}

/* A coefficient, intercept or offset: a number of at most 1e6 either
 * way (far past any fitted one), so that every score stays finite. */
static ls_err_t ls_mload_coef(ls_mload_t *ld, const yaml_node_t *node,
                              double *out) {
        ls_err_t err = ls_mload_number(ld, node, out);

        if (!err && !(*out >= -1e6 && *out <= 1e6))
                err = ls_mload_err(ld, node,
                                   "expected a number in -1e6 .. 1e6");
        return err;
}

/* One coefficient name of `logistic.coefficients`: @returns its weight
 * slot, or NULL when no feature has that name. */
static double *ls_mload_coef_slot(ls_model_t *m, const char *name,
                                  uint8_t **seenp, uint8_t *seen) {
        size_t i;

        for (i = 0; i < m->n_fit_rules; i++)
                if (!strcmp(m->fit_rules[i].id, name)) {
                        *seenp = &seen[i];
                        return &m->logit.w_fit[i];
                }
        for (i = 0; i < m->n_rules; i++)
                if (!strcmp(m->rules[i].id, name)) {
                        *seenp = &seen[m->n_fit_rules + i];
                        return &m->logit.w_rule[i];
                }
        if (!strcmp(name, LS_LOGIT_FRESHNESS)) {
                *seenp = &seen[m->n_fit_rules + m->n_rules];
                return &m->logit.w_fresh;
        }
        return NULL;
}

static ls_err_t ls_mload_coefs(ls_mload_t *ld, ls_model_t *m,
                               const yaml_node_t *node) {
        size_t nf = m->n_fit_rules + m->n_rules + 1, i;
        const yaml_node_pair_t *p;
        uint8_t *seen, *seenp = NULL;
        ls_err_t err = LS_OK;

        if (node->type != YAML_MAPPING_NODE)
                return ls_mload_err(ld, node,
                                    "expected a mapping of feature: "
                                    "coefficient");
        if (!(seen = ls_calloc(nf, 1)))
                return ls_mload_nomem(ld);
        for (p = node->data.mapping.pairs.start;
             !err && p < node->data.mapping.pairs.top; p++) {
                yaml_node_t *k = ls_mload_node(ld, p->key);
                yaml_node_t *v = ls_mload_node(ld, p->value);
                const char *name = ls_mload_str(k);
                double *w = k->type == YAML_SCALAR_NODE
                                    ? ls_mload_coef_slot(m, name, &seenp, seen)
                                    : NULL;
                size_t mark;

                if (!w) {
                        err = ls_mload_err(ld, k,
                                           "'%s' is not a feature of the "
                                           "model (a fit or engagement rule "
                                           "id, or " LS_LOGIT_FRESHNESS ")",
                                           k->type == YAML_SCALAR_NODE ? name
                                                                       : "?");
                        break;
                }
                mark = ls_mload_key(ld, name);
                if (*seenp)
                        err = ls_mload_err(ld, k, "duplicate key");
                else
                        err = ls_mload_coef(ld, v, w);
                *seenp = 1;
                ls_mload_pop(ld, mark);
        }
        for (i = 0; !err && i < nf - 1; i++)
                if (!seen[i])
                        err = ls_mload_err(
                                ld, node, "no coefficient for rule '%s'",
                                i < m->n_fit_rules
                                        ? m->fit_rules[i].id
                                        : m->rules[i - m->n_fit_rules].id);
        ls_free(seen);
        return err;
}

/* `logistic`: intercept, window, buckets, coefficients. */
static ls_err_t ls_mload_logistic(ls_mload_t *ld, ls_model_t *m,
                                  const yaml_node_t *node) {
        static const char *const keys[] = {"intercept",    "fit_offset",
                                           "window",       "buckets",
                                           "coefficients", NULL};
        ls_logit_t *lg = &m->logit;
        yaml_node_t *v;
        long long b = 8;
        int has;
        size_t mark, i;
        ls_err_t err;

        if ((err = ls_mload_check_map(ld, node, keys, NULL)))
                return err;
        /* feature names are rule ids: these two name others */
        for (i = 0; i < m->n_fit_rules + m->n_rules; i++) {
                const char *id = i < m->n_fit_rules
                                         ? m->fit_rules[i].id
                                         : m->rules[i - m->n_fit_rules].id;

                if (!strcmp(id, LS_LOGIT_FRESHNESS) ||
                    !strcmp(id, LS_LOGIT_INTERCEPT))
                        return ls_mload_err(ld, node,
                                            "rule id '%s' is reserved in a "
                                            "logistic model (rename the "
                                            "rule)",
                                            id);
        }
        if ((err = ls_mload_required(ld, node, "intercept", &v)))
                return err;
        mark = ls_mload_key(ld, "intercept");
        err = ls_mload_coef(ld, v, &lg->intercept);
        ls_mload_pop(ld, mark);
        if (err)
                return err;
        if ((v = ls_mload_get(ld, node, "fit_offset"))) {
                mark = ls_mload_key(ld, "fit_offset");
                err = ls_mload_coef(ld, v, &lg->fit_offset);
                ls_mload_pop(ld, mark);
                if (err)
                        return err;
        }
        if ((err = ls_mload_required(ld, node, "window", &v)))
                return err;
        mark = ls_mload_key(ld, "window");
        err = ls_mload_duration(ld, v, &lg->window_ms);
        if (!err && lg->window_ms > LS_LOGIT_MAX_WINDOW_MS)
                err = ls_mload_err(ld, v, "at most 3650d");
        ls_mload_pop(ld, mark);
        if (err || (err = ls_mload_opt_int(ld, node, "buckets", 1,
                                           LS_LOGIT_MAX_BUCKETS, &has, &b)))
                return err;
        lg->buckets = (uint32_t)b;
        if (lg->window_ms % lg->buckets)
                return ls_mload_key_err(
                        ld, ls_mload_get(ld, node, "window"), "window",
                        "%lld ms does not divide into %u buckets",
                        (long long)lg->window_ms, lg->buckets);
        lg->bucket_ms = lg->window_ms / lg->buckets;
        lg->w_fit =
                ls_calloc(m->n_fit_rules ? m->n_fit_rules : 1, sizeof(double));
        lg->w_rule = ls_calloc(m->n_rules ? m->n_rules : 1, sizeof(double));
        if (!lg->w_fit || !lg->w_rule)
                return ls_mload_nomem(ld);
        if ((err = ls_mload_required(ld, node, "coefficients", &v)))
                return err;
        mark = ls_mload_key(ld, "coefficients");
        err = ls_mload_coefs(ld, m, v);
        ls_mload_pop(ld, mark);
        return err;
}

ls_err_t ls_mload_model(ls_mload_t *ld, const yaml_node_t *node,
                        ls_model_t *m) {
        static const char *const keys[] = {
                "id",       "kind",  "products", "fit", "engagement",
                "grades",   "bands", "mql",      "hot", "alert_attributes",
                "logistic", NULL};
        size_t i;
        uint32_t slot = 0;
        ls_err_t err;

        m->decay.tick_ms = LS_MODEL_DAY_MS;
        m->mql.enter.min_grade = m->mql.enter.min_band = -1;
        m->mql.stay.min_grade = m->mql.stay.min_band = -1;
        if ((err = ls_mload_check_map(ld, node, keys, NULL)) ||
            (err = ls_mload_req_id(ld, node, "id", &m->id, NULL)) ||
            (err = ls_mload_kind(ld, node, m)) ||
            (err = ls_mload_section(ld, m, node, "products", 0,
                                    ls_mload_products)) ||
            (err = ls_mload_section(ld, m, node, "fit", 0, ls_mload_fit)) ||
            (err = ls_mload_section(ld, m, node, "engagement", 0,
                                    ls_mload_engagement)) ||
            (err = ls_mload_section(ld, m, node, "grades", 1,
                                    ls_mload_grades)) ||
            (err = ls_mload_section(ld, m, node, "bands", 1, ls_mload_bands)) ||
            (err = ls_mload_section(ld, m, node, "mql", 0, ls_mload_mql)) ||
            (err = ls_mload_section(ld, m, node, "hot", 0, ls_mload_hot)) ||
            (err = ls_mload_section(ld, m, node, "alert_attributes", 0,
                                    ls_mload_alert_attributes)))
                return err;
        if (m->kind == LS_MODEL_LOGISTIC) {
                if ((err = ls_mload_section(ld, m, node, "logistic", 1,
                                            ls_mload_logistic)))
                        return err;
        } else if (ls_mload_get(ld, node, "logistic")) {
                return ls_mload_key_err(ld, ls_mload_get(ld, node, "logistic"),
                                        "logistic",
                                        "only in a model of kind: logistic");
        }
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
