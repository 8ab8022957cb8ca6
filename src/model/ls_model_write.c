/*
 * ls_model_write.c - writes a logistic copy of one model of a set as a
 * model file (`leadscore calibrate --write-model`, docs/CALIBRATE.md).
 *
 * The copy is made from the set's own YAML source, node by node, so that
 * every condition, list and set-wide setting reads back exactly as
 * written: the set's settings are kept (list files by absolute path), and
 * the one model becomes `kind: logistic` - its rules without points, caps
 * or categories, no decay, no hot alerts, the grades, bands and MQL
 * threshold given, and a `logistic` section with the coefficients.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "leadscore/ls_model.h"

typedef struct ls_mw_s {
        yaml_emitter_t em;
        yaml_document_t doc;
        int failed;
} ls_mw_t;

static void ls_mw_ev(ls_mw_t *w, yaml_event_t *ev, int ok) {
        if (w->failed || !ok || !yaml_emitter_emit(&w->em, ev))
                w->failed = 1;
}

static void ls_mw_scalar(ls_mw_t *w, const char *s) {
        yaml_event_t ev;

        ls_mw_ev(w, &ev,
                 yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s,
                                              (int)strlen(s), 1, 1,
                                              YAML_ANY_SCALAR_STYLE));
}

static void ls_mw_map_start(ls_mw_t *w, int flow) {
        yaml_event_t ev;

        ls_mw_ev(w, &ev,
                 yaml_mapping_start_event_initialize(
                         &ev, NULL, NULL, 1,
                         flow ? YAML_FLOW_MAPPING_STYLE
                              : YAML_BLOCK_MAPPING_STYLE));
}

static void ls_mw_map_end(ls_mw_t *w) {
        yaml_event_t ev;

        ls_mw_ev(w, &ev, yaml_mapping_end_event_initialize(&ev));
}

static void ls_mw_seq_start(ls_mw_t *w) {
        yaml_event_t ev;

        ls_mw_ev(w, &ev,
                 yaml_sequence_start_event_initialize(
                         &ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE));
}

static void ls_mw_seq_end(ls_mw_t *w) {
        yaml_event_t ev;

        ls_mw_ev(w, &ev, yaml_sequence_end_event_initialize(&ev));
}

static void ls_mw_num(ls_mw_t *w, double d) {
        char text[40];

        snprintf(text, sizeof(text), "%.17g", d);
        ls_mw_scalar(w, text);
}

static void ls_mw_int(ls_mw_t *w, long long v) {
        char text[32];

        snprintf(text, sizeof(text), "%lld", v);
        ls_mw_scalar(w, text);
}

static yaml_node_t *ls_mw_node(ls_mw_t *w, int id) {
        return yaml_document_get_node(&w->doc, id);
}

static const char *ls_mw_str(const yaml_node_t *n) {
        return n && n->type == YAML_SCALAR_NODE
                       ? (const char *)n->data.scalar.value
                       : "";
}

/* Copies node @p n, leaving out the keys of mappings listed in @p drop
 * (at this level only). */
static void ls_mw_copy(ls_mw_t *w, yaml_node_t *n, const char *const *drop) {
        yaml_node_item_t *it;
        yaml_node_pair_t *p;
        yaml_event_t ev;
        size_t i;

        if (!n) {
                w->failed = 1;
                return;
        }
        switch (n->type) {
        case YAML_SCALAR_NODE:
                ls_mw_ev(w, &ev,
                         yaml_scalar_event_initialize(
                                 &ev, NULL, NULL, n->data.scalar.value,
                                 (int)n->data.scalar.length, 1, 1,
                                 n->data.scalar.style));
                break;
        case YAML_SEQUENCE_NODE:
                ls_mw_ev(w, &ev,
                         yaml_sequence_start_event_initialize(
                                 &ev, NULL, NULL, 1, n->data.sequence.style));
                for (it = n->data.sequence.items.start;
                     it < n->data.sequence.items.top; it++)
                        ls_mw_copy(w, ls_mw_node(w, *it), NULL);
                ls_mw_seq_end(w);
                break;
        case YAML_MAPPING_NODE:
                ls_mw_ev(w, &ev,
                         yaml_mapping_start_event_initialize(
                                 &ev, NULL, NULL, 1, n->data.mapping.style));
                for (p = n->data.mapping.pairs.start;
                     p < n->data.mapping.pairs.top; p++) {
                        const char *k = ls_mw_str(ls_mw_node(w, p->key));

                        for (i = 0; drop && drop[i]; i++)
                                if (!strcmp(drop[i], k))
                                        break;
                        if (drop && drop[i])
                                continue;
                        ls_mw_copy(w, ls_mw_node(w, p->key), NULL);
                        ls_mw_copy(w, ls_mw_node(w, p->value), NULL);
                }
                ls_mw_map_end(w);
                break;
        default:
                w->failed = 1;
        }
}

