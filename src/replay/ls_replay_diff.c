/*
 * ls_replay_diff.c - the report of `leadscore diff`: compares the final
 * state of every lead under two model sets after one replay that scored
 * the same history with both (see ls_replay.h, docs/REPLAY.md).
 *
 * Models are paired by id. Leads are visited in partition order, then in
 * creation order in the old shard, then the leads that exist only in the
 * new shard; so the example lead ids are deterministic. A lead that
 * exists under one model set only (its events were irrelevant to the
 * other) counts as a fresh lead (all zero, not MQL) under the other.
 */
#include "leadscore/ls_replay.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "leadscore/ls_alloc.h"

#define LS_DIFF_BUCKETS 12 /* <0, 0-9, ..., 90-99, 100+ */

typedef enum ls_diff_change_e {
        LS_DC_GRADE = 0,
        LS_DC_BAND,
        LS_DC_MQL,
        LS_DC_MQL_GAINED,
        LS_DC_MQL_LOST,
        LS_DC__CNT
} ls_diff_change_t;

static const char *const ls_diff_change_names[LS_DC__CNT] = {
        "grade", "band", "mql", "mql_gained", "mql_lost"};

static const char *const ls_diff_change_labels[LS_DC__CNT] = {
        "grade changes", "band changes", "MQL status changes", "  become MQL",
        "  lose MQL"};

typedef struct ls_diff_examples_s {
        uint64_t count;
        char **ids;
        size_t n;
} ls_diff_examples_t;

typedef struct ls_diff_model_s {
        const ls_model_t *m[2];
        size_t idx[2];
        uint64_t leads;
        ls_diff_examples_t ch[LS_DC__CNT];
        uint64_t mql[2];
        uint64_t hist[2][LS_DIFF_BUCKETS];
        int32_t *totals[2];
        size_t n_totals, size_totals;
        char **cells; /* cell names, old grid first */
        size_t n_cells;
        uint64_t *cell_counts[2];
} ls_diff_model_t;

struct ls_diff_s {
        ls_diff_model_t *models;
        size_t n_models;
        size_t n_examples;
        int nomem;
};

/* ---------------------------------------------------------------- build */

static int ls_diff_add_cell(ls_diff_model_t *dm, const char *name) {
        size_t i;
        char **nc;
        int k;

        for (i = 0; i < dm->n_cells; i++)
                if (!strcmp(dm->cells[i], name))
                        return 0;
        if (!(nc = ls_realloc(dm->cells, (dm->n_cells + 1) * sizeof(*nc))))
                return -1;
        dm->cells = nc;
        for (k = 0; k < 2; k++) {
                uint64_t *cc = ls_realloc(dm->cell_counts[k],
                                          (dm->n_cells + 1) * sizeof(*cc));
                if (!cc)
                        return -1;
                cc[dm->n_cells] = 0;
                dm->cell_counts[k] = cc;
        }
        if (!(dm->cells[dm->n_cells] = ls_strdup(name)))
                return -1;
        dm->n_cells++;
        return 0;
}

static ls_err_t ls_diff_model_init(ls_diff_model_t *dm) {
        char name[256];
        size_t g, b;
        int k;

        for (k = 0; k < 2; k++)
                for (g = 0; g < dm->m[k]->n_grades; g++)
                        for (b = 0; b < dm->m[k]->n_bands; b++) {
                                snprintf(name, sizeof(name), "%s%zu",
                                         dm->m[k]->grades[g].name, b + 1);
                                if (ls_diff_add_cell(dm, name))
                                        return LS_ERR_NOMEM;
                        }
        return LS_OK;
}

/** The view of a lead that has not been seen: a fresh lead. */
static void ls_diff_fresh(const ls_model_t *m, ls_lead_view_t *v) {
        size_t i;

        memset(v, 0, sizeof(*v));
        v->grade = (int)m->n_grades - 1;
        for (i = 0; i < m->n_grades; i++)
                if (!m->grades[i].has_min || 0 >= m->grades[i].min) {
                        v->grade = (int)i;
                        break;
                }
        for (i = 0; i < m->n_bands; i++)
                if (!m->bands[i].has_min || 0 >= m->bands[i].min)
                        v->band = (int)i;
}

