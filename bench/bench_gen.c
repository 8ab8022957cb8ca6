/*
 * bench_gen.c - the benchmarks' input generator (see bench_gen.h): a C
 * rendition of bench/gen_events.py's distribution, Avro-encoded with
 * avro-c's generic value writer.
 */
#include "bench_gen.h"

#include <avro.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bench_gen_s {
        avro_schema_t s_event, s_profile;
        avro_value_iface_t *i_event, *i_profile;
        avro_value_t v_event, v_profile;
        avro_writer_t w;
        char buf[65536];
};

typedef struct bench_w_s {
        const char *v;
        double w;
} bench_w_t;

static const bench_w_t bench_pages[] = {
        {"https://www.example.com/pricing", 12},
        {"https://www.example.com/demo", 4},
        {"https://www.example.com/docs/install", 10},
        {"https://www.example.com/blog/tips", 25},
        {"https://www.example.com/careers", 3},
        {"https://www.example.com/about", 15},
        {"https://www.example.com/phones/desk-pricing", 5},
        {"https://shop.example.com/configure?model=x2", 3},
};
static const bench_w_t bench_events[] = {
        {"page_view", 45},        {"email_open", 20},     {"email_click", 8},
        {"email_unsubscribe", 1}, {"form_submit", 4},     {"download", 3},
        {"webinar_register", 2},  {"webinar_attend", 1},  {"demo_request", 1},
        {"demo_cancelled", 0.3},  {"trial_started", 0.5}, {"signed_up", 0.5},
};
static const char *const bench_industries[] = {
        "software",      "saas",      "finance", "retail",
        "manufacturing", "education", "internet"};
static const char *const bench_titles[] = {
        "VP Engineering",   "Head of IT",
        "IT Manager",       "Student",
        "Procurement Lead", "Director of Sales",
        "Developer",        "Retired",
        "Office Manager",   "CTO"};
static const char *const bench_emails[] = {"x@acme.io",     "x@gmail.com",
                                           "x@initech.com", "x@mailinator.com",
                                           "x@globex.com",  "x@yahoo.com"};
static const char *const bench_employees[] = {"5", "40", "120", "800", "5000"};
static const char *const bench_countries[] = {"us", "de", "br", "gb", "in"};
static const char *const bench_products[] = {"office", "office", "suite",
                                             "phone", NULL};
static const char *const bench_seconds[] = {"1", "30", "600", "86400"};
static const char *const bench_forms[] = {"contact", "newsletter", "quote"};
static const char *const bench_assets[] = {"whitepaper", "ebook"};

#define BENCH_N(a) (sizeof(a) / sizeof((a)[0]))

