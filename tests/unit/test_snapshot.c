/*
 * test_snapshot.c - snapshot files: round trip, every kind of damage
 * detected with its reason (bit flips, truncations, format version, model
 * version), fallback to the next older file, keep-K pruning, and that a
 * leftover temp file is never taken for a snapshot.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_buf.h"
#include "leadscore/ls_engine.h"
#include "leadscore/ls_model.h"
#include "leadscore/ls_snapshot.h"

#define T0 (1767225600000LL)

/* A model set whose one rule gives @p points: other points, another model
 * set version with the same structure. */
#define MODEL_WITH_POINTS(points)                                              \
        "lateness: 1h\n"                                                       \
        "models:\n"                                                            \
        "  - id: m\n"                                                          \
        "    engagement:\n"                                                    \
        "      rules:\n"                                                       \
        "        - {id: pv, event: page_view, points: " points "}\n"           \
        "      decay: {half_life: 1d, tick: 6h}\n"                             \
        "    grades:\n"                                                        \
        "      - {name: A, min: 20}\n"                                         \
        "      - {name: B}\n"                                                  \
        "    bands:\n"                                                         \
        "      - {name: cold}\n"                                               \
        "      - {name: hot, min: 20}\n"

static const char *const MODEL_A = MODEL_WITH_POINTS("5");
static const char *const MODEL_B = MODEL_WITH_POINTS("6");

static const char *const TOPICS[2] = {"ev", "pr"};

typedef struct fx_s {
        ls_modelset_t *ms;
        ls_shard_t *sh;
        char dir[256];
        ls_buf_t scratch;
        char err[1024];
        /* what the report callback saw */
        char reports[8][1200];
        int n_reports;
} fx_t;

static ls_modelset_t *load_model(const char *yaml) {
        ls_modelset_t *ms = NULL;
        char err[512];

        if (ls_modelset_load_string(yaml, strlen(yaml), "t.yaml", NULL, &ms,
                                    err, sizeof(err)))
                fail_msg("model: %s", err);
        return ms;
}

/* Applies events from..to-1 spread over `leads` leads (from 1 day apart:
 * decay fires in between); appends "id total time" of each output to
 * @p trace when not NULL. */
static void apply_trace(ls_shard_t *sh, int from, int to, int leads,
                        ls_buf_t *trace) {
        ls_outbuf_t ob;
        char lead[32], id[32], err[256], oid[256];
        size_t j;
        int i;

        ls_outbuf_init(&ob);
        for (i = from; i < to; i++) {
                ls_input_t in = {0};
                snprintf(lead, sizeof(lead), "lead-%d", i % leads);
                snprintf(id, sizeof(id), "e%d", i);
                in.kind = LS_INPUT_EVENT;
                in.lead_id = lead;
                in.event_id = id;
                in.event_type = "page_view";
                in.time = T0 + (int64_t)i * 5 * 3600000;
                ls_outbuf_reset(&ob);
                assert_int_equal(ls_shard_apply(sh, &in, &ob, err, sizeof(err)),
                                 LS_OK);
                for (j = 0; trace && j < ob.n_outs; j++) {
                        ls_output_id(&ob.outs[j], oid, sizeof(oid));
                        ls_buf_appendf(trace, "%s %d %lld\n", oid,
                                       ob.outs[j].total,
                                       (long long)ob.outs[j].time);
                }
        }
        ls_outbuf_free(&ob);
}

static void apply_events(ls_shard_t *sh, int from, int to, int leads) {
        apply_trace(sh, from, to, leads, NULL);
}

static int setup(void **state) {
        fx_t *fx = calloc(1, sizeof(*fx));

        fx->ms = load_model(MODEL_A);
        fx->sh = ls_shard_new(fx->ms);
        apply_events(fx->sh, 0, 50, 7);
        snprintf(fx->dir, sizeof(fx->dir), "/tmp/ls_test_snapshot.XXXXXX");
        assert_non_null(mkdtemp(fx->dir));
        ls_buf_init(&fx->scratch);
        *state = fx;
        return 0;
}

static int teardown(void **state) {
        fx_t *fx = *state;
        DIR *d = opendir(fx->dir);
        struct dirent *de;
        char path[600];

        while (d && (de = readdir(d))) {
                if (de->d_name[0] == '.' &&
                    (!de->d_name[1] || !strcmp(de->d_name, "..")))
                        continue;
                snprintf(path, sizeof(path), "%s/%s", fx->dir, de->d_name);
                unlink(path);
        }
        if (d)
                closedir(d);
        rmdir(fx->dir);
        ls_buf_free(&fx->scratch);
        ls_shard_destroy(fx->sh);
        ls_modelset_destroy(fx->ms);
        free(fx);
        return 0;
}