static yaml_node_t *ls_mw_get(ls_mw_t *w, yaml_node_t *map, const char *key) {
        yaml_node_pair_t *p;

        if (!map || map->type != YAML_MAPPING_NODE)
                return NULL;
        for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
             p++)
                if (!strcmp(ls_mw_str(ls_mw_node(w, p->key)), key))
                        return ls_mw_node(w, p->value);
        return NULL;
}

/* A sequence of rules, each without the keys in @p drop. */
static void ls_mw_rules(ls_mw_t *w, yaml_node_t *rules,
                        const char *const *drop) {
        yaml_node_item_t *it;

        ls_mw_seq_start(w);
        for (it = rules->data.sequence.items.start;
             it < rules->data.sequence.items.top; it++)
                ls_mw_copy(w, ls_mw_node(w, *it), drop);
        ls_mw_seq_end(w);
}

static void ls_mw_levels(ls_mw_t *w, const ls_level_t *lv, size_t n,
                         const int32_t *mins, int grades) {
        size_t i;

        ls_mw_seq_start(w);
        for (i = 0; i < n; i++) {
                int last = grades ? i == n - 1 : i == 0;

                ls_mw_map_start(w, 1);
                ls_mw_scalar(w, "name");
                ls_mw_scalar(w, lv[i].name);
                if (!last) {
                        ls_mw_scalar(w, "min");
                        ls_mw_int(w, mins[i]);
                }
                ls_mw_map_end(w);
        }
        ls_mw_seq_end(w);
}

/* The model: @p mn of the source, made logistic. */
static void ls_mw_model(ls_mw_t *w, const ls_model_t *m, yaml_node_t *mn,
                        const ls_logistic_spec_t *spec) {
        static const char *const rule_drop[] = {"points", "category", "cap",
                                                NULL};
        yaml_node_t *fit = ls_mw_get(w, mn, "fit");
        yaml_node_t *eng = ls_mw_get(w, mn, "engagement");
        yaml_node_t *v;
        size_t i;

        ls_mw_map_start(w, 0);
        ls_mw_scalar(w, "id");
        ls_mw_scalar(w, m->id);
        ls_mw_scalar(w, "kind");
        ls_mw_scalar(w, "logistic");
        if ((v = ls_mw_get(w, mn, "products"))) {
                ls_mw_scalar(w, "products");
                ls_mw_copy(w, v, NULL);
        }
        if (fit && (v = ls_mw_get(w, fit, "rules")) &&
            v->type == YAML_SEQUENCE_NODE) {
                ls_mw_scalar(w, "fit");
                ls_mw_map_start(w, 0);
                ls_mw_scalar(w, "rules");
                ls_mw_rules(w, v, rule_drop);
                ls_mw_map_end(w);
        }
        if (eng && (v = ls_mw_get(w, eng, "rules")) &&
            v->type == YAML_SEQUENCE_NODE) {
                ls_mw_scalar(w, "engagement");
                ls_mw_map_start(w, 0);
                ls_mw_scalar(w, "rules");
                ls_mw_rules(w, v, rule_drop);
                ls_mw_map_end(w);
        }
        ls_mw_scalar(w, "grades");
        ls_mw_levels(w, m->grades, m->n_grades, spec->grade_min, 1);
        ls_mw_scalar(w, "bands");
        ls_mw_levels(w, m->bands, m->n_bands, spec->band_min, 0);
        if (spec->has_mql) {
                ls_mw_scalar(w, "mql");
                ls_mw_map_start(w, 0);
                ls_mw_scalar(w, "enter");
                ls_mw_map_start(w, 1);
                ls_mw_scalar(w, "min_total");
                ls_mw_int(w, spec->mql_min_total);
                ls_mw_map_end(w);
                ls_mw_map_end(w);
        }
        if ((v = ls_mw_get(w, mn, "alert_attributes"))) {
                ls_mw_scalar(w, "alert_attributes");
                ls_mw_copy(w, v, NULL);
        }
        ls_mw_scalar(w, "logistic");
        ls_mw_map_start(w, 0);
        ls_mw_scalar(w, "intercept");
        ls_mw_num(w, spec->logit.intercept);
        ls_mw_scalar(w, "fit_offset");
        ls_mw_num(w, spec->logit.fit_offset);
        ls_mw_scalar(w, "window");
        ls_mw_scalar(w, spec->window);
        ls_mw_scalar(w, "buckets");
        ls_mw_int(w, spec->logit.buckets);
        ls_mw_scalar(w, "coefficients");
        ls_mw_map_start(w, 0);
        for (i = 0; i < m->n_fit_rules; i++) {
                ls_mw_scalar(w, m->fit_rules[i].id);
                ls_mw_num(w, spec->logit.w_fit[i]);
        }
        for (i = 0; i < m->n_rules; i++) {
                ls_mw_scalar(w, m->rules[i].id);
                ls_mw_num(w, spec->logit.w_rule[i]);
        }
        ls_mw_scalar(w, LS_LOGIT_FRESHNESS);
        ls_mw_num(w, spec->logit.w_fresh);
        ls_mw_map_end(w);
        ls_mw_map_end(w);
        ls_mw_map_end(w);
}

