/*
 * fuzz_model.c - the model loader: ls_modelset_load_string() on YAML text
 * and ls_modelset_load_source() on source images (the model set a
 * snapshot carries). An input whose first byte is 0 is a source image
 * (the bytes after it); any other input is YAML text (libyaml refuses a
 * NUL byte, so no YAML input is lost).
 *
 * Checks, besides no crash, leak or undefined behaviour:
 *   - an accepted set's source reads back (ls_modelset_load_source()) into
 *     a set of the same version, as snapshots rely on;
 *   - the summary of `leadscore check` prints;
 *   - a shard scores with it: a profile and one event per scored event type
 *     built from the set's own conditions, a duplicate, decay 400 days on
 *     and at the end of year 9999, then ls_shard_save() / ls_shard_load()
 *     under the set give the same image again.
 *
 * List files: YAML text is loaded with examples/ as its directory (its
 * lists/ resolve). So that no input reads an arbitrary file, an input is
 * skipped when a value under a `lists` key is an absolute path or has
 * "..": checked on the document libyaml parses, as the loader sees it.
 *
 * Corpus: tests/fuzz/corpus/model/ (YAML); generated seeds add
 * examples/model.yaml and the source image of every corpus set.
 * Run: fuzz_model [RUNS] (see fuzz_common.h; default 20000).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "fuzz_common.h"
#include "leadscore/ls_engine.h"
#include "leadscore/ls_model.h"

#define EXAMPLES LS_SOURCE_DIR "/examples"
#define T0 INT64_C(1767225600000)         /* 2026-01-01 */
#define TIME_END INT64_C(253402300800000) /* 10000-01-01 */
#define MAX_FIELDS 32

typedef struct fm_s {
        FILE *devnull;
        ls_outbuf_t ob;
        ls_buf_t save1, save2;
        unsigned long yaml_ok, yaml_bad, src_ok, src_bad, skipped, scored;
} fm_t;

static void *fm_init(void) {
        fm_t *fm = calloc(1, sizeof(*fm));

        if (!fm || !(fm->devnull = fopen("/dev/null", "w")))
                fz_die("cannot set up", NULL);
        ls_outbuf_init(&fm->ob);
        ls_buf_init(&fm->save1);
        ls_buf_init(&fm->save2);
        return fm;
}

static void fm_fini(void *ctx) {
        fm_t *fm = ctx;

        fclose(fm->devnull);
        ls_outbuf_free(&fm->ob);
        ls_buf_free(&fm->save1);
        ls_buf_free(&fm->save2);
        free(fm);
}

static int scalar_is(const yaml_node_t *n, const char *s) {
        return n && n->type == YAML_SCALAR_NODE &&
               n->data.scalar.length == strlen(s) &&
               !memcmp(n->data.scalar.value, s, n->data.scalar.length);
}

/*
 * @returns 1 when a value under any `lists` key of the (first) document is
 * an absolute path or contains "..", or the text does not parse (the
 * loader refuses it before any list is read); else 0.
 */
static int lists_escape(const uint8_t *data, size_t len) {
        yaml_parser_t parser;
        yaml_document_t doc;
        yaml_node_t *n;
        int bad = 0;

        if (!yaml_parser_initialize(&parser))
                fz_die("out of memory", NULL);
        yaml_parser_set_input_string(&parser, data, len);
        if (!yaml_parser_load(&parser, &doc)) {
                yaml_parser_delete(&parser);
                return 0;
        }
        for (n = doc.nodes.start; n < doc.nodes.top && !bad; n++) {
                yaml_node_pair_t *p;

                if (n->type != YAML_MAPPING_NODE)
                        continue;
                for (p = n->data.mapping.pairs.start;
                     p < n->data.mapping.pairs.top && !bad; p++) {
                        yaml_node_t *k = yaml_document_get_node(&doc, p->key);
                        yaml_node_t *v = yaml_document_get_node(&doc, p->value);
                        yaml_node_pair_t *q;

                        if (!scalar_is(k, "lists") || !v ||
                            v->type != YAML_MAPPING_NODE)
                                continue;
                        for (q = v->data.mapping.pairs.start;
                             q < v->data.mapping.pairs.top; q++) {
                                yaml_node_t *f =
                                        yaml_document_get_node(&doc, q->value);
                                const char *s;

                                if (!f || f->type != YAML_SCALAR_NODE)
                                        continue;
                                s = (const char *)f->data.scalar.value;
                                if (s[0] == '/' || strstr(s, "..") ||
                                    strlen(s) != f->data.scalar.length)
                                        bad = 1;
                        }
                }
        }
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        return bad;
}