static void report_cb(void *opaque, const char *path, const char *why) {
        fx_t *fx = opaque;

        if (fx->n_reports < 8)
                snprintf(fx->reports[fx->n_reports++], sizeof(fx->reports[0]),
                         "%s: %s", path, why);
}

static void fill_meta(const fx_t *fx, ls_snapshot_meta_t *meta, int64_t off_ev,
                      int64_t off_pr) {
        memset(meta, 0, sizeof(*meta));
        snprintf(meta->model_version, sizeof(meta->model_version), "%s",
                 fx->ms->version);
        snprintf(meta->group, sizeof(meta->group), "grp");
        snprintf(meta->topics[0], sizeof(meta->topics[0]), "%s", TOPICS[0]);
        snprintf(meta->topics[1], sizeof(meta->topics[1]), "%s", TOPICS[1]);
        meta->partition = 3;
        meta->offsets[0] = off_ev;
        meta->offsets[1] = off_pr;
}

static void write_snap(fx_t *fx, int64_t off_ev, int keep, char *path,
                       size_t size) {
        ls_snapshot_meta_t meta;

        fill_meta(fx, &meta, off_ev, LS_SNAPSHOT_EARLIEST);
        if (ls_snapshot_write(fx->dir, &meta, fx->sh, keep, &fx->scratch, path,
                              size, fx->err, sizeof(fx->err)))
                fail_msg("write: %s", fx->err);
}

/* Encodes the shard of fx into buf. */
static void encode(fx_t *fx, ls_buf_t *buf) {
        ls_snapshot_meta_t meta;

        fill_meta(fx, &meta, 42, 7);
        assert_int_equal(ls_snapshot_encode(&meta, fx->sh, buf), LS_OK);
}

/* Restores group "grp", partition 3 of TOPICS from fx->dir under @p ms,
 * refused files reported to fx. @returns ls_snapshot_restore's result. */
static ls_err_t restore_grp3(fx_t *fx, const ls_modelset_t *ms,
                             ls_snapshot_meta_t *meta, ls_shard_t **sh,
                             char *got, size_t got_size) {
        return ls_snapshot_restore(fx->dir, "grp", 3, TOPICS, ms, report_cb, fx,
                                   meta, sh, got, got_size, fx->err,
                                   sizeof(fx->err));
}

static void test_round_trip(void **state) {
        fx_t *fx = *state;
        ls_snapshot_meta_t meta;
        ls_shard_t *sh = NULL;
        ls_buf_t a, b;
        char path[600], got[600];
        ls_lead_view_t v1, v2;

        write_snap(fx, 123, 3, path, sizeof(path));
        assert_non_null(strstr(path, "/grp-3-000000000001.lssnap"));
        assert_int_equal(restore_grp3(fx, fx->ms, &meta, &sh, got, sizeof(got)),
                         LS_OK);
        assert_string_equal(got, path);
        assert_int_equal(fx->n_reports, 0);
        assert_int_equal(meta.offsets[0], 123);
        assert_int_equal(meta.offsets[1], LS_SNAPSHOT_EARLIEST);
        assert_int_equal(meta.partition, 3);
        assert_int_equal(meta.leads, 7);
        assert_int_equal(meta.seq, 1);
        assert_string_equal(meta.group, "grp");
        assert_string_equal(meta.topics[1], "pr");
        assert_string_equal(meta.model_version, fx->ms->version);
        assert_int_equal(meta.stream_time, ls_shard_stream_time(fx->sh));
        assert_true(meta.created_ms > T0);
        /* Same state: same views, and the same future (outputs with the
         * same ids, totals and times, decay included). */
        assert_int_equal(ls_shard_lead(sh, "lead-3", 0, &v2), LS_OK);
        assert_int_equal(ls_shard_lead(fx->sh, "lead-3", 0, &v1), LS_OK);
        assert_int_equal(v1.total, v2.total);
        assert_int_equal(v1.seq, v2.seq);
        ls_buf_init(&a);
        ls_buf_init(&b);
        apply_trace(sh, 50, 120, 7, &a);
        apply_trace(fx->sh, 50, 120, 7, &b);
        assert_true(a.len > 0);
        {
                /* More outputs than the 70 events: decay fired too. */
                size_t lines = 0, k;
                for (k = 0; k < a.len; k++)
                        lines += a.data[k] == '\n';
                assert_true(lines > 70);
        }
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.data, b.data, a.len);
        ls_buf_free(&a);
        ls_buf_free(&b);
        ls_shard_destroy(sh);
}