static int ls_diff_bucket(int32_t total) {
        if (total < 0)
                return 0;
        if (total >= 100)
                return LS_DIFF_BUCKETS - 1;
        return 1 + total / 10;
}

static void ls_diff_example(ls_diff_t *d, ls_diff_examples_t *ex,
                            const char *lead_id) {
        ex->count++;
        if (ex->n >= d->n_examples)
                return;
        if (!ex->ids) {
                ex->ids = ls_calloc(d->n_examples, sizeof(*ex->ids));
                if (!ex->ids) {
                        d->nomem = 1;
                        return;
                }
        }
        if (!(ex->ids[ex->n] = ls_strdup(lead_id))) {
                d->nomem = 1;
                return;
        }
        ex->n++;
}

static void ls_diff_count_cell(ls_diff_t *d, ls_diff_model_t *dm, int k,
                               const ls_lead_view_t *v) {
        char name[256];
        size_t i;

        snprintf(name, sizeof(name), "%s%d", dm->m[k]->grades[v->grade].name,
                 v->band + 1);
        for (i = 0; i < dm->n_cells; i++)
                if (!strcmp(dm->cells[i], name)) {
                        dm->cell_counts[k][i]++;
                        return;
                }
        if (ls_diff_add_cell(dm, name))
                d->nomem = 1;
        else
                dm->cell_counts[k][dm->n_cells - 1]++;
}

static void ls_diff_lead(ls_diff_t *d, ls_diff_model_t *dm, const char *lead_id,
                         const ls_lead_view_t *vo, const ls_lead_view_t *vn) {
        const ls_lead_view_t *v[2] = {vo, vn};
        int k;

        dm->leads++;
        if (strcmp(dm->m[0]->grades[vo->grade].name,
                   dm->m[1]->grades[vn->grade].name))
                ls_diff_example(d, &dm->ch[LS_DC_GRADE], lead_id);
        if (strcmp(dm->m[0]->bands[vo->band].name,
                   dm->m[1]->bands[vn->band].name))
                ls_diff_example(d, &dm->ch[LS_DC_BAND], lead_id);
        if (!vo->mql != !vn->mql) {
                ls_diff_example(d, &dm->ch[LS_DC_MQL], lead_id);
                ls_diff_example(
                        d, &dm->ch[vn->mql ? LS_DC_MQL_GAINED : LS_DC_MQL_LOST],
                        lead_id);
        }
        if (dm->n_totals == dm->size_totals) {
                size_t ns = dm->size_totals ? dm->size_totals * 2 : 1024;
                for (k = 0; k < 2; k++) {
                        int32_t *nt =
                                ls_realloc(dm->totals[k], ns * sizeof(*nt));
                        if (!nt) {
                                d->nomem = 1;
                                return;
                        }
                        dm->totals[k] = nt;
                }
                dm->size_totals = ns;
        }
        for (k = 0; k < 2; k++) {
                dm->mql[k] += !!v[k]->mql;
                dm->hist[k][ls_diff_bucket(v[k]->total)]++;
                dm->totals[k][dm->n_totals] = v[k]->total;
                ls_diff_count_cell(d, dm, k, v[k]);
        }
        dm->n_totals++;
}

typedef struct ls_diff_walk_s {
        ls_diff_t *d;
        ls_diff_model_t *dm;
        const ls_shard_t *other;
        int pass; /* 0: old shard's leads, 1: leads only in the new one */
} ls_diff_walk_t;