/* A value that @p c probably matches, into @p out. */
static const char *cond_value(const ls_modelset_t *ms, const ls_cond_t *c,
                              char *out, size_t size) {
        switch (c->op) {
        case LS_MATCH_RANGE:
                snprintf(out, size, "%.17g",
                         c->has_min   ? c->min
                         : c->has_max ? c->max
                                      : 0.0);
                return out;
        case LS_MATCH_IN_LIST:
                if (c->list >= 0 && (size_t)c->list < ms->n_lists &&
                    ms->lists[c->list].n_items) {
                        snprintf(out, size, "someone@%s",
                                 ms->lists[c->list].items[0]);
                        return out;
                }
                return "x";
        case LS_MATCH_EXISTS:
                return "yes";
        default:
                return c->n_values ? c->values[0] : "x";
        }
}

static void add_field(ls_kv_t *f, size_t *n, char vals[][96],
                      const ls_modelset_t *ms, const ls_cond_t *c) {
        if (*n == MAX_FIELDS || !c->field)
                return;
        f[*n].key = c->field;
        f[*n].value = cond_value(ms, c, vals[*n], sizeof(vals[0]));
        (*n)++;
}

static void apply(fm_t *fm, ls_shard_t *shard, const ls_input_t *in) {
        char err[256];

        ls_outbuf_reset(&fm->ob);
        if (ls_shard_apply(shard, in, &fm->ob, err, sizeof(err)) ==
            LS_ERR_NOMEM)
                fz_die("engine out of memory", err);
}

