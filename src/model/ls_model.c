/*
 * ls_model.c - loads a model file (YAML, docs/MODEL.md) into an immutable
 * ls_modelset_t: the entry points (file, string, a set's saved source),
 * the YAML document and its top-level keys, the set's source image,
 * destroy and queries.
 *
 * The whole file is parsed with libyaml's document API; every node keeps
 * its line, so each error reads "<file>:<line>: <key path>: <message>"
 * (helpers in ls_mload.c, one model's sections in ls_mload_model.c,
 * conditions in ls_match.c, versions in ls_model_version.c, the summary
 * in ls_model_print.c).
 * The loader fills a zeroed set as it goes; on any error the partial set
 * is destroyed, so callers only ever see a complete, valid set.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_buf.h"
#include "leadscore/ls_model.h"
#include "model/ls_mload_int.h"
#include "model/ls_model_int.h"

#define LS_MODEL_MAX_DEDUPE 64
#define LS_MODEL_MAX_DEPTH 64

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

/* Gathers the models' alert_attributes into the set's distinct list (a
 * lead keeps one value per name, whichever models name it). */
static ls_err_t ls_mload_alert_attrs(ls_mload_t *ld,
                                     const yaml_node_t *models) {
        ls_modelset_t *ms = ld->ms;
        size_t i, j, k;

        for (i = 0; i < ms->n_models; i++) {
                ls_model_t *m = &ms->models[i];

                if (!m->n_alert_attributes)
                        continue;
                if (!(m->alert_attr_idx = ls_calloc(m->n_alert_attributes,
                                                    sizeof(uint32_t))))
                        return ls_mload_nomem(ld);
                for (j = 0; j < m->n_alert_attributes; j++) {
                        for (k = 0; k < ms->n_alert_attrs; k++)
                                if (!strcmp(ms->alert_attrs[k],
                                            m->alert_attributes[j]))
                                        break;
                        if (k == ms->n_alert_attrs) {
                                if (k == LS_ALERT_SET_MAX_ATTRS)
                                        return ls_mload_err(
                                                ld, models,
                                                "alert_attributes: more than "
                                                "%d distinct names across "
                                                "the models",
                                                LS_ALERT_SET_MAX_ATTRS);
                                if (!ms->alert_attrs &&
                                    !(ms->alert_attrs =
                                              ls_calloc(LS_ALERT_SET_MAX_ATTRS,
                                                        sizeof(char *))))
                                        return ls_mload_nomem(ld);
                                ms->alert_attrs[k] = m->alert_attributes[j];
                                ms->n_alert_attrs++;
                        }
                        m->alert_attr_idx[j] = (uint32_t)k;
                }
        }
        return LS_OK;
}

static ls_err_t ls_mload_top(ls_mload_t *ld, const yaml_node_t *root) {
        static const char *const keys[] = {
                "lateness", "max_future", "dedupe",         "lists", "ignore",
                "suppress", "models",     "backfill_after", NULL};
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
            (err = ls_mload_opt_duration(ld, root, "backfill_after", NULL,
                                         &ms->backfill_after_ms)) ||
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
        if ((v = ls_mload_get(ld, root, "suppress"))) {
                mark = ls_mload_key(ld, "suppress");
                ld->used_lists = ld->ignore_lists;
                err = ls_mload_suppress(ld, v);
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
        if (err || (err = ls_mload_event_types(ld)) ||
            (err = ls_mload_alert_attrs(ld, models)))
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
        ls_free(m->logit.w_fit);
        ls_free(m->logit.w_rule);
        for (i = 0; m->grades && i < m->n_grades; i++)
                ls_free(m->grades[i].name);
        ls_free(m->grades);
        for (i = 0; m->bands && i < m->n_bands; i++)
                ls_free(m->bands[i].name);
        ls_free(m->bands);
        ls_mload_free_strv(m->hot.events, m->hot.n_events);
        ls_mload_free_strv(m->alert_attributes, m->n_alert_attributes);
        ls_free(m->alert_attr_idx);
}

void ls_modelset_destroy(ls_modelset_t *ms) {
        size_t i;

        if (!ms)
                return;
        for (i = 0; ms->models && i < ms->n_models; i++)
                ls_model_clear(&ms->models[i]);
        ls_free(ms->models);
        ls_free(ms->alert_attrs); /* names owned by the models */
        for (i = 0; ms->ignore && i < ms->n_ignore; i++)
                ls_cond_clear(&ms->ignore[i]);
        ls_free(ms->ignore);
        for (i = 0; ms->suppress && i < ms->n_suppress; i++)
                ls_suppress_clear(&ms->suppress[i]);
        ls_free(ms->suppress);
        for (i = 0; ms->lists && i < ms->n_lists; i++) {
                ls_free(ms->lists[i].name);
                ls_free(ms->lists[i].path);
                ls_free(ms->lists[i].cidrs);
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