/* `lists`: each by the absolute path of the file it was read from. */
static void ls_mw_lists(ls_mw_t *w, const ls_modelset_t *ms) {
        char abs[PATH_MAX];
        size_t i;

        ls_mw_map_start(w, 0);
        for (i = 0; i < ms->n_lists; i++) {
                ls_mw_scalar(w, ms->lists[i].name);
                ls_mw_scalar(
                        w,
                        ms->lists[i].path && realpath(ms->lists[i].path, abs)
                                ? abs
                                : (ms->lists[i].path ? ms->lists[i].path : ""));
        }
        ls_mw_map_end(w);
}

static int ls_mw_write(void *data, unsigned char *buffer, size_t size) {
        return fwrite(buffer, 1, size, data) == size;
}

ls_err_t ls_modelset_write_logistic(const ls_modelset_t *ms, size_t model_idx,
                                    const ls_logistic_spec_t *spec, FILE *fp,
                                    char *errstr, size_t errstr_size) {
        const ls_buf_t *src = ls_modelset_source(ms);
        const ls_model_t *m = &ms->models[model_idx];
        yaml_parser_t parser;
        yaml_node_t *root, *models;
        yaml_node_pair_t *p;
        yaml_event_t ev;
        uint32_t len = 0;
        ls_mw_t w;
        int parsed;

        memset(&w, 0, sizeof(w));
        if (src->len >= 4)
                memcpy(&len, src->data, 4);
        if (src->len < 4 || len > src->len - 4 ||
            !yaml_parser_initialize(&parser))
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "%s: the set's source is not available",
                                 ms->path);
        yaml_parser_set_input_string(&parser,
                                     (const unsigned char *)src->data + 4, len);
        parsed = yaml_parser_load(&parser, &w.doc);
        yaml_parser_delete(&parser);
        if (!parsed)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "%s: cannot read the set's source again",
                                 ms->path);
        root = yaml_document_get_root_node(&w.doc);
        models = ls_mw_get(&w, root, "models");
        if (!root || !models || models->type != YAML_SEQUENCE_NODE ||
            models->data.sequence.items.start + model_idx >=
                    models->data.sequence.items.top ||
            !yaml_emitter_initialize(&w.em)) {
                yaml_document_delete(&w.doc);
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "%s: model %zu not found in its source",
                                 ms->path, model_idx);
        }
        yaml_emitter_set_output(&w.em, ls_mw_write, fp);
        yaml_emitter_set_width(&w.em, 100);
        yaml_emitter_set_unicode(&w.em, 1);
        ls_mw_ev(&w, &ev,
                 yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
        ls_mw_ev(
                &w, &ev,
                yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
        ls_mw_map_start(&w, 0);
        for (p = root->data.mapping.pairs.start;
             p < root->data.mapping.pairs.top; p++) {
                const char *k = ls_mw_str(ls_mw_node(&w, p->key));

                if (!strcmp(k, "models") || !strcmp(k, "lists"))
                        continue;
                ls_mw_copy(&w, ls_mw_node(&w, p->key), NULL);
                ls_mw_copy(&w, ls_mw_node(&w, p->value), NULL);
        }
        if (ms->n_lists) {
                ls_mw_scalar(&w, "lists");
                ls_mw_lists(&w, ms);
        }
        ls_mw_scalar(&w, "models");
        ls_mw_seq_start(&w);
        ls_mw_model(
                &w, m,
                ls_mw_node(&w, models->data.sequence.items.start[model_idx]),
                spec);
        ls_mw_seq_end(&w);
        ls_mw_map_end(&w);
        ls_mw_ev(&w, &ev, yaml_document_end_event_initialize(&ev, 1));
        ls_mw_ev(&w, &ev, yaml_stream_end_event_initialize(&ev));
        if (!w.failed && !yaml_emitter_flush(&w.em))
                w.failed = 1;
        if (w.failed) /* the writer fails on a full disk, the emitter on
                       * a node it cannot write */
                ls_seterr(errstr, errstr_size, LS_ERR_IO,
                          "cannot write the model: %s",
                          w.em.error == YAML_WRITER_ERROR ? strerror(errno)
                          : w.em.problem                  ? w.em.problem
                                                          : "YAML emitter "
                                                            "error");
        yaml_emitter_delete(&w.em);
        yaml_document_delete(&w.doc);
        if (w.failed)
                return LS_ERR_IO;
        return LS_OK;
}
