/*
 * ls_snapshot.h - durable snapshots of one shard: state + input offsets.
 *
 * A snapshot file holds one shard's ls_shard_save() image together with
 * what is needed to resume it: the next input offset of each input topic
 * partition feeding the shard (events p and profiles p), its stream time
 * and the model set version it was taken under. Layout (little endian):
 *
 *   magic "LSSNAP\r\n" (8) | u32 format (LS_SNAPSHOT_FORMAT)
 *   u16 len + model set version | u16 len + group
 *   u16 len + events topic | u16 len + profiles topic
 *   i32 partition | i64 next offset events | i64 next offset profiles
 *   i64 stream time | u64 leads | i64 creation time (wall clock, ms)
 *   u64 sequence number | u64 payload length
 *   payload (ls_shard_save image)
 *   u64 source length | the model set's source (ls_modelset_source(): its
 *   YAML and lists, so that a restart under another model set migrates
 *   the state instead of dropping it)
 *   SHA-256 of every byte above (32)
 *
 * Files are named <dir>/<group>-<partition>-<seq>.lssnap (seq zero padded
 * to 12 digits, newest = highest) and written atomically: a temp file
 * ".<name>.<random>.tmp" in the same directory (mkstemps: created anew,
 * mode 0600; the directory is made 0700), write, fsync, rename, fsync of
 * the directory. Temp files never match the name pattern, so a crash during a
 * write never exposes a partial file to the loader.
 *
 * Threading: no shared state; the functions may run on any thread.
 */
#ifndef LS_SNAPSHOT_H
#define LS_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "leadscore/ls_buf.h"
#include "leadscore/ls_engine.h"
#include "leadscore/ls_err.h"
#include "leadscore/ls_model.h"

#define LS_SNAPSHOT_FORMAT 2
#define LS_SNAPSHOT_MAGIC "LSSNAP\r\n"
#define LS_SNAPSHOT_NAME_MAX 256  /* topic, group, version strings */
#define LS_SNAPSHOT_EARLIEST (-1) /* offset: start from the earliest */
#define LS_SNAPSHOT_SUFFIX ".lssnap"

/** What a snapshot says about itself (the header). */
typedef struct ls_snapshot_meta_s {
        uint32_t format;
        char model_version[LS_SNAPSHOT_NAME_MAX];
        char group[LS_SNAPSHOT_NAME_MAX];
        char topics[2][LS_SNAPSHOT_NAME_MAX]; /* [0] events, [1] profiles */
        int32_t partition;
        int64_t offsets[2];   /* next input offset of topics[i] partition,
                               * or LS_SNAPSHOT_EARLIEST */
        int64_t stream_time;  /* of the shard (INT64_MIN before any input) */
        uint64_t leads;       /* leads in the shard */
        int64_t created_ms;   /* wall clock; for humans only */
        uint64_t seq;         /* sequence number in the file name */
        uint64_t payload_len; /* bytes of the ls_shard_save image */
        uint64_t source_len;  /* bytes of the model set's source */
        char migrated_from[LS_SNAPSHOT_NAME_MAX]; /* restore: the model set
                                 * version the state was migrated from,
                                 * "" when it was taken under this one */
} ls_snapshot_meta_t;

/** The model set source of a decoded snapshot whose payload is at
 *  @p payload (ls_snapshot_decode()). */
static inline const void *ls_snapshot_source(const void *payload,
                                             const ls_snapshot_meta_t *meta) {
        return (const char *)payload + meta->payload_len + 8;
}

/**
 * Called for each snapshot file the loader rejects, with its path and
 * why (one line, no newline).
 */
typedef void(ls_snapshot_report_cb)(void *opaque, const char *path,
                                    const char *why);

/**
 * Appends the whole snapshot file image of @p shard to @p out: the
 * header from @p meta (format, stream time, leads and payload_len are
 * filled in by this call), the payload and the checksum.
 * @returns LS_OK or LS_ERR_NOMEM (out may then hold a partial image).
 */
ls_err_t ls_snapshot_encode(ls_snapshot_meta_t *meta, const ls_shard_t *shard,
                            ls_buf_t *out);

/**
 * Parses and verifies a snapshot file image: magic, format version,
 * lengths (truncation), checksum. Does not load the shard.
 * @returns LS_OK with *meta filled and *payloadp pointing into @p data,
 *          or LS_ERR_INVALID with errstr saying why ("truncated: ...",
 *          "checksum mismatch ...", "format version 7 is not supported
 *          ...", "not a leadscore snapshot ...").
 */
ls_err_t ls_snapshot_decode(const void *data, size_t len,
                            ls_snapshot_meta_t *meta, const void **payloadp,
                            char *errstr, size_t errstr_size);