static int ls_diff_walk_cb(const char *lead_id, const ls_lead_view_t *view,
                           void *opaque) {
        ls_diff_walk_t *w = opaque;
        ls_diff_model_t *dm = w->dm;
        ls_lead_view_t other;

        if (ls_shard_lead(w->other, lead_id, dm->idx[!w->pass], &other) !=
            LS_OK) {
                ls_diff_fresh(dm->m[!w->pass], &other);
        } else if (w->pass == 1) {
                return 0; /* seen in pass 0 */
        }
        if (w->pass == 0)
                ls_diff_lead(w->d, dm, lead_id, view, &other);
        else
                ls_diff_lead(w->d, dm, lead_id, &other, view);
        return w->d->nomem;
}

static int ls_diff_cmp_i32(const void *a, const void *b) {
        int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

        return x < y ? -1 : x > y;
}

ls_diff_t *ls_diff_new(const ls_replay_t *rp, size_t n_examples, char *errstr,
                       size_t errstr_size) {
        const ls_modelset_t *ms0 = ls_replay_modelset(rp, 0);
        const ls_modelset_t *ms1 = ls_replay_modelset(rp, 1);
        ls_diff_t *d;
        size_t i, j;
        int32_t p;

        if (!ms0 || !ms1) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "diff: the replay has one model set");
                return NULL;
        }
        if (!(d = ls_calloc(1, sizeof(*d))) ||
            !(d->models = ls_calloc(ms0->n_models, sizeof(*d->models)))) {
                ls_free(d);
                ls_seterr(errstr, errstr_size, LS_ERR_NOMEM, "out of memory");
                return NULL;
        }
        d->n_examples = n_examples;
        for (i = 0; i < ms0->n_models; i++) {
                for (j = 0; j < ms1->n_models; j++) {
                        ls_diff_model_t *dm;
                        if (strcmp(ms0->models[i].id, ms1->models[j].id))
                                continue;
                        dm = &d->models[d->n_models++];
                        dm->m[0] = &ms0->models[i];
                        dm->m[1] = &ms1->models[j];
                        dm->idx[0] = i;
                        dm->idx[1] = j;
                        if (ls_diff_model_init(dm))
                                d->nomem = 1;
                        break;
                }
        }
        if (d->n_models == 0) {
                ls_seterr(errstr, errstr_size, LS_ERR_NOT_FOUND,
                          "diff: no model id is in both %s and %s", ms0->path,
                          ms1->path);
                ls_diff_destroy(d);
                return NULL;
        }
        for (i = 0; i < d->n_models && !d->nomem; i++) {
                ls_diff_model_t *dm = &d->models[i];
                for (p = 0; p < ls_replay_n_shards(rp) && !d->nomem; p++) {
                        ls_diff_walk_t w = {d, dm, ls_replay_shard(rp, p, 1),
                                            0};
                        ls_shard_foreach_lead(ls_replay_shard(rp, p, 0),
                                              dm->idx[0], ls_diff_walk_cb, &w);
                        w.other = ls_replay_shard(rp, p, 0);
                        w.pass = 1;
                        ls_shard_foreach_lead(ls_replay_shard(rp, p, 1),
                                              dm->idx[1], ls_diff_walk_cb, &w);
                }
                for (j = 0; j < 2 && dm->totals[j]; j++)
                        qsort(dm->totals[j], dm->n_totals,
                              sizeof(*dm->totals[j]), ls_diff_cmp_i32);
        }
        if (d->nomem) {
                ls_seterr(errstr, errstr_size, LS_ERR_NOMEM, "out of memory");
                ls_diff_destroy(d);
                return NULL;
        }
        return d;
}

void ls_diff_destroy(ls_diff_t *d) {
        size_t i, j, k;

        if (!d)
                return;
        for (i = 0; i < d->n_models; i++) {
                ls_diff_model_t *dm = &d->models[i];
                for (k = 0; k < LS_DC__CNT; k++) {
                        for (j = 0; j < dm->ch[k].n; j++)
                                ls_free(dm->ch[k].ids[j]);
                        ls_free(dm->ch[k].ids);
                }
                for (k = 0; k < 2; k++) {
                        ls_free(dm->totals[k]);
                        ls_free(dm->cell_counts[k]);
                }
                for (j = 0; j < dm->n_cells; j++)
                        ls_free(dm->cells[j]);
                ls_free(dm->cells);
        }
        ls_free(d->models);
        ls_free(d);
}