/* Scores with @p ms; the shard must save and load back to the same. */
static void score(fm_t *fm, const ls_modelset_t *ms) {
        ls_kv_t fields[MAX_FIELDS];
        char vals[MAX_FIELDS][96], err[512], id[32];
        ls_shard_t *shard, *back;
        ls_input_t in;
        size_t n = 0, m, r, c, t;

        if (!(shard = ls_shard_new(ms)))
                fz_die("ls_shard_new", NULL);
        for (m = 0; m < ms->n_models && m < 4; m++)
                for (r = 0; r < ms->models[m].n_fit_rules && r < 8; r++)
                        add_field(fields, &n, vals, ms,
                                  &ms->models[m].fit_rules[r].cond);
        memset(&in, 0, sizeof(in));
        in.kind = LS_INPUT_PROFILE;
        in.lead_id = "fz-lead";
        in.time = T0;
        in.fields = fields;
        in.n_fields = n;
        apply(fm, shard, &in);

        for (t = 0; t < ms->n_event_types && t < 8; t++) {
                n = 0;
                for (m = 0; m < ms->n_models && m < 4; m++) {
                        const ls_model_t *mo = &ms->models[m];

                        for (r = 0; r < mo->n_rules; r++) {
                                if (mo->rules[r].type_idx != t)
                                        continue;
                                for (c = 0; c < mo->rules[r].n_when; c++)
                                        add_field(fields, &n, vals, ms,
                                                  &mo->rules[r].when[c]);
                        }
                }
                snprintf(id, sizeof(id), "ev-%zu", t);
                memset(&in, 0, sizeof(in));
                in.kind = LS_INPUT_EVENT;
                in.lead_id = t % 2 ? "fz-lead" : "fz-other";
                in.event_id = id;
                in.event_type = ms->event_types[t];
                in.product = ms->n_models && ms->models[0].n_products
                                     ? ms->models[0].products[0]
                                     : NULL;
                in.time = T0 + (int64_t)t * 3600000;
                in.fields = fields;
                in.n_fields = n;
                apply(fm, shard, &in);
                apply(fm, shard, &in); /* a duplicate */
        }
        /* suppression: a burst of each burst rule's first type, an
         * open and a click of one message, the match rules' values */
        for (r = 0; r < ms->n_suppress && r < 4; r++) {
                const ls_suppress_t *s = &ms->suppress[r];
                ls_kv_t kv[2] = {{"message_id", "msg-1"}, {"ip", "10.0.0.1"}};
                uint32_t k;

                n = 0;
                for (c = 0; c < s->n_when && c < 8; c++)
                        add_field(fields, &n, vals, ms, &s->when[c]);
                if (s->message_field)
                        kv[0].key = s->message_field;
                for (k = 0; k <= s->count + 1; k++) {
                        snprintf(id, sizeof(id), "sp-%zu-%u", r, k);
                        memset(&in, 0, sizeof(in));
                        in.kind = LS_INPUT_EVENT;
                        in.lead_id = "fz-lead";
                        in.event_id = id;
                        in.event_type =
                                s->kind == LS_SUPPRESS_UNOPENED && k == 1
                                        ? s->event
                                : s->n_events ? s->events[0]
                                              : "page_view";
                        in.time = T0 + INT64_C(30) * 86400000 + k * 7;
                        in.fields = s->kind == LS_SUPPRESS_MATCH ? fields : kv;
                        in.n_fields = s->kind == LS_SUPPRESS_MATCH ? n : 2;
                        apply(fm, shard, &in);
                }
        }
        if (ls_shard_check(shard, err, sizeof(err)) != LS_OK)
                fz_die("invariants after scoring", err);
        ls_outbuf_reset(&fm->ob);
        ls_shard_advance(shard, T0 + INT64_C(400) * 86400000, &fm->ob);
        ls_outbuf_reset(&fm->ob);
        ls_shard_advance(shard, TIME_END - 1, &fm->ob);

        ls_buf_reset(&fm->save1);
        ls_buf_reset(&fm->save2);
        if (ls_shard_save(shard, &fm->save1))
                fz_die("ls_shard_save", NULL);
        if (!(back = ls_shard_load(ms, fm->save1.data, fm->save1.len, err,
                                   sizeof(err))))
                fz_die("a saved shard does not load", err);
        if (ls_shard_save(back, &fm->save2) || fm->save1.len != fm->save2.len ||
            memcmp(fm->save1.data, fm->save2.data, fm->save1.len))
                fz_die("a loaded shard saves differently", NULL);
        ls_shard_destroy(back);
        ls_shard_destroy(shard);
        fm->scored++;
}

/* What every accepted set must allow. */
static void accepted(fm_t *fm, ls_modelset_t *ms) {
        const ls_buf_t *src = ls_modelset_source(ms);
        ls_modelset_t *again = NULL;
        char err[1024];

        if (ls_modelset_load_source(src->data, src->len, "source", &again, err,
                                    sizeof(err)))
                fz_die("the source of an accepted set does not load", err);
        if (strcmp(again->version, ms->version))
                fz_die("the source loads to another version", NULL);
        ls_modelset_destroy(again);
        ls_modelset_print_summary(ms, fm->devnull);
        score(fm, ms);
}

static void fm_one(void *ctx, const uint8_t *data, size_t len) {
        fm_t *fm = ctx;
        ls_modelset_t *ms = NULL;
        char err[1024];
        ls_err_t rc;

        if (len && data[0] == 0) {
                rc = ls_modelset_load_source(data + 1, len - 1, "fuzz", &ms,
                                             err, sizeof(err));
                if (rc == LS_OK)
                        fm->src_ok++;
                else
                        fm->src_bad++;
        } else {
                if (lists_escape(data, len)) {
                        fm->skipped++;
                        return;
                }
                rc = ls_modelset_load_string((const char *)data, len, "fuzz",
                                             EXAMPLES, &ms, err, sizeof(err));
                if (rc == LS_OK)
                        fm->yaml_ok++;
                else
                        fm->yaml_bad++;
        }
        if (rc == LS_OK) {
                accepted(fm, ms);
                ls_modelset_destroy(ms);
        } else if (!err[0]) {
                fz_die("rejected without a message", NULL);
        }
}

