/*
 * ls_replay_state.c - the shards of a replay and their state: the
 * partitions' shards, the first model set's started from --snapshot, and
 * the final state written by --save-state.
 */
#include "replay/ls_replay_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "leadscore/ls_alloc.h"

/* ----------------------------------------------------------- the shards */

static ls_err_t ls_rp_read_file(const char *path, ls_buf_t *buf, char *errstr,
                                size_t errstr_size) {
        char chunk[65536];
        size_t n;
        FILE *fp = fopen(path, "rb");

        if (!fp)
                return ls_seterr(errstr, errstr_size, LS_ERR_IO, "%s: %s", path,
                                 strerror(errno));
        while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
                if (ls_buf_append(buf, chunk, n)) {
                        fclose(fp);
                        return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                         "%s: out of memory", path);
                }
        if (ferror(fp)) {
                fclose(fp);
                return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                 "%s: read error", path);
        }
        fclose(fp);
        return LS_OK;
}

/**
 * Creates the shards of every partition; model set 0 starts from the
 * snapshot: a file of ls_shard_save() bytes (one shard) or a directory
 * of <partition>.state files.
 */
static ls_err_t ls_rp_make_shards(ls_replay_t *rp, char *errstr,
                                  size_t errstr_size) {
        const char *snap = rp->conf.snapshot;
        struct stat st;
        int is_dir = 0;
        int32_t p;
        size_t s;

        if (snap) {
                if (stat(snap, &st) != 0)
                        return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                         "--snapshot %s: %s", snap,
                                         strerror(errno));
                is_dir = S_ISDIR(st.st_mode);
                if (!is_dir && rp->n_parts > 1)
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "--snapshot %s: a file holds one "
                                         "shard but the input has %" PRId32
                                         " partitions; give a directory of "
                                         "<partition>.state files",
                                         snap, rp->n_parts);
        }
        for (p = 0; p < rp->n_parts; p++) {
                ls_rp_part_t *part = &rp->parts[p];
                for (s = 0; s < rp->conf.n_ms; s++) {
                        char path[4096], why[512];
                        ls_buf_t buf;
                        /* Only the first model's shards come from the
                         * snapshot; a directory may lack a partition. */
                        int fresh = s > 0 || !snap;

                        if (!fresh && is_dir) {
                                snprintf(path, sizeof(path),
                                         "%s/%" PRId32 ".state", snap, p);
                                fresh = access(path, F_OK) != 0;
                        } else if (!fresh) {
                                snprintf(path, sizeof(path), "%s", snap);
                        }
                        if (fresh) {
                                part->shard[s] = ls_shard_new(rp->conf.ms[s]);
                                if (!part->shard[s])
                                        return ls_seterr(errstr, errstr_size,
                                                         LS_ERR_NOMEM,
                                                         "out of memory");
                                continue;
                        }
                        ls_buf_init(&buf);
                        if (ls_rp_read_file(path, &buf, errstr, errstr_size)) {
                                ls_buf_free(&buf);
                                return LS_ERR_IO;
                        }
                        part->shard[s] = ls_shard_load(
                                rp->conf.ms[s], buf.data ? buf.data : "",
                                buf.len, why, sizeof(why));
                        ls_buf_free(&buf);
                        if (!part->shard[s])
                                return ls_seterr(
                                        errstr, errstr_size, LS_ERR_INVALID,
                                        "--snapshot %s: %s", path, why);
                }
        }
        return LS_OK;
}

ls_err_t ls_rp_alloc_parts(ls_replay_t *rp, int32_t n, char *errstr,
                           size_t errstr_size) {
        int32_t p;

        rp->parts = ls_calloc((size_t)n, sizeof(*rp->parts));
        rp->queue = ls_calloc((size_t)n, sizeof(*rp->queue));
        if (!rp->parts || !rp->queue)
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "out of memory");
        rp->n_parts = n;
        for (p = 0; p < n; p++) {
                rp->parts[p].p = p;
                ls_buf_init(&rp->parts[p].data);
                ls_buf_init(&rp->parts[p].out[0]);
                ls_buf_init(&rp->parts[p].out[1]);
                ls_buf_init(&rp->parts[p].blk[0]);
                ls_buf_init(&rp->parts[p].blk[1]);
        }
        return ls_rp_make_shards(rp, errstr, errstr_size);
}

ls_err_t ls_rp_save_state(ls_replay_t *rp, char *errstr, size_t errstr_size) {
        const char *dst = rp->conf.save_state;
        char path[4096];
        ls_buf_t buf;
        int32_t p;
        FILE *fp;
        ls_err_t err = LS_OK;

        if (rp->n_parts > 1 && mkdir(dst, 0777) != 0 && errno != EEXIST)
                return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                 "--save-state %s: %s", dst, strerror(errno));
        ls_buf_init(&buf);
        for (p = 0; p < rp->n_parts && !err; p++) {
                if (rp->n_parts > 1)
                        snprintf(path, sizeof(path), "%s/%" PRId32 ".state",
                                 dst, p);
                else
                        snprintf(path, sizeof(path), "%s", dst);
                ls_buf_reset(&buf);
                if (ls_shard_save(rp->parts[p].shard[0], &buf)) {
                        err = ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                        "out of memory saving state");
                        break;
                }
                if (!(fp = fopen(path, "wb")) ||
                    fwrite(buf.data, 1, buf.len, fp) != buf.len ||
                    fclose(fp) != 0) {
                        err = ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                        "--save-state %s: %s", path,
                                        strerror(errno));
                        fp = NULL;
                }
        }
        ls_buf_free(&buf);
        return err;
}