/* Decodes the first @p len bytes of @p buf (metadata and payload thrown
 * away), fx->err emptied first; @returns the result. */
static ls_err_t decode(fx_t *fx, const ls_buf_t *buf, size_t len) {
        ls_snapshot_meta_t meta;
        const void *payload;

        fx->err[0] = '\0';
        return ls_snapshot_decode(buf->data, len, &meta, &payload, fx->err,
                                  sizeof(fx->err));
}

/* The test fails unless all of @p buf is refused with an error that
 * contains @p want. */
static void assert_refused(fx_t *fx, const ls_buf_t *buf, const char *want) {
        ls_err_t err = decode(fx, buf, buf->len);

        if (err != LS_ERR_INVALID || !strstr(fx->err, want))
                fail_msg("got (%d) \"%s\", want LS_ERR_INVALID with \"%s\"",
                         (int)err, fx->err, want);
}

static void test_bit_flips(void **state) {
        fx_t *fx = *state;
        ls_buf_t buf;
        size_t pos;
        int bit;

        ls_buf_init(&buf);
        encode(fx, &buf);
        assert_int_equal(decode(fx, &buf, buf.len), LS_OK);
        /* Every byte, one bit each (rotating): never accepted. */
        for (pos = 0; pos < buf.len; pos++) {
                bit = (int)(pos % 8);
                buf.data[pos] ^= (char)(1 << bit);
                if (decode(fx, &buf, buf.len) == LS_OK)
                        fail_msg("bit %d of byte %zu flipped: accepted", bit,
                                 pos);
                assert_true(fx->err[0] != '\0');
                buf.data[pos] ^= (char)(1 << bit);
        }
        /* A flip in the payload is reported as a checksum mismatch. */
        buf.data[buf.len - 40] ^= 0x10;
        assert_refused(fx, &buf, "checksum mismatch");
        ls_buf_free(&buf);
}

static void test_truncations(void **state) {
        fx_t *fx = *state;
        ls_buf_t buf;
        size_t len;

        ls_buf_init(&buf);
        encode(fx, &buf);
        for (len = 0; len < buf.len; len++) {
                assert_int_equal(decode(fx, &buf, len), LS_ERR_INVALID);
                if (!strstr(fx->err, "truncated"))
                        fail_msg("length %zu of %zu: \"%s\"", len, buf.len,
                                 fx->err);
        }
        /* Trailing bytes are corruption too. */
        assert_int_equal(ls_buf_append(&buf, "x", 1), LS_OK);
        assert_refused(fx, &buf, "trailing data");
        ls_buf_free(&buf);
}

static void test_wrong_format_and_magic(void **state) {
        fx_t *fx = *state;
        ls_buf_t buf;

        ls_buf_init(&buf);
        encode(fx, &buf);
        buf.data[8] = 7; /* format version, little endian u32 */
        assert_int_equal(decode(fx, &buf, buf.len), LS_ERR_INVALID);
        assert_string_equal(fx->err, "format version 7 is not supported (this "
                                     "build reads version 2)");
        buf.data[8] = 2;
        buf.data[0] = 'X';
        assert_refused(fx, &buf, "not a leadscore snapshot");
        ls_buf_free(&buf);
}

static void write_file(const char *path, const void *data, size_t len) {
        FILE *fp = fopen(path, "wb");

        assert_non_null(fp);
        assert_int_equal(fwrite(data, 1, len, fp), len);
        assert_int_equal(fclose(fp), 0);
}

