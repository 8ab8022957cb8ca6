/*
 * fuzz_snapshot.c - the snapshot reader and the shard loader under a fixed
 * model set (SET_A below), then the engine computing with what they load.
 *
 * The first byte of an input says what the rest is:
 *   bit 0 clear: a shard image (ls_shard_save()), for ls_shard_load();
 *   bit 0 set:   a snapshot file image, for ls_snapshot_decode() and
 *                ls_snapshot_load_image() (with the group, topics and
 *                partition it names, so the state is loaded, or migrated
 *                when it was taken under another model set); with bit 1
 *                clear its last 32 bytes are first replaced by the right
 *                SHA-256, so that mutations get past the checksum (a
 *                crafted file, as in issue 11's finding 6).
 *
 * When a shard loads: inputs for up to four of its leads (a profile,
 * events of each scored type, a late one, a duplicate), decay 400 days on
 * and at the end of year 9999, so that UBSan sees the engine compute with
 * the loaded values; then ls_shard_save() must give an image that
 * ls_shard_load() takes and that saves to the same bytes.
 *
 * Corpus: tests/fuzz/corpus/snapshot/ (--write-seeds output); the driver
 * also generates its seeds afresh, so they follow format changes. The
 * checked-in files were written before `suppress` (shard image format 3,
 * SET_A without suppression): their snapshot files now load under the set
 * they carry and migrate to SET_A, so old images stay fuzzed.
 * Run: fuzz_snapshot [RUNS] (see fuzz_common.h; default 20000).
 */
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "leadscore/ls_engine.h"
#include "leadscore/ls_model.h"
#include "leadscore/ls_snapshot.h"

#define EXAMPLES LS_SOURCE_DIR "/examples"
#define T0 INT64_C(1767225600000) /* 2026-01-01 */
#define DAY INT64_C(86400000)
#define TIME_END INT64_C(253402300800000) /* 10000-01-01 */

/* The fixed model set: caps, categories, steps and half-life decay, MQL,
 * hot leads, a list, dedupe, suppression (a burst of page views, which
 * the busy shard below has, and clicks without an open). */
static const char SET_A[] =
        "lateness: 1h\n"
        "dedupe: 4\n"
        "lists:\n"
        "  freemail: lists/freemail.txt\n"
        "suppress:\n"
        "  - id: views\n"
        "    burst: {events: [page_view], count: 3, within: 4h}\n"
        "  - id: unopened\n"
        "    unopened: {event: email_click, needs: [email_open], remember: "
        "3}\n"
        "  - id: lab\n"
        "    match: {ip: {cidr: [10.0.0.0/8]}}\n"
        "models:\n"
        "  - id: office\n"
        "    products: [office]\n"
        "    fit:\n"
        "      min: -50\n"
        "      max: 100\n"
        "      rules:\n"
        "        - {id: industry, attribute: industry, in: [software], "
        "points: 15}\n"
        "        - {id: size, attribute: employees, range: {min: 50}, "
        "points: 15}\n"
        "        - {id: freemail, attribute: email, in_list: freemail, "
        "points: -10}\n"
        "    engagement:\n"
        "      floor: 0\n"
        "      max: 200\n"
        "      categories:\n"
        "        web: {cap: {points: 20, per: 1d}}\n"
        "      rules:\n"
        "        - {id: pricing, event: page_view, when: {url: {glob: "
        "\"*/pricing*\"}}, points: 10, category: web}\n"
        "        - {id: docs, event: page_view, points: 3, cap: {count: 2, "
        "per: 1d}}\n"
        "        - {id: demo, event: demo_request, points: 30}\n"
        "      decay:\n"
        "        steps:\n"
        "          - {after: 7d, points: -10}\n"
        "          - {after: 30d, points: -20}\n"
        "    grades: [{name: A, min: 25}, {name: D}]\n"
        "    bands: [{name: cold}, {name: warm, min: 20}, {name: hot, "
        "min: 40}]\n"
        "    mql:\n"
        "      enter: {min_grade: A, min_band: warm}\n"
        "      stay: {min_grade: A, min_band: cold}\n"
        "    hot: {points: 30, within: 24h, events: [demo_request], "
        "rearm_after: 7d}\n"
        "    alert_attributes: [email, industry]\n"
        "  - id: phone\n"
        "    engagement:\n"
        "      rules:\n"
        "        - {id: any, event: page_view, points: 1}\n"
        "        - {id: demo, event: demo_request, points: 20}\n"
        "      decay: {half_life: 14d, tick: 1d}\n"
        "    grades: [{name: A}]\n"
        "    bands: [{name: cold}, {name: hot, min: 10}]\n"
        "    mql: {enter: {min_total: 15}}\n";