/* --------------------------------------------------------------- report */

static void ls_diff_bucket_name(int b, char *buf, size_t size) {
        if (b == 0)
                snprintf(buf, size, "<0");
        else if (b == LS_DIFF_BUCKETS - 1)
                snprintf(buf, size, "100+");
        else
                snprintf(buf, size, "%d-%d", (b - 1) * 10, (b - 1) * 10 + 9);
}

/** Nearest-rank quantile of the sorted totals; 0 when there are none. */
static int32_t ls_diff_quantile(const ls_diff_model_t *dm, int k, double q) {
        size_t r;

        if (!dm->n_totals)
                return 0;
        r = (size_t)(q * (double)dm->n_totals + 0.999999);
        if (r < 1)
                r = 1;
        if (r > dm->n_totals)
                r = dm->n_totals;
        return dm->totals[k][r - 1];
}

static const double ls_diff_qs[4] = {0.10, 0.50, 0.90, 1.0};
static const char *const ls_diff_qnames[4] = {"p10", "p50", "p90", "max"};

void ls_diff_print_text(const ls_diff_t *d, FILE *fp) {
        size_t i, j;
        int k, b;
        char name[32];

        for (i = 0; i < d->n_models; i++) {
                const ls_diff_model_t *dm = &d->models[i];
                fprintf(fp,
                        "model %s: %llu leads (old version %s, new "
                        "version %s)\n",
                        dm->m[0]->id, (unsigned long long)dm->leads,
                        dm->m[0]->version, dm->m[1]->version);
                fprintf(fp, "\n  %-22s %8s  %s\n", "changes", "leads",
                        "examples");
                for (k = 0; k < LS_DC__CNT; k++) {
                        const ls_diff_examples_t *ex = &dm->ch[k];
                        fprintf(fp, "  %-22s %8llu ", ls_diff_change_labels[k],
                                (unsigned long long)ex->count);
                        for (j = 0; j < ex->n; j++)
                                fprintf(fp, " %s", ex->ids[j]);
                        if (ex->count > ex->n)
                                fprintf(fp, " ...");
                        fputc('\n', fp);
                }
                fprintf(fp, "\n  %-22s %8s %8s %8s\n", "", "old", "new",
                        "delta");
                fprintf(fp, "  %-22s %8llu %8llu %+8lld\n", "MQL leads",
                        (unsigned long long)dm->mql[0],
                        (unsigned long long)dm->mql[1],
                        (long long)dm->mql[1] - (long long)dm->mql[0]);
                fprintf(fp, "\n  total score            %8s %8s %8s\n", "old",
                        "new", "delta");
                for (b = 0; b < LS_DIFF_BUCKETS; b++) {
                        ls_diff_bucket_name(b, name, sizeof(name));
                        fprintf(fp, "    %-20s %8llu %8llu %+8lld\n", name,
                                (unsigned long long)dm->hist[0][b],
                                (unsigned long long)dm->hist[1][b],
                                (long long)dm->hist[1][b] -
                                        (long long)dm->hist[0][b]);
                }
                for (k = 0; k < 4; k++) {
                        int32_t o = ls_diff_quantile(dm, 0, ls_diff_qs[k]);
                        int32_t n = ls_diff_quantile(dm, 1, ls_diff_qs[k]);
                        fprintf(fp, "    %-20s %8d %8d %+8d\n",
                                ls_diff_qnames[k], (int)o, (int)n,
                                (int)(n - o));
                }
                fprintf(fp, "\n  grid cell              %8s %8s %8s\n", "old",
                        "new", "delta");
                for (j = 0; j < dm->n_cells; j++)
                        fprintf(fp, "    %-20s %8llu %8llu %+8lld\n",
                                dm->cells[j],
                                (unsigned long long)dm->cell_counts[0][j],
                                (unsigned long long)dm->cell_counts[1][j],
                                (long long)dm->cell_counts[1][j] -
                                        (long long)dm->cell_counts[0][j]);
                if (i + 1 < d->n_models)
                        fputc('\n', fp);
        }
}