static void test_fallback_to_older(void **state) {
        fx_t *fx = *state;
        ls_snapshot_meta_t meta;
        ls_shard_t *sh = NULL;
        ls_modelset_t *msb;
        ls_buf_t buf, img;
        char p1[600], p2[600], p3[600], p4[600], got[600];

        write_snap(fx, 100, 10, p1, sizeof(p1));
        apply_events(fx->sh, 50, 60, 7);
        write_snap(fx, 110, 10, p2, sizeof(p2));
        apply_events(fx->sh, 60, 70, 7);
        write_snap(fx, 120, 10, p3, sizeof(p3));

        /* Newest (p3): truncated; p2: one bit flipped. */
        ls_buf_init(&buf);
        assert_int_equal(
                ls_snapshot_read_file(p3, &buf, fx->err, sizeof(fx->err)),
                LS_OK);
        write_file(p3, buf.data, buf.len / 2);
        ls_buf_reset(&buf);
        assert_int_equal(
                ls_snapshot_read_file(p2, &buf, fx->err, sizeof(fx->err)),
                LS_OK);
        buf.data[buf.len / 2] ^= 1;
        write_file(p2, buf.data, buf.len);

        assert_int_equal(restore_grp3(fx, fx->ms, &meta, &sh, got, sizeof(got)),
                         LS_OK);
        assert_string_equal(got, p1);
        assert_int_equal(meta.offsets[0], 100);
        assert_int_equal(fx->n_reports, 2);
        assert_non_null(strstr(fx->reports[0], p3));
        assert_non_null(strstr(fx->reports[0], "truncated"));
        assert_non_null(strstr(fx->reports[1], p2));
        assert_non_null(strstr(fx->reports[1], "checksum mismatch"));
        ls_shard_destroy(sh);

        /* Under another model set version, the newest valid file is
         * loaded with the model set it carries and migrated: the leads
         * and their sequence numbers carry over (no id is reused). */
        msb = load_model(MODEL_B);
        assert_string_not_equal(msb->version, fx->ms->version);
        fx->n_reports = 0;
        assert_int_equal(restore_grp3(fx, msb, &meta, &sh, got, sizeof(got)),
                         LS_OK);
        assert_string_equal(got, p1);
        assert_string_equal(meta.migrated_from, fx->ms->version);
        assert_ptr_equal(ls_shard_modelset(sh), msb);
        {
                ls_lead_view_t v;
                ls_shard_stats_t st;

                ls_shard_stats(sh, &st);
                assert_int_equal(st.leads, 7);
                assert_int_equal(ls_shard_lead(sh, "lead-0", 0, &v), LS_OK);
                assert_true(v.seq > 0);
        }
        assert_int_equal(fx->n_reports, 2);
        ls_shard_destroy(sh);
        sh = NULL;

        /* A valid file of other topics is refused too. */
        {
                const char *other[2] = {"ev", "other"};
                fx->n_reports = 0;
                assert_int_equal(ls_snapshot_restore(fx->dir, "grp", 3, other,
                                                     fx->ms, report_cb, fx,
                                                     &meta, &sh, NULL, 0,
                                                     fx->err, sizeof(fx->err)),
                                 LS_ERR_NOT_FOUND);
                assert_non_null(strstr(fx->reports[2], "topics ev / pr"));
        }
        /* Another partition / group: no files at all. */
        assert_int_equal(ls_snapshot_restore(fx->dir, "grp", 4, TOPICS, fx->ms,
                                             NULL, NULL, &meta, &sh, NULL, 0,
                                             fx->err, sizeof(fx->err)),
                         LS_ERR_NOT_FOUND);
        assert_int_equal(ls_snapshot_restore("/nonexistent/ls", "grp", 3,
                                             TOPICS, fx->ms, NULL, NULL, &meta,
                                             &sh, NULL, 0, fx->err,
                                             sizeof(fx->err)),
                         LS_ERR_NOT_FOUND);

        /* A valid header whose state the engine refuses (taken under
         * another model set, header forged to the running version). */
        ls_buf_init(&img);
        {
                ls_snapshot_meta_t m;
                ls_shard_t *other = ls_shard_new(msb);
                apply_events(other, 0, 5, 2);
                fill_meta(fx, &m, 5, 5);
                assert_int_equal(ls_snapshot_encode(&m, other, &img), LS_OK);
                ls_shard_destroy(other);
                ls_snapshot_path(fx->dir, "grp", 3, 50, p4, sizeof(p4));
                write_file(p4, img.data, img.len);
        }
        fx->n_reports = 0;
        assert_int_equal(restore_grp3(fx, fx->ms, &meta, &sh, got, sizeof(got)),
                         LS_OK);
        assert_string_equal(got, p1);
        assert_non_null(strstr(fx->reports[0], p4));
        assert_non_null(strstr(fx->reports[0], "state rejected"));
        ls_shard_destroy(sh);
        ls_buf_free(&img);
        ls_modelset_destroy(msb);
        ls_buf_free(&buf);
}