/* Another set, for snapshots that migrate to SET_A. */
static const char SET_B[] =
        "dedupe: 8\n"
        "models:\n"
        "  - id: office\n"
        "    engagement:\n"
        "      rules:\n"
        "        - {id: pricing, event: page_view, points: 12}\n"
        "        - {id: demo, event: demo_request, points: 40, cap: "
        "{points: 40, per: 7d}}\n"
        "      decay: {half_life: 7d}\n"
        "    grades: [{name: A}]\n"
        "    bands: [{name: cold}, {name: hot, min: 30}]\n"
        "  - id: extra\n"
        "    engagement:\n"
        "      rules:\n"
        "        - {id: e, event: webinar_attend, points: 5}\n"
        "    grades: [{name: A}]\n"
        "    bands: [{name: cold}]\n";

typedef struct fs_s {
        ls_modelset_t *ms, *ms_b;
        ls_outbuf_t ob;
        ls_buf_t save1, save2;
        unsigned long shard_ok, shard_bad, file_ok, file_bad, migrated,
                exercised;
} fs_t;

static ls_modelset_t *load_set(const char *yaml) {
        ls_modelset_t *ms;
        char err[1024];

        if (ls_modelset_load_string(yaml, strlen(yaml), "fuzz-set", EXAMPLES,
                                    &ms, err, sizeof(err)))
                fz_die("model set", err);
        return ms;
}

static void *fs_init(void) {
        fs_t *fs = calloc(1, sizeof(*fs));

        if (!fs)
                fz_die("out of memory", NULL);
        fs->ms = load_set(SET_A);
        fs->ms_b = load_set(SET_B);
        ls_outbuf_init(&fs->ob);
        ls_buf_init(&fs->save1);
        ls_buf_init(&fs->save2);
        return fs;
}

static void fs_fini(void *ctx) {
        fs_t *fs = ctx;

        ls_modelset_destroy(fs->ms);
        ls_modelset_destroy(fs->ms_b);
        ls_outbuf_free(&fs->ob);
        ls_buf_free(&fs->save1);
        ls_buf_free(&fs->save2);
        free(fs);
}

static void apply(fs_t *fs, ls_shard_t *shard, ls_input_kind_t kind,
                  const char *lead, const char *event_id, const char *type,
                  int64_t time) {
        static const ls_kv_t event_fields[] = {
                {"url", "https://example.com/pricing"}, {"ref", "ad"}};
        static const ls_kv_t profile_fields[] = {
                {"industry", "software"},
                {"employees", "120"},
                {"email", "someone@gmail.com"}};
        char err[256];
        ls_input_t in;

        memset(&in, 0, sizeof(in));
        in.kind = kind;
        in.lead_id = lead;
        in.time = time;
        if (kind == LS_INPUT_EVENT) {
                in.event_id = event_id;
                in.event_type = type;
                in.product = "office";
                in.fields = event_fields;
                in.n_fields = 2;
        } else {
                in.fields = profile_fields;
                in.n_fields = 3;
        }
        ls_outbuf_reset(&fs->ob);
        if (ls_shard_apply(shard, &in, &fs->ob, err, sizeof(err)) ==
            LS_ERR_NOMEM)
                fz_die("engine out of memory", err);
}

static void advance(fs_t *fs, ls_shard_t *shard, int64_t time) {
        ls_outbuf_reset(&fs->ob);
        if (ls_shard_advance(shard, time, &fs->ob) == LS_ERR_NOMEM)
                fz_die("engine out of memory", NULL);
}

typedef struct leads_s {
        char id[4][272];
        int n;
} leads_t;

static int collect_lead(const char *lead_id, const ls_lead_view_t *view,
                        void *opaque) {
        leads_t *l = opaque;

        snprintf(l->id[l->n++], sizeof(l->id[0]), "%s", lead_id);
        return l->n == 4;
}