static json_t *ls_diff_pair(uint64_t o, uint64_t n) {
        return json_pack("{s:I, s:I}", "old", (json_int_t)o, "new",
                         (json_int_t)n);
}

ls_err_t ls_diff_print_json(const ls_diff_t *d, FILE *fp) {
        json_t *root = json_object(), *models = json_array();
        size_t i, j;
        int k, b, bad = !root || !models;
        char name[32];

        for (i = 0; i < d->n_models && !bad; i++) {
                const ls_diff_model_t *dm = &d->models[i];
                json_t *jm = json_object(), *ch = json_object(),
                       *hist = json_array(), *q = json_object(),
                       *cells = json_array(), *qs[2];
                if (!jm || !ch || !hist || !q || !cells) {
                        json_decref(jm);
                        json_decref(ch);
                        json_decref(hist);
                        json_decref(q);
                        json_decref(cells);
                        bad = 1;
                        break;
                }
                json_object_set_new(jm, "model", json_string(dm->m[0]->id));
                json_object_set_new(jm, "old_version",
                                    json_string(dm->m[0]->version));
                json_object_set_new(jm, "new_version",
                                    json_string(dm->m[1]->version));
                json_object_set_new(jm, "leads",
                                    json_integer((json_int_t)dm->leads));
                for (k = 0; k < LS_DC__CNT; k++) {
                        json_t *ex = json_array();
                        for (j = 0; ex && j < dm->ch[k].n; j++)
                                json_array_append_new(
                                        ex, json_string(dm->ch[k].ids[j]));
                        json_object_set_new(
                                ch, ls_diff_change_names[k],
                                json_pack("{s:I, s:o}", "count",
                                          (json_int_t)dm->ch[k].count,
                                          "examples", ex));
                }
                json_object_set_new(jm, "changes", ch);
                json_object_set_new(jm, "mql",
                                    ls_diff_pair(dm->mql[0], dm->mql[1]));
                for (b = 0; b < LS_DIFF_BUCKETS; b++) {
                        ls_diff_bucket_name(b, name, sizeof(name));
                        json_array_append_new(
                                hist,
                                json_pack("{s:s, s:I, s:I}", "bucket", name,
                                          "old", (json_int_t)dm->hist[0][b],
                                          "new", (json_int_t)dm->hist[1][b]));
                }
                json_object_set_new(jm, "histogram", hist);
                for (k = 0; k < 2; k++) {
                        int qi;
                        qs[k] = json_object();
                        for (qi = 0; qs[k] && qi < 4; qi++)
                                json_object_set_new(
                                        qs[k], ls_diff_qnames[qi],
                                        json_integer(ls_diff_quantile(
                                                dm, k, ls_diff_qs[qi])));
                }
                json_object_set_new(q, "old", qs[0]);
                json_object_set_new(q, "new", qs[1]);
                json_object_set_new(jm, "quantiles", q);
                for (j = 0; j < dm->n_cells; j++)
                        json_array_append_new(
                                cells,
                                json_pack("{s:s, s:I, s:I}", "cell",
                                          dm->cells[j], "old",
                                          (json_int_t)dm->cell_counts[0][j],
                                          "new",
                                          (json_int_t)dm->cell_counts[1][j]));
                json_object_set_new(jm, "cells", cells);
                json_array_append_new(models, jm);
        }
        if (bad) {
                json_decref(models);
                json_decref(root);
                return LS_ERR_NOMEM;
        }
        json_object_set_new(root, "models", models);
        if (json_dumpf(root, fp, JSON_INDENT(2) | JSON_PRESERVE_ORDER) ||
            fputc('\n', fp) == EOF) {
                json_decref(root);
                return LS_ERR_IO;
        }
        json_decref(root);
        return LS_OK;
}