/** Reads a whole file into @p buf. @returns LS_OK or LS_ERR_IO (errstr). */
ls_err_t ls_snapshot_read_file(const char *path, ls_buf_t *buf, char *errstr,
                               size_t errstr_size);

/**
 * Lists the snapshot files of (@p group, @p partition) in @p dir by
 * sequence number, newest first. Temp files and other names are ignored.
 * @returns LS_OK with *seqsp (ls_free() it; NULL when none) and *np;
 *          a missing directory is an empty list; LS_ERR_IO or
 *          LS_ERR_NOMEM with errstr otherwise.
 */
ls_err_t ls_snapshot_list(const char *dir, const char *group, int32_t partition,
                          uint64_t **seqsp, size_t *np, char *errstr,
                          size_t errstr_size);

/** Writes "<dir>/<group>-<partition>-<seq>.lssnap" into @p buf. */
int ls_snapshot_path(const char *dir, const char *group, int32_t partition,
                     uint64_t seq, char *buf, size_t size);

/**
 * Writes a snapshot of @p shard atomically to @p dir (created if
 * missing), with the next sequence number (1 + the highest existing), then
 * deletes all but the newest @p keep (>= 1) snapshots of the partition.
 * @p meta names group, topics, partition, offsets and model version; its
 * seq, format, stream time, payload_len and created_ms are set by this
 * call. @p scratch is a reusable buffer. The written path goes to @p path
 * (may be NULL).
 * @returns LS_OK once the file and its directory entry are on disk;
 *          LS_ERR_IO (nothing visible under the final name) or
 *          LS_ERR_NOMEM, with errstr naming the file and the cause.
 */
ls_err_t ls_snapshot_write(const char *dir, ls_snapshot_meta_t *meta,
                           const ls_shard_t *shard, int keep, ls_buf_t *scratch,
                           char *path, size_t path_size, char *errstr,
                           size_t errstr_size);

/**
 * Writes a snapshot of @p shard to exactly @p path (not a name of the
 * directory scheme above; replay's --save-state), atomically as
 * ls_snapshot_write() does: a new temp file beside it, write, fsync,
 * rename over @p path, fsync of the directory. The directory must exist.
 * @p meta as for ls_snapshot_encode(); created_ms is set by this call,
 * seq is written as given. @p scratch is a reusable buffer.
 * @returns LS_OK once the file and its directory entry are on disk;
 *          LS_ERR_IO (a file already at @p path is left as it was) or
 *          LS_ERR_NOMEM, with errstr naming the file and the cause.
 */
ls_err_t ls_snapshot_write_file(const char *path, ls_snapshot_meta_t *meta,
                                const ls_shard_t *shard, ls_buf_t *scratch,
                                char *errstr, size_t errstr_size);

/**
 * Loads one snapshot image (a file's bytes) of (@p group, @p partition,
 * @p topics) under @p ms: decoded and verified, the shard loaded with
 * every value checked, or migrated when it was taken under another model
 * set (meta->migrated_from). @returns LS_OK with *shardp (the caller's),
 * or an error with @p why saying why the image is unusable.
 */
ls_err_t ls_snapshot_load_image(const void *data, size_t len, const char *group,
                                int32_t partition, const char *const topics[2],
                                const ls_modelset_t *ms,
                                ls_snapshot_meta_t *meta, ls_shard_t **shardp,
                                char *why, size_t why_size);

/**
 * Restores the newest valid snapshot of (@p group, @p partition) from
 * @p dir. Files are tried newest first; one that is truncated, corrupt
 * (checksum), of another format version, of other topics / partition, or
 * that ls_shard_load() rejects is reported through @p report (may be
 * NULL) and the next older is tried. A snapshot taken under another model
 * set is loaded with the set it carries and migrated to @p ms as a model
 * reload does (ls_shard_migrate()); meta->migrated_from then names the
 * old version.
 * @returns LS_OK with *shardp (the caller owns it), *meta and the file's
 *          path in @p path (may be NULL); LS_ERR_NOT_FOUND when no file
 *          is usable (*shardp = NULL; @p report heard of each file that
 *          was there: zero reports means there was none); LS_ERR_IO /
 *          LS_ERR_NOMEM with errstr when the directory cannot be listed.
 *          A failure of one file, I/O and memory included, is a report.
 */
ls_err_t ls_snapshot_restore(const char *dir, const char *group,
                             int32_t partition, const char *const topics[2],
                             const ls_modelset_t *ms,
                             ls_snapshot_report_cb *report, void *opaque,
                             ls_snapshot_meta_t *meta, ls_shard_t **shardp,
                             char *path, size_t path_size, char *errstr,
                             size_t errstr_size);

#endif /* LS_SNAPSHOT_H */