/* examples/model.yaml, and the source image of every set that loads. */
static void fm_seeds(void *ctx, fz_corpus_t *c) {
        ls_modelset_t *ms;
        char err[1024];
        size_t i, n;

        fz_corpus_add_file(c, EXAMPLES "/model.yaml");
        n = c->n;
        for (i = 0; i < n; i++) {
                const ls_buf_t *src;
                uint8_t *img;

                if (c->in[i].len && c->in[i].data[0] == 0)
                        continue;
                if (ls_modelset_load_string((const char *)c->in[i].data,
                                            c->in[i].len, "seed", EXAMPLES, &ms,
                                            err, sizeof(err)))
                        continue;
                src = ls_modelset_source(ms);
                img = fz_xmalloc(src->len + 1);
                img[0] = 0;
                memcpy(img + 1, src->data, src->len);
                fz_corpus_add(c, img, src->len + 1);
                free(img);
                ls_modelset_destroy(ms);
        }
}

static void fm_done(void *ctx, unsigned long inputs) {
        fm_t *fm = ctx;

        printf("fuzz_model: YAML %lu accepted, %lu rejected, %lu skipped "
               "(list path outside examples/); source images %lu accepted, "
               "%lu rejected; %lu sets scored\n",
               fm->yaml_ok, fm->yaml_bad, fm->skipped, fm->src_ok, fm->src_bad,
               fm->scored);
        if (!fm->yaml_ok || !fm->yaml_bad || !fm->src_ok || !fm->src_bad)
                fz_die("mutations did not exercise both outcomes", NULL);
}

static const char *const fm_dict[] = {"models:",
                                      "- id: ",
                                      "lateness: ",
                                      "max_future: ",
                                      "dedupe: ",
                                      "lists:",
                                      "ignore:",
                                      "products: ",
                                      "fit:",
                                      "rules:",
                                      "engagement:",
                                      "categories:",
                                      "decay:",
                                      "grades:",
                                      "bands:",
                                      "mql:",
                                      "hot:",
                                      "enter:",
                                      "stay:",
                                      "min: ",
                                      "max: ",
                                      "floor: ",
                                      "points: ",
                                      "count: ",
                                      "per: ",
                                      "cap: ",
                                      "event: ",
                                      "when: ",
                                      "unless: ",
                                      "category: ",
                                      "attribute: ",
                                      "field: ",
                                      "equals: ",
                                      "in: ",
                                      "prefix: ",
                                      "glob: ",
                                      "regex: ",
                                      "range: ",
                                      "in_list: ",
                                      "exists: ",
                                      "not: ",
                                      "steps:",
                                      "after: ",
                                      "half_life: ",
                                      "tick: ",
                                      "within: ",
                                      "events: ",
                                      "rearm_after: ",
                                      "track: ",
                                      "min_total: ",
                                      "min_grade: ",
                                      "min_band: ",
                                      "name: ",
                                      "{}",
                                      "[]",
                                      "null",
                                      "true",
                                      "1ms",
                                      "7d",
                                      "2w",
                                      "24h",
                                      "0s",
                                      "-1",
                                      "2147483647",
                                      "-2147483648",
                                      "4294967296",
                                      "9223372036854775807ms",
                                      "\"*\"",
                                      "\"[\"",
                                      "\"(\"",
                                      "\"\\\\\"",
                                      "&a ",
                                      "*a",
                                      "!!str ",
                                      "---\n",
                                      "\n  - ",
                                      "\n    ",
                                      "#",
                                      "lists/freemail.txt",
                                      "freemail",
                                      NULL};

static const fz_target_t fm_target = {
        "fuzz_model", "model",  20000,   fm_dict, fm_init,
        fm_one,       fm_seeds, fm_done, fm_fini,
};

FZ_ENTRY(fm_target)