static int count_files(const char *dir, const char *suffix) {
        DIR *d = opendir(dir);
        struct dirent *de;
        int n = 0;
        size_t sl = strlen(suffix);

        assert_non_null(d);
        while ((de = readdir(d))) {
                size_t l = strlen(de->d_name);
                if (l >= sl && !strcmp(de->d_name + l - sl, suffix))
                        n++;
        }
        closedir(d);
        return n;
}

static void test_keep_pruning(void **state) {
        fx_t *fx = *state;
        uint64_t *seqs = NULL;
        size_t n = 0;
        char path[600];
        int i;

        for (i = 0; i < 6; i++) {
                apply_events(fx->sh, 50 + i, 51 + i, 7);
                write_snap(fx, 100 + i, 2, path, sizeof(path));
        }
        assert_int_equal(ls_snapshot_list(fx->dir, "grp", 3, &seqs, &n, fx->err,
                                          sizeof(fx->err)),
                         LS_OK);
        assert_int_equal(n, 2);
        assert_int_equal(seqs[0], 6);
        assert_int_equal(seqs[1], 5);
        ls_free(seqs);
        assert_int_equal(count_files(fx->dir, ".lssnap"), 2);
        /* keep 1 leaves only the newest */
        write_snap(fx, 200, 1, path, sizeof(path));
        assert_int_equal(count_files(fx->dir, ".lssnap"), 1);
        assert_non_null(strstr(path, "-000000000007.lssnap"));
        assert_int_equal(count_files(fx->dir, ".tmp"), 0);
}

/* The temp file is private and never written through a link planted
 * under its name. */