static int64_t clamp_time(int64_t t) {
        return t < 0 ? 0 : t >= TIME_END ? TIME_END - 1 : t;
}

/* The engine on a loaded shard; then save / load / save must agree. */
static void exercise(fs_t *fs, ls_shard_t *shard) {
        int64_t st = ls_shard_stream_time(shard), base;
        leads_t leads;
        char err[512];
        ls_shard_t *back;
        int i;

        base = clamp_time(st == INT64_MIN ? T0 : st);
        leads.n = 0;
        ls_shard_foreach_lead(shard, 0, collect_lead, &leads);
        if (!leads.n)
                snprintf(leads.id[leads.n++], sizeof(leads.id[0]), "new");
        for (i = 0; i < leads.n; i++) {
                const char *l = leads.id[i];

                apply(fs, shard, LS_INPUT_PROFILE, l, NULL, NULL, base);
                apply(fs, shard, LS_INPUT_EVENT, l, "x1", "page_view",
                      clamp_time(base + 60000));
                apply(fs, shard, LS_INPUT_EVENT, l, "x2", "demo_request",
                      clamp_time(base + DAY));
                apply(fs, shard, LS_INPUT_EVENT, l, "x2", "demo_request",
                      clamp_time(base + DAY));
                apply(fs, shard, LS_INPUT_EVENT, l, "x3", "page_view",
                      clamp_time(base - 2 * 3600000));
        }
        advance(fs, shard, clamp_time(base + 400 * DAY));
        advance(fs, shard, TIME_END - 1);

        ls_buf_reset(&fs->save1);
        ls_buf_reset(&fs->save2);
        if (ls_shard_save(shard, &fs->save1))
                fz_die("ls_shard_save", NULL);
        if (!(back = ls_shard_load(fs->ms, fs->save1.data, fs->save1.len, err,
                                   sizeof(err))))
                fz_die("a saved shard does not load", err);
        if (ls_shard_save(back, &fs->save2) || fs->save1.len != fs->save2.len ||
            memcmp(fs->save1.data, fs->save2.data, fs->save1.len))
                fz_die("a loaded shard saves differently", NULL);
        ls_shard_destroy(back);
        fs->exercised++;
}

static void fs_one(void *ctx, const uint8_t *data, size_t len) {
        fs_t *fs = ctx;
        ls_snapshot_meta_t meta, meta2;
        const void *payload;
        ls_shard_t *shard = NULL;
        char err[1024];
        const char *topics[2];

        if (len < 1)
                return;
        if (!(data[0] & 1)) {
                shard = ls_shard_load(fs->ms, data + 1, len - 1, err,
                                      sizeof(err));
                if (shard)
                        fs->shard_ok++;
                else
                        fs->shard_bad++;
        } else {
                size_t n = len - 1;
                uint8_t *img = fz_xmalloc(n);

                memcpy(img, data + 1, n); /* exactly sized, fixable */
                if (!(data[0] & 2) && n >= 32) {
                        unsigned int hn = 0;
                        EVP_Digest(img, n - 32, img + n - 32, &hn, EVP_sha256(),
                                   NULL);
                }
                if (ls_snapshot_decode(img, n, &meta, &payload, err,
                                       sizeof(err)) == LS_OK) {
                        topics[0] = meta.topics[0];
                        topics[1] = meta.topics[1];
                        if (ls_snapshot_load_image(img, n, meta.group,
                                                   meta.partition, topics,
                                                   fs->ms, &meta2, &shard, err,
                                                   sizeof(err)) == LS_OK) {
                                fs->file_ok++;
                                fs->migrated += meta2.migrated_from[0] != 0;
                        } else {
                                fs->file_bad++;
                        }
                } else {
                        fs->file_bad++;
                }
                free(img);
        }
        if (!shard) {
                if (!err[0])
                        fz_die("rejected without a message", NULL);
                return;
        }
        exercise(fs, shard);
        ls_shard_destroy(shard);
}

/* A shard of six leads with caps, decay, MQL, hot-lead and burst state
 * (page views an hour apart: the third within 4h completes a burst). */