uint64_t bench_rng_next(bench_rng_t *r) {
        uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

double bench_rng_unit(bench_rng_t *r) {
        return (double)(bench_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

static const char *bench_pick(bench_rng_t *r, const char *const *v, size_t n) {
        return v[bench_rng_next(r) % n];
}

static const char *bench_weighted(bench_rng_t *r, const bench_w_t *v,
                                  size_t n) {
        double total = 0, x;
        size_t i;

        for (i = 0; i < n; i++)
                total += v[i].w;
        x = bench_rng_unit(r) * total;
        for (i = 0; i < n; i++) {
                x -= v[i].w;
                if (x <= 0)
                        return v[i].v;
        }
        return v[n - 1].v;
}

uint32_t bench_partition(const char *key, size_t len, int partitions) {
        /* Kafka's murmur2 partitioner, which leadscore requires of its
         * inputs (docs/CONFIG.md, keys and partitions). */
        return partitions > 0 ? (uint32_t)rd_kafka_msg_partitioner_murmur2(
                                        NULL, key, len, partitions, NULL, NULL)
                              : 0;
}

bench_gen_conf_t bench_gen_conf_standard(size_t events, size_t leads,
                                         uint64_t seed, int partitions) {
        bench_gen_conf_t gc = {.events = events,
                               .leads = leads,
                               .seed = seed,
                               .start_ms = 1767225600000LL,
                               .days = 120,
                               .partitions = partitions};
        return gc;
}

static int bench_load_schema(const char *dir, const char *file,
                             avro_schema_t *sp) {
        char path[4096];
        char *text;
        long n;
        FILE *fp;

        snprintf(path, sizeof(path), "%s/%s", dir, file);
        fp = fopen(path, "rb");
        if (!fp) {
                fprintf(stderr, "bench: cannot open %s\n", path);
                return -1;
        }
        fseek(fp, 0, SEEK_END);
        n = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        text = malloc((size_t)n + 1);
        if (!text || fread(text, 1, (size_t)n, fp) != (size_t)n) {
                fclose(fp);
                free(text);
                return -1;
        }
        fclose(fp);
        text[n] = '\0';
        if (avro_schema_from_json_length(text, (size_t)n, sp)) {
                fprintf(stderr, "bench: %s: %s\n", path, avro_strerror());
                free(text);
                return -1;
        }
        free(text);
        return 0;
}

bench_gen_t *bench_gen_new(const char *schema_dir) {
        bench_gen_t *g = calloc(1, sizeof(*g));

        if (!g)
                return NULL;
        if (bench_load_schema(schema_dir, "lead_event.avsc", &g->s_event) ||
            bench_load_schema(schema_dir, "lead_profile.avsc", &g->s_profile)) {
                free(g);
                return NULL;
        }
        g->i_event = avro_generic_class_from_schema(g->s_event);
        g->i_profile = avro_generic_class_from_schema(g->s_profile);
        avro_generic_value_new(g->i_event, &g->v_event);
        avro_generic_value_new(g->i_profile, &g->v_profile);
        g->w = avro_writer_memory(g->buf, sizeof(g->buf));
        return g;
}

void bench_gen_destroy(bench_gen_t *g) {
        if (!g)
                return;
        avro_value_decref(&g->v_event);
        avro_value_decref(&g->v_profile);
        avro_value_iface_decref(g->i_event);
        avro_value_iface_decref(g->i_profile);
        avro_schema_decref(g->s_event);
        avro_schema_decref(g->s_profile);
        avro_writer_free(g->w);
        free(g);
}

static int bench_encode(bench_gen_t *g, bench_rec_t *rec) {
        avro_value_t *v =
                rec->in.kind == LS_INPUT_EVENT ? &g->v_event : &g->v_profile;
        avro_value_t f, br, e;
        size_t i;
        int64_t len;

        avro_value_reset(v);
        avro_value_get_by_name(v, "lead_id", &f, NULL);
        avro_value_set_string(&f, rec->in.lead_id);
        if (rec->in.kind == LS_INPUT_EVENT) {
                avro_value_get_by_name(v, "event_id", &f, NULL);
                avro_value_set_string(&f, rec->in.event_id);
                avro_value_get_by_name(v, "event_type", &f, NULL);
                avro_value_set_string(&f, rec->in.event_type);
                avro_value_get_by_name(v, "occurred_at", &f, NULL);
                avro_value_set_long(&f, rec->in.time);
                avro_value_get_by_name(v, "product", &f, NULL);
                if (rec->in.product) {
                        avro_value_set_branch(&f, 1, &br);
                        avro_value_set_string(&br, rec->in.product);
                } else {
                        avro_value_set_branch(&f, 0, &br);
                        avro_value_set_null(&br);
                }
                avro_value_get_by_name(v, "properties", &f, NULL);
        } else {
                avro_value_get_by_name(v, "updated_at", &f, NULL);
                avro_value_set_long(&f, rec->in.time);
                avro_value_get_by_name(v, "attributes", &f, NULL);
        }
        for (i = 0; i < rec->in.n_fields; i++) {
                avro_value_add(&f, rec->kv[i].key, &e, NULL, NULL);
                avro_value_set_string(&e, rec->kv[i].value);
        }
        avro_writer_reset(g->w);
        if (avro_value_write(g->w, v)) {
                fprintf(stderr, "bench: avro write: %s\n", avro_strerror());
                return -1;
        }
        len = avro_writer_tell(g->w);
        rec->avro = malloc((size_t)len);
        if (!rec->avro)
                return -1;
        memcpy(rec->avro, g->buf, (size_t)len);
        rec->avro_len = (uint32_t)len;
        return 0;
}

void bench_rec_fix(bench_rec_t *rec) {
        rec->in.lead_id = rec->lead_id;
        if (rec->in.kind == LS_INPUT_EVENT)
                rec->in.event_id = rec->event_id;
        rec->in.fields = rec->in.n_fields ? rec->kv : NULL;
}

int bench_gen_one(bench_gen_t *g, const bench_gen_conf_t *conf,
                  bench_rng_t *rng, size_t i, int64_t time_ms,
                  const bench_rec_t *last, bench_rec_t *rec) {
        int64_t step = (int64_t)conf->days * 86400000 /
                       (int64_t)(conf->events ? conf->events : 1);
        int64_t t = conf->start_ms + step * (int64_t)(i + 1);
        double u = bench_rng_unit(rng);
        size_t lead = (size_t)((double)conf->leads * u * u * u);
        int64_t jitter = 0;
        const char *product;
        size_t n = 0;

        if (bench_rng_unit(rng) < 0.05)
                jitter = -(int64_t)(bench_rng_unit(rng) * 1800000);
        if (time_ms >= 0)
                t = time_ms, jitter = 0;
        product = bench_pick(rng, bench_products, BENCH_N(bench_products));
        memset(rec, 0, sizeof(*rec));
        snprintf(rec->lead_id, sizeof(rec->lead_id), "lead-%zu", lead);
        if (bench_rng_unit(rng) < 0.05) {
                rec->in.kind = LS_INPUT_PROFILE;
                rec->in.time = t + jitter;
                rec->kv[n++] = (ls_kv_t){"industry",
                                         bench_pick(rng, bench_industries,
                                                    BENCH_N(bench_industries))};
                rec->kv[n++] = (ls_kv_t){"employees",
                                         bench_pick(rng, bench_employees,
                                                    BENCH_N(bench_employees))};
                rec->kv[n++] =
                        (ls_kv_t){"title", bench_pick(rng, bench_titles,
                                                      BENCH_N(bench_titles))};
                rec->kv[n++] =
                        (ls_kv_t){"email", bench_pick(rng, bench_emails,
                                                      BENCH_N(bench_emails))};
                rec->kv[n++] = (ls_kv_t){"country",
                                         bench_pick(rng, bench_countries,
                                                    BENCH_N(bench_countries))};
                rec->in.n_fields = n;
        } else if (last && bench_rng_unit(rng) < 0.01) {
                *rec = *last; /* a duplicate delivery */
                rec->avro = NULL;
                rec->avro_len = 0;
        } else {
                const char *et = bench_weighted(rng, bench_events,
                                                BENCH_N(bench_events));
                rec->in.kind = LS_INPUT_EVENT;
                rec->in.time = t + jitter;
                rec->in.event_type = et;
                rec->in.product = product;
                snprintf(rec->event_id, sizeof(rec->event_id), "e%zu", i);
                if (!strcmp(et, "page_view"))
                        rec->kv[n++] = (ls_kv_t){
                                "url", bench_weighted(rng, bench_pages,
                                                      BENCH_N(bench_pages))};
                else if (!strcmp(et, "email_click"))
                        rec->kv[n++] =
                                (ls_kv_t){"seconds_since_delivery",
                                          bench_pick(rng, bench_seconds,
                                                     BENCH_N(bench_seconds))};
                else if (!strcmp(et, "form_submit"))
                        rec->kv[n++] = (ls_kv_t){
                                "form_id", bench_pick(rng, bench_forms,
                                                      BENCH_N(bench_forms))};
                else if (!strcmp(et, "download"))
                        rec->kv[n++] =
                                (ls_kv_t){"asset_type",
                                          bench_pick(rng, bench_assets,
                                                     BENCH_N(bench_assets))};
                if (bench_rng_unit(rng) < 0.01)
                        rec->kv[n++] =
                                (ls_kv_t){"user_agent", "ScannerBot/2.1"};
                rec->in.n_fields = n;
        }
        bench_rec_fix(rec);
        rec->partition = bench_partition(rec->lead_id, strlen(rec->lead_id),
                                         conf->partitions);
        if (g)
                return bench_encode(g, rec);
        return 0;
}

bench_rec_t *bench_gen_all(const char *schema_dir,
                           const bench_gen_conf_t *conf) {
        bench_gen_t *g = bench_gen_new(schema_dir);
        bench_rec_t *recs;
        const bench_rec_t *last = NULL;
        bench_rng_t rng = {conf->seed};
        size_t i;

        if (!g)
                return NULL;
        recs = calloc(conf->events ? conf->events : 1, sizeof(*recs));
        if (!recs) {
                bench_gen_destroy(g);
                return NULL;
        }
        for (i = 0; i < conf->events; i++) {
                if (bench_gen_one(g, conf, &rng, i, -1, last, &recs[i])) {
                        bench_recs_free(recs, i);
                        bench_gen_destroy(g);
                        return NULL;
                }
                if (recs[i].in.kind == LS_INPUT_EVENT)
                        last = &recs[i];
        }
        bench_gen_destroy(g);
        return recs;
}

void bench_rec_free(bench_rec_t *rec) {
        free(rec->avro);
        rec->avro = NULL;
}

void bench_recs_free(bench_rec_t *recs, size_t n) {
        size_t i;

        if (!recs)
                return;
        for (i = 0; i < n; i++)
                bench_rec_free(&recs[i]);
        free(recs);
}