static void test_temp_file_is_private(void **state) {
        fx_t *fx = *state;
        char p1[600], tmp[700], target[700];
        struct stat st;
        FILE *fp;
        char back[16] = {0};

        write_snap(fx, 100, 3, p1, sizeof(p1));
        assert_int_equal(stat(p1, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(stat(fx->dir, &st), 0);
        assert_int_equal(st.st_mode & 0077, 0);
        snprintf(target, sizeof(target), "%s/victim", fx->dir);
        write_file(target, "keep", 4);
        snprintf(tmp, sizeof(tmp), "%s/.grp-3-000000000002.lssnap.%ld.tmp",
                 fx->dir, (long)getpid());
        assert_int_equal(symlink(target, tmp), 0);
        write_snap(fx, 101, 3, p1, sizeof(p1));
        assert_non_null(strstr(p1, "-000000000002.lssnap"));
        assert_non_null(fp = fopen(target, "rb"));
        assert_int_equal(fread(back, 1, sizeof(back) - 1, fp), 4);
        fclose(fp);
        assert_string_equal(back, "keep");
        assert_int_equal(lstat(p1, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        /* only the planted link is left: the write's own temp file went */
        assert_int_equal(count_files(fx->dir, ".tmp"), 1);
        assert_int_equal(lstat(tmp, &st), 0);
        assert_true(S_ISLNK(st.st_mode));
        unlink(tmp);
        unlink(target);
}

static void test_temp_file_ignored(void **state) {
        fx_t *fx = *state;
        ls_snapshot_meta_t meta;
        ls_shard_t *sh = NULL;
        ls_buf_t buf;
        char p1[600], tmp[700], got[600];

        write_snap(fx, 100, 3, p1, sizeof(p1));
        /* A crash in the middle of writing seq 2 leaves its temp file: a
         * complete, valid image under the temp name, and a partial one. */
        ls_buf_init(&buf);
        encode(fx, &buf);
        snprintf(tmp, sizeof(tmp), "%s/.grp-3-000000000002.lssnap.tmp",
                 fx->dir);
        write_file(tmp, buf.data, buf.len / 3);
        snprintf(tmp, sizeof(tmp), "%s/.grp-3-000000000009.lssnap.tmp",
                 fx->dir);
        write_file(tmp, buf.data, buf.len);
        assert_int_equal(restore_grp3(fx, fx->ms, &meta, &sh, got, sizeof(got)),
                         LS_OK);
        assert_string_equal(got, p1);
        assert_int_equal(fx->n_reports, 0);
        ls_shard_destroy(sh);
        /* The next write does not count temp files either. */
        write_snap(fx, 101, 3, p1, sizeof(p1));
        assert_non_null(strstr(p1, "-000000000002.lssnap"));
        /* Names that only look similar are not snapshots of grp-3. */
        snprintf(tmp, sizeof(tmp), "%s/grp-3-12x.lssnap", fx->dir);
        write_file(tmp, buf.data, buf.len);
        snprintf(tmp, sizeof(tmp), "%s/grp-33-000000000050.lssnap", fx->dir);
        write_file(tmp, buf.data, buf.len);
        {
                uint64_t *seqs = NULL;
                size_t n = 0;
                assert_int_equal(ls_snapshot_list(fx->dir, "grp", 3, &seqs, &n,
                                                  fx->err, sizeof(fx->err)),
                                 LS_OK);
                assert_int_equal(n, 2);
                assert_int_equal(seqs[0], 2);
                ls_free(seqs);
        }
        ls_buf_free(&buf);
}

static void test_write_error_names_file(void **state) {
        fx_t *fx = *state;
        ls_snapshot_meta_t meta;
        char path[600];

        fill_meta(fx, &meta, 1, 1);
        /* A regular file where the directory should be. */
        snprintf(path, sizeof(path), "%s/afile", fx->dir);
        write_file(path, "x", 1);
        assert_int_equal(ls_snapshot_write(path, &meta, fx->sh, 3, &fx->scratch,
                                           NULL, 0, fx->err, sizeof(fx->err)),
                         LS_ERR_IO);
        assert_non_null(strstr(fx->err, path));
}

/* ls_snapshot_write_file: one named file (replay's saved state), written
 * atomically, read back and verified; a failed write names the file and
 * leaves nothing under its name. */
static void test_write_file(void **state) {
        fx_t *fx = *state;
        ls_snapshot_meta_t meta, back;
        const void *payload;
        ls_shard_t *sh;
        ls_buf_t buf;
        char path[600], missing[700], why[512];
        struct stat st;

        ls_buf_init(&buf);
        snprintf(path, sizeof(path), "%s/state", fx->dir);
        fill_meta(fx, &meta, LS_SNAPSHOT_EARLIEST, LS_SNAPSHOT_EARLIEST);
        assert_int_equal(ls_snapshot_write_file(path, &meta, fx->sh,
                                                &fx->scratch, fx->err,
                                                sizeof(fx->err)),
                         LS_OK);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        /* written again over the first: replaced, no temp file left */
        apply_events(fx->sh, 50, 60, 7);
        assert_int_equal(ls_snapshot_write_file(path, &meta, fx->sh,
                                                &fx->scratch, fx->err,
                                                sizeof(fx->err)),
                         LS_OK);
        assert_int_equal(count_files(fx->dir, ".tmp"), 0);
        assert_int_equal(ls_snapshot_read_file(path, &buf, why, sizeof(why)),
                         LS_OK);
        assert_int_equal(ls_snapshot_decode(buf.data, buf.len, &back, &payload,
                                            why, sizeof(why)),
                         LS_OK);
        assert_string_equal(back.group, "grp");
        assert_int_equal(back.partition, 3);
        assert_int_equal(back.offsets[0], LS_SNAPSHOT_EARLIEST);
        assert_int_equal(back.leads, meta.leads);
        sh = ls_shard_load(fx->ms, payload, (size_t)back.payload_len, why,
                           sizeof(why));
        assert_non_null(sh);
        assert_int_equal(ls_shard_stream_time(sh),
                         ls_shard_stream_time(fx->sh));
        ls_shard_destroy(sh);
        /* a directory that does not exist: nothing is created */
        snprintf(missing, sizeof(missing), "%s/none/state", fx->dir);
        assert_int_equal(ls_snapshot_write_file(missing, &meta, fx->sh,
                                                &fx->scratch, fx->err,
                                                sizeof(fx->err)),
                         LS_ERR_IO);
        assert_non_null(strstr(fx->err, "/none/"));
        assert_int_not_equal(stat(missing, &st), 0);
        /* a name that is a directory's */
        snprintf(missing, sizeof(missing), "%s/", fx->dir);
        assert_int_equal(ls_snapshot_write_file(missing, &meta, fx->sh,
                                                &fx->scratch, fx->err,
                                                sizeof(fx->err)),
                         LS_ERR_IO);
        assert_non_null(strstr(fx->err, missing));
        ls_buf_free(&buf);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_round_trip, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_bit_flips, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_truncations, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_wrong_format_and_magic,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_fallback_to_older, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_keep_pruning, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_temp_file_is_private,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_temp_file_ignored, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_write_error_names_file,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_file, setup,
                                                teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