static ls_shard_t *busy_shard(fs_t *fs, const ls_modelset_t *ms) {
        ls_shard_t *shard = ls_shard_new(ms);
        char lead[16], ev[16];
        int i, d;

        if (!shard)
                fz_die("ls_shard_new", NULL);
        for (i = 0; i < 6; i++) {
                snprintf(lead, sizeof(lead), "lead-%d", i);
                apply(fs, shard, LS_INPUT_PROFILE, lead, NULL, NULL,
                      T0 + i * 1000);
                for (d = 0; d < 4 + i; d++) {
                        snprintf(ev, sizeof(ev), "e%d-%d", i, d);
                        apply(fs, shard, LS_INPUT_EVENT, lead, ev,
                              d % 3 == 2 ? "demo_request" : "page_view",
                              T0 + d * 3600000 + i * 20 * DAY);
                }
        }
        advance(fs, shard, T0 + 130 * DAY);
        apply(fs, shard, LS_INPUT_EVENT, "late-comer", "z", "demo_request",
              T0 + 130 * DAY);
        return shard;
}

static void add_with(fz_corpus_t *c, uint8_t sel, const ls_buf_t *b) {
        uint8_t *tmp = fz_xmalloc(b->len + 1);

        tmp[0] = sel;
        memcpy(tmp + 1, b->data, b->len);
        fz_corpus_add(c, tmp, b->len + 1);
        free(tmp);
}

static void snapshot_of(const ls_modelset_t *ms, const ls_shard_t *shard,
                        ls_buf_t *out) {
        ls_snapshot_meta_t meta;

        memset(&meta, 0, sizeof(meta));
        snprintf(meta.model_version, sizeof(meta.model_version), "%s",
                 ms->version);
        snprintf(meta.group, sizeof(meta.group), "leadscore");
        snprintf(meta.topics[0], sizeof(meta.topics[0]), "lead-events");
        snprintf(meta.topics[1], sizeof(meta.topics[1]), "lead-profiles");
        meta.partition = 3;
        meta.offsets[0] = 1234;
        meta.offsets[1] = LS_SNAPSHOT_EARLIEST;
        meta.seq = 7;
        ls_buf_reset(out);
        if (ls_snapshot_encode(&meta, shard, out))
                fz_die("ls_snapshot_encode", NULL);
}

static void fs_seeds(void *ctx, fz_corpus_t *c) {
        fs_t *fs = ctx;
        ls_shard_t *a = busy_shard(fs, fs->ms), *b = busy_shard(fs, fs->ms_b);
        ls_shard_t *empty = ls_shard_new(fs->ms);
        ls_buf_t buf;

        ls_buf_init(&buf);
        if (ls_shard_save(a, &buf))
                fz_die("ls_shard_save", NULL);
        add_with(c, 0, &buf);
        ls_buf_reset(&buf);
        if (ls_shard_save(empty, &buf))
                fz_die("ls_shard_save", NULL);
        add_with(c, 0, &buf);
        snapshot_of(fs->ms, a, &buf);
        add_with(c, 1, &buf);
        add_with(c, 3, &buf);
        snapshot_of(fs->ms_b, b, &buf);
        add_with(c, 1, &buf);
        snapshot_of(fs->ms, empty, &buf);
        add_with(c, 3, &buf);
        ls_buf_free(&buf);
        ls_shard_destroy(a);
        ls_shard_destroy(b);
        ls_shard_destroy(empty);
}

static void fs_done(void *ctx, unsigned long inputs) {
        fs_t *fs = ctx;

        printf("fuzz_snapshot: shard images %lu loaded, %lu rejected; "
               "snapshot files %lu loaded (%lu migrated), %lu rejected; "
               "%lu loaded shards scored\n",
               fs->shard_ok, fs->shard_bad, fs->file_ok, fs->migrated,
               fs->file_bad, fs->exercised);
        if (!fs->shard_ok || !fs->shard_bad || !fs->file_ok || !fs->file_bad ||
            !fs->migrated)
                fz_die("mutations did not exercise both outcomes", NULL);
}

static const fz_target_t fs_target = {
        "fuzz_snapshot", "snapshot", 20000,   NULL,    fs_init,
        fs_one,          fs_seeds,   fs_done, fs_fini,
};

FZ_ENTRY(fs_target)
