/*
 * ls_replay_state.c - the shards of a replay and their state: the
 * partitions' shards, the first model set's started from --snapshot, and
 * the final state written by --save-state. Both go through the snapshot
 * module (ls_snapshot.h): a saved state file is a snapshot file, written
 * atomically (temp file, fsync, rename) and verified by its checksum
 * before it is loaded, so a cut-short or corrupt file is refused, never
 * half loaded.
 */
#include "replay/ls_replay_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_snapshot.h"

/* The group named in saved state files (`leadscore snapshot inspect`). */
#define LS_RP_STATE_GROUP "leadscore-replay"

/* ----------------------------------------------------------- the shards */

/**
 * Loads one saved state file into a shard of @p ms: read, verified by the
 * snapshot module (magic, format version, lengths, checksum), then the
 * shard image checked value by value; a state saved under another model
 * set version is refused.
 */
static ls_err_t ls_rp_load_state(const char *path, const ls_modelset_t *ms,
                                 ls_shard_t **shardp, char *errstr,
                                 size_t errstr_size) {
        ls_snapshot_meta_t meta;
        const void *payload;
        char why[512];
        ls_buf_t buf;
        ls_err_t err;

        ls_buf_init(&buf);
        if ((err = ls_snapshot_read_file(path, &buf, why, sizeof(why)))) {
                ls_buf_free(&buf);
                return ls_seterr(errstr, errstr_size, err, "--snapshot %s",
                                 why);
        }
        err = ls_snapshot_decode(buf.data ? buf.data : "", buf.len, &meta,
                                 &payload, why, sizeof(why));
        if (!err &&
            !(*shardp = ls_shard_load(ms, payload, (size_t)meta.payload_len,
                                      why, sizeof(why))))
                err = LS_ERR_INVALID;
        ls_buf_free(&buf);
        if (err)
                return ls_seterr(errstr, errstr_size, err, "--snapshot %s: %s",
                                 path, why);
        return LS_OK;
}

/**
 * Creates the shards of every partition; model set 0 starts from the
 * saved state: a file (one shard) or a directory of <partition>.state
 * files.
 */
static ls_err_t ls_rp_make_shards(ls_replay_t *rp, char *errstr,
                                  size_t errstr_size) {
        const char *snap = rp->conf.snapshot;
        struct stat st;
        int is_dir = 0;
        int32_t p;
        size_t s;
        ls_err_t err;

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
                        char path[4096];
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
                        if ((err = ls_rp_load_state(path, rp->conf.ms[s],
                                                    &part->shard[s], errstr,
                                                    errstr_size)))
                                return err;
                }
                for (s = 0; s < rp->conf.n_ms; s++)
                        if (part->shard[s])
                                ls_shard_set_observer(part->shard[s],
                                                      &rp->conf.shard_observer);
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
        ls_snapshot_meta_t meta;
        char path[4096], why[1024];
        ls_buf_t buf;
        int32_t p;
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
                /* A snapshot file of its own: the model set version and
                 * source, where it came from; no resume offsets (a replay
                 * state is a start for another replay, not for `run`). */
                memset(&meta, 0, sizeof(meta));
                snprintf(meta.model_version, sizeof(meta.model_version), "%s",
                         rp->conf.ms[0]->version);
                snprintf(meta.group, sizeof(meta.group), "%s",
                         LS_RP_STATE_GROUP);
                snprintf(meta.topics[0], sizeof(meta.topics[0]), "%s",
                         rp->conf.topic_events ? rp->conf.topic_events : "");
                snprintf(meta.topics[1], sizeof(meta.topics[1]), "%s",
                         rp->conf.topic_profiles ? rp->conf.topic_profiles
                                                 : "");
                meta.partition = p;
                meta.offsets[0] = meta.offsets[1] = LS_SNAPSHOT_EARLIEST;
                if ((err = ls_snapshot_write_file(path, &meta,
                                                  rp->parts[p].shard[0], &buf,
                                                  why, sizeof(why))))
                        ls_seterr(errstr, errstr_size, err, "--save-state %s",
                                  why);
        }
        ls_buf_free(&buf);
        return err;
}
