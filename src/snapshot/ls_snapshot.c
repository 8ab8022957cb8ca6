/*
 * ls_snapshot.c - snapshot files: encode / verify, atomic write, keep-K
 * pruning, restore of the newest valid one. The file format is described
 * in ls_snapshot.h; the checksum is SHA-256 (OpenSSL EVP).
 */
#include "leadscore/ls_snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "leadscore/ls_alloc.h"

#define LS_SNAP_HASH_LEN 32
#define LS_SNAP_MAGIC_LEN 8

/* ------------------------------------------------------------- encoding */

static ls_err_t ls_snap_put(ls_buf_t *b, uint64_t v, int bytes) {
        unsigned char tmp[8];
        int i;

        for (i = 0; i < bytes; i++)
                tmp[i] = (unsigned char)(v >> (8 * i));
        return ls_buf_append(b, tmp, (size_t)bytes);
}

static ls_err_t ls_snap_put_str(ls_buf_t *b, const char *s) {
        size_t n = strnlen(s, LS_SNAPSHOT_NAME_MAX - 1);

        if (ls_snap_put(b, n, 2))
                return LS_ERR_NOMEM;
        return ls_buf_append(b, s, n);
}

static int ls_snap_sha256(const void *data, size_t len,
                          unsigned char out[LS_SNAP_HASH_LEN]) {
        unsigned int n = 0;

        return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 &&
                               n == LS_SNAP_HASH_LEN
                       ? 0
                       : -1;
}

ls_err_t ls_snapshot_encode(ls_snapshot_meta_t *meta, const ls_shard_t *shard,
                            ls_buf_t *out) {
        size_t start = out->len, len_pos, payload_start;
        unsigned char hash[LS_SNAP_HASH_LEN];
        uint64_t payload_len;
        int i;
        ls_err_t err = LS_OK;

        meta->format = LS_SNAPSHOT_FORMAT;
        meta->stream_time = ls_shard_stream_time(shard);
        {
                ls_shard_stats_t st;
                ls_shard_stats(shard, &st);
                meta->leads = st.leads;
        }
        err |= ls_buf_append(out, LS_SNAPSHOT_MAGIC, LS_SNAP_MAGIC_LEN);
        err |= ls_snap_put(out, LS_SNAPSHOT_FORMAT, 4);
        err |= ls_snap_put_str(out, meta->model_version);
        err |= ls_snap_put_str(out, meta->group);
        err |= ls_snap_put_str(out, meta->topics[0]);
        err |= ls_snap_put_str(out, meta->topics[1]);
        err |= ls_snap_put(out, (uint32_t)meta->partition, 4);
        for (i = 0; i < 2; i++)
                err |= ls_snap_put(out, (uint64_t)meta->offsets[i], 8);
        err |= ls_snap_put(out, (uint64_t)meta->stream_time, 8);
        err |= ls_snap_put(out, meta->leads, 8);
        err |= ls_snap_put(out, (uint64_t)meta->created_ms, 8);
        err |= ls_snap_put(out, meta->seq, 8);
        len_pos = out->len;
        err |= ls_snap_put(out, 0, 8); /* payload length, patched below */
        if (err)
                return LS_ERR_NOMEM;
        payload_start = out->len;
        if (ls_shard_save(shard, out))
                return LS_ERR_NOMEM;
        payload_len = out->len - payload_start;
        meta->payload_len = payload_len;
        for (i = 0; i < 8; i++)
                out->data[len_pos + (size_t)i] =
                        (char)(unsigned char)(payload_len >> (8 * i));
        {
                const ls_buf_t *src =
                        ls_modelset_source(ls_shard_modelset(shard));

                meta->source_len = src->len;
                if (ls_snap_put(out, src->len, 8) ||
                    ls_buf_append(out, src->data ? src->data : "", src->len))
                        return LS_ERR_NOMEM;
        }
        if (ls_snap_sha256(out->data + start, out->len - start, hash))
                return LS_ERR_NOMEM;
        return ls_buf_append(out, hash, sizeof(hash));
}

/* ------------------------------------------------------------- decoding */

typedef struct ls_snap_rd_s {
        const unsigned char *p;
        size_t len, off;
} ls_snap_rd_t;

static int ls_snap_get(ls_snap_rd_t *r, int bytes, uint64_t *vp) {
        uint64_t v = 0;
        int i;

        if (r->len - r->off < (size_t)bytes)
                return -1;
        for (i = 0; i < bytes; i++)
                v |= (uint64_t)r->p[r->off + (size_t)i] << (8 * i);
        r->off += (size_t)bytes;
        *vp = v;
        return 0;
}

static int ls_snap_get_str(ls_snap_rd_t *r, char *dst) {
        uint64_t n;

        if (ls_snap_get(r, 2, &n))
                return -1;
        if (n >= LS_SNAPSHOT_NAME_MAX)
                return -2;
        if (r->len - r->off < n)
                return -1;
        memcpy(dst, r->p + r->off, n);
        dst[n] = '\0';
        r->off += n;
        return 0;
}

ls_err_t ls_snapshot_decode(const void *data, size_t len,
                            ls_snapshot_meta_t *meta, const void **payloadp,
                            char *errstr, size_t errstr_size) {
        ls_snap_rd_t r = {data, len, 0};
        unsigned char hash[LS_SNAP_HASH_LEN];
        uint64_t v = 0, total;
        char *strs[4];
        int i, rc;

        memset(meta, 0, sizeof(*meta));
        if (len < LS_SNAP_MAGIC_LEN + 4) {
                if (len < LS_SNAP_MAGIC_LEN &&
                    !memcmp(data, LS_SNAPSHOT_MAGIC, len))
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "truncated: %zu bytes, shorter than "
                                         "the header",
                                         len);
                if (len >= LS_SNAP_MAGIC_LEN &&
                    !memcmp(data, LS_SNAPSHOT_MAGIC, LS_SNAP_MAGIC_LEN))
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "truncated: %zu bytes, shorter than "
                                         "the header",
                                         len);
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "not a leadscore snapshot (%zu bytes, bad "
                                 "magic)",
                                 len);
        }
        if (memcmp(data, LS_SNAPSHOT_MAGIC, LS_SNAP_MAGIC_LEN))
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "not a leadscore snapshot (bad magic at byte "
                                 "0)");
        r.off = LS_SNAP_MAGIC_LEN;
        ls_snap_get(&r, 4, &v);
        meta->format = (uint32_t)v;
        if (meta->format != LS_SNAPSHOT_FORMAT)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "format version %" PRIu32 " is not supported "
                                 "(this build reads version %d)",
                                 meta->format, LS_SNAPSHOT_FORMAT);
        strs[0] = meta->model_version;
        strs[1] = meta->group;
        strs[2] = meta->topics[0];
        strs[3] = meta->topics[1];
        for (i = 0; i < 4; i++) {
                rc = ls_snap_get_str(&r, strs[i]);
                if (rc == -2)
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "corrupt header: string at byte %zu "
                                         "is too long",
                                         r.off);
                if (rc)
                        goto truncated;
        }
        if (ls_snap_get(&r, 4, &v))
                goto truncated;
        meta->partition = (int32_t)(uint32_t)v;
        for (i = 0; i < 2; i++) {
                if (ls_snap_get(&r, 8, &v))
                        goto truncated;
                meta->offsets[i] = (int64_t)v;
        }
        if (ls_snap_get(&r, 8, &v))
                goto truncated;
        meta->stream_time = (int64_t)v;
        if (ls_snap_get(&r, 8, &meta->leads))
                goto truncated;
        if (ls_snap_get(&r, 8, &v))
                goto truncated;
        meta->created_ms = (int64_t)v;
        if (ls_snap_get(&r, 8, &meta->seq) ||
            ls_snap_get(&r, 8, &meta->payload_len))
                goto truncated;
        if (meta->payload_len > len - r.off)
                goto truncated;
        {
                ls_snap_rd_t sr = {data, len, r.off + meta->payload_len};

                if (ls_snap_get(&sr, 8, &meta->source_len) ||
                    meta->source_len > len - sr.off)
                        goto truncated;
        }
        total = (uint64_t)r.off + meta->payload_len + 8 + meta->source_len +
                LS_SNAP_HASH_LEN;
        if (len < total)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "truncated: %zu bytes, the header announces "
                                 "%" PRIu64,
                                 len, total);
        if (len > total)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "corrupt: %zu bytes, the header announces "
                                 "%" PRIu64 " (trailing data)",
                                 len, total);
        if (ls_snap_sha256(data, len - LS_SNAP_HASH_LEN, hash))
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "cannot compute the checksum");
        if (memcmp(hash, (const unsigned char *)data + len - LS_SNAP_HASH_LEN,
                   LS_SNAP_HASH_LEN))
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "checksum mismatch (SHA-256 over %zu bytes): "
                                 "the file is corrupt",
                                 len - LS_SNAP_HASH_LEN);
        if (meta->offsets[0] < LS_SNAPSHOT_EARLIEST ||
            meta->offsets[1] < LS_SNAPSHOT_EARLIEST || meta->partition < 0)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "corrupt header: partition %" PRId32
                                 ", offsets %" PRId64 ", %" PRId64,
                                 meta->partition, meta->offsets[0],
                                 meta->offsets[1]);
        *payloadp = (const unsigned char *)data + r.off;
        return LS_OK;
truncated:
        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                         "truncated: %zu bytes, the header ends past the "
                         "end of the file",
                         len);
}

/* ---------------------------------------------------------------- files */

ls_err_t ls_snapshot_read_file(const char *path, ls_buf_t *buf, char *errstr,
                               size_t errstr_size) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        ssize_t n;

        if (fd < 0)
                return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                 "%s: cannot open: %s", path, strerror(errno));
        if (fstat(fd, &st) == 0 && st.st_size > 0 &&
            ls_buf_reserve(buf, (size_t)st.st_size + 1)) {
                close(fd);
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "%s: out of memory", path);
        }
        for (;;) {
                if (ls_buf_reserve(buf, 65536)) {
                        close(fd);
                        return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                         "%s: out of memory", path);
                }
                n = read(fd, buf->data + buf->len, buf->size - buf->len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int e = errno;
                        close(fd);
                        return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                         "%s: read error: %s", path,
                                         strerror(e));
                }
                if (n == 0)
                        break;
                buf->len += (size_t)n;
        }
        close(fd);
        return LS_OK;
}

int ls_snapshot_path(const char *dir, const char *group, int32_t partition,
                     uint64_t seq, char *buf, size_t size) {
        return snprintf(buf, size, "%s/%s-%" PRId32 "-%012" PRIu64 "%s", dir,
                        group, partition, seq, LS_SNAPSHOT_SUFFIX);
}

static int ls_snap_cmp_desc(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

        return x < y ? 1 : x > y ? -1 : 0;
}

ls_err_t ls_snapshot_list(const char *dir, const char *group, int32_t partition,
                          uint64_t **seqsp, size_t *np, char *errstr,
                          size_t errstr_size) {
        char prefix[LS_SNAPSHOT_NAME_MAX + 32];
        size_t plen, slen = strlen(LS_SNAPSHOT_SUFFIX), n = 0, cap = 0;
        uint64_t *seqs = NULL;
        struct dirent *de;
        DIR *d;

        *seqsp = NULL;
        *np = 0;
        snprintf(prefix, sizeof(prefix), "%s-%" PRId32 "-", group, partition);
        plen = strlen(prefix);
        d = opendir(dir);
        if (!d) {
                if (errno == ENOENT)
                        return LS_OK;
                return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                 "%s: cannot list: %s", dir, strerror(errno));
        }
        while ((de = readdir(d))) {
                const char *name = de->d_name, *digits;
                size_t len = strlen(name), i, nd;
                uint64_t seq = 0;

                if (len <= plen + slen || strncmp(name, prefix, plen) ||
                    strcmp(name + len - slen, LS_SNAPSHOT_SUFFIX))
                        continue;
                digits = name + plen;
                nd = len - plen - slen;
                for (i = 0; i < nd; i++) {
                        if (digits[i] < '0' || digits[i] > '9')
                                break;
                        seq = seq * 10 + (uint64_t)(digits[i] - '0');
                }
                if (i != nd || nd > 19)
                        continue;
                if (n == cap) {
                        size_t ncap = cap ? cap * 2 : 16;
                        uint64_t *ns = ls_realloc(seqs, ncap * sizeof(*ns));
                        if (!ns) {
                                closedir(d);
                                ls_free(seqs);
                                return ls_seterr(errstr, errstr_size,
                                                 LS_ERR_NOMEM,
                                                 "%s: out of memory", dir);
                        }
                        seqs = ns;
                        cap = ncap;
                }
                seqs[n++] = seq;
        }
        closedir(d);
        if (n > 1)
                qsort(seqs, n, sizeof(*seqs), ls_snap_cmp_desc);
        *seqsp = seqs;
        *np = n;
        return LS_OK;
}

static ls_err_t ls_snap_mkdirs(const char *dir, char *errstr,
                               size_t errstr_size) {
        char tmp[4096];
        size_t i, n = strlen(dir);

        if (n >= sizeof(tmp))
                return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                 "%s: path too long", dir);
        memcpy(tmp, dir, n + 1);
        for (i = 1; i <= n; i++) {
                if (tmp[i] != '/' && tmp[i] != '\0')
                        continue;
                tmp[i] = '\0';
                if (mkdir(tmp, 0700) && errno != EEXIST)
                        return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                         "%s: cannot create directory: %s", tmp,
                                         strerror(errno));
                if (i < n)
                        tmp[i] = '/';
        }
        return LS_OK;
}

static int ls_snap_write_all(int fd, const char *p, size_t len) {
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -1;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

static int ls_snap_fsync_dir(const char *dir) {
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

        if (fd < 0)
                return -1;
        rc = fsync(fd);
        close(fd);
        return rc;
}

/**
 * Puts @p data at @p final atomically: a new temp file in @p dir (the
 * directory of @p final), write, fsync, rename over @p final, fsync of
 * @p dir. On failure nothing is visible under @p final (an older file
 * there stays as it was) and the temp file is gone.
 */
static ls_err_t ls_snap_write_atomic(const char *dir, const char *final,
                                     const ls_buf_t *data, char *errstr,
                                     size_t errstr_size) {
        char tmp[4200];
        const char *base = strrchr(final, '/');
        int fd;

        base = base ? base + 1 : final;
        /* Private (0600: lead data), never through a link planted under
         * the name, never into another writer's file, even one on a
         * shared volume whose pid is the same: mkstemps() makes a new
         * file under a random name (O_CREAT | O_EXCL, mode 0600). */
        snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX.tmp", dir, base);
        fd = mkstemps(tmp, 4);
        if (fd < 0)
                return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                 "%s: cannot create: %s", tmp, strerror(errno));
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        if (ls_snap_write_all(fd, data->data, data->len) || fsync(fd)) {
                ls_seterr(errstr, errstr_size, LS_ERR_IO, "%s: write: %s", tmp,
                          strerror(errno));
                close(fd);
                unlink(tmp);
                return LS_ERR_IO;
        }
        if (close(fd)) {
                ls_seterr(errstr, errstr_size, LS_ERR_IO, "%s: close: %s", tmp,
                          strerror(errno));
                unlink(tmp);
                return LS_ERR_IO;
        }
        if (rename(tmp, final)) {
                ls_seterr(errstr, errstr_size, LS_ERR_IO,
                          "%s: rename to %s: %s", tmp, final, strerror(errno));
                unlink(tmp);
                return LS_ERR_IO;
        }
        if (ls_snap_fsync_dir(dir))
                return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                 "%s: fsync of the directory: %s", dir,
                                 strerror(errno));
        return LS_OK;
}

ls_err_t ls_snapshot_write(const char *dir, ls_snapshot_meta_t *meta,
                           const ls_shard_t *shard, int keep, ls_buf_t *scratch,
                           char *path, size_t path_size, char *errstr,
                           size_t errstr_size) {
        char final[4096];
        uint64_t *seqs = NULL;
        size_t n = 0, i;
        struct timespec ts;
        ls_err_t err;

        if ((err = ls_snap_mkdirs(dir, errstr, errstr_size)))
                return err;
        if ((err = ls_snapshot_list(dir, meta->group, meta->partition, &seqs,
                                    &n, errstr, errstr_size)))
                return err;
        meta->seq = n > 0 ? seqs[0] + 1 : 1;
        clock_gettime(CLOCK_REALTIME, &ts);
        meta->created_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;

        ls_buf_reset(scratch);
        if (ls_snapshot_encode(meta, shard, scratch)) {
                ls_free(seqs);
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "snapshot of partition %" PRId32
                                 ": out of memory",
                                 meta->partition);
        }

        ls_snapshot_path(dir, meta->group, meta->partition, meta->seq, final,
                         sizeof(final));
        if ((err = ls_snap_write_atomic(dir, final, scratch, errstr,
                                        errstr_size)))
                goto out;
        if (path)
                snprintf(path, path_size, "%s", final);
        /* Keep the newest `keep`: the new file plus keep - 1 older ones. */
        if (keep < 1)
                keep = 1;
        for (i = (size_t)keep - 1; i < n; i++) {
                char old[4096];
                ls_snapshot_path(dir, meta->group, meta->partition, seqs[i],
                                 old, sizeof(old));
                unlink(old);
        }
        err = LS_OK;
out:
        ls_free(seqs);
        return err;
}

ls_err_t ls_snapshot_write_file(const char *path, ls_snapshot_meta_t *meta,
                                const ls_shard_t *shard, ls_buf_t *scratch,
                                char *errstr, size_t errstr_size) {
        char dir[4096];
        const char *slash = strrchr(path, '/');
        struct timespec ts;

        /* The temp file goes beside the final one, so that the rename
         * stays within one file system. */
        if (!*path || (slash && !slash[1]))
                return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                 "'%s' does not name a file", path);
        if (!slash)
                snprintf(dir, sizeof(dir), ".");
        else if (slash == path)
                snprintf(dir, sizeof(dir), "/");
        else if ((size_t)(slash - path) >= sizeof(dir))
                return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                 "%s: path too long", path);
        else
                snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
        clock_gettime(CLOCK_REALTIME, &ts);
        meta->created_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        ls_buf_reset(scratch);
        if (ls_snapshot_encode(meta, shard, scratch))
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "%s: out of memory", path);
        return ls_snap_write_atomic(dir, path, scratch, errstr, errstr_size);
}

/* -------------------------------------------------------------- restore */

static void ls_snap_report(ls_snapshot_report_cb *report, void *opaque,
                           const char *path, const char *why) {
        if (report)
                report(opaque, path, why);
}

/**
 * Loads the shard image of a decoded snapshot for @p ms: as it is when it
 * was taken under @p ms, else with the model set it carries, migrated.
 */
static ls_err_t ls_snap_load_shard(const char *file, const void *payload,
                                   ls_snapshot_meta_t *meta,
                                   const ls_modelset_t *ms, ls_shard_t **shardp,
                                   char *why, size_t why_size) {
        ls_modelset_t *oms = NULL;
        ls_shard_t *osh;
        char inner[1024];
        ls_err_t err;

        if (!strcmp(meta->model_version, ms->version)) {
                *shardp = ls_shard_load(ms, payload, (size_t)meta->payload_len,
                                        inner, sizeof(inner));
                if (*shardp)
                        return LS_OK;
                return ls_seterr(why, why_size, LS_ERR_INVALID,
                                 "state rejected: %s", inner);
        }
        err = ls_modelset_load_source(ls_snapshot_source(payload, meta),
                                      (size_t)meta->source_len, file, &oms,
                                      inner, sizeof(inner));
        if (err)
                return ls_seterr(why, why_size, err,
                                 "taken under model set version %s, running "
                                 "%s, and its model set does not load: %s",
                                 meta->model_version, ms->version, inner);
        if (strcmp(oms->version, meta->model_version)) {
                err = ls_seterr(why, why_size, LS_ERR_INVALID,
                                "the model set it carries is version %s, its "
                                "header says %s",
                                oms->version, meta->model_version);
                ls_modelset_destroy(oms);
                return err;
        }
        osh = ls_shard_load(oms, payload, (size_t)meta->payload_len, inner,
                            sizeof(inner));
        if (!osh) {
                ls_modelset_destroy(oms);
                return ls_seterr(why, why_size, LS_ERR_INVALID,
                                 "state rejected: %s", inner);
        }
        *shardp = ls_shard_migrate(osh, ms, inner, sizeof(inner));
        ls_shard_destroy(osh);
        ls_modelset_destroy(oms);
        if (!*shardp)
                return ls_seterr(why, why_size, LS_ERR_NOMEM, "%s", inner);
        snprintf(meta->migrated_from, sizeof(meta->migrated_from), "%s",
                 meta->model_version);
        return LS_OK;
}

ls_err_t ls_snapshot_load_image(const void *data, size_t len, const char *group,
                                int32_t partition, const char *const topics[2],
                                const ls_modelset_t *ms,
                                ls_snapshot_meta_t *meta, ls_shard_t **shardp,
                                char *why, size_t why_size) {
        const void *payload;
        ls_err_t err;

        *shardp = NULL;
        if ((err = ls_snapshot_decode(data, len, meta, &payload, why,
                                      why_size)))
                return err;
        if (strcmp(meta->group, group) || meta->partition != partition ||
            strcmp(meta->topics[0], topics[0]) ||
            strcmp(meta->topics[1], topics[1]))
                return ls_seterr(why, why_size, LS_ERR_INVALID,
                                 "holds group %s, topics %s / %s partition "
                                 "%" PRId32 ", expected %s, %s / %s "
                                 "partition %" PRId32,
                                 meta->group, meta->topics[0], meta->topics[1],
                                 meta->partition, group, topics[0], topics[1],
                                 partition);
        return ls_snap_load_shard("the snapshot", payload, meta, ms, shardp,
                                  why, why_size);
}

ls_err_t ls_snapshot_restore(const char *dir, const char *group,
                             int32_t partition, const char *const topics[2],
                             const ls_modelset_t *ms,
                             ls_snapshot_report_cb *report, void *opaque,
                             ls_snapshot_meta_t *meta, ls_shard_t **shardp,
                             char *path, size_t path_size, char *errstr,
                             size_t errstr_size) {
        uint64_t *seqs = NULL;
        size_t n = 0, i;
        ls_buf_t buf;
        ls_err_t err;

        *shardp = NULL;
        if ((err = ls_snapshot_list(dir, group, partition, &seqs, &n, errstr,
                                    errstr_size)))
                return err;
        ls_buf_init(&buf);
        for (i = 0; i < n; i++) {
                char file[4096], why[1024];
                ls_shard_t *shard;

                ls_snapshot_path(dir, group, partition, seqs[i], file,
                                 sizeof(file));
                ls_buf_reset(&buf);
                /* Any failure of one file (I/O, a size that memory cannot
                 * hold, corruption) moves on to the next older one; the
                 * caller decides what none at all means. */
                err = ls_snapshot_read_file(file, &buf, why, sizeof(why));
                if (err) {
                        ls_snap_report(report, opaque, file, why);
                        continue;
                }
                err = ls_snapshot_load_image(buf.data ? buf.data : "", buf.len,
                                             group, partition, topics, ms, meta,
                                             &shard, why, sizeof(why));
                if (err) {
                        ls_snap_report(report, opaque, file, why);
                        continue;
                }
                *shardp = shard;
                if (path)
                        snprintf(path, path_size, "%s", file);
                ls_free(seqs);
                ls_buf_free(&buf);
                return LS_OK;
        }
        ls_free(seqs);
        ls_buf_free(&buf);
        memset(meta, 0, sizeof(*meta));
        return ls_seterr(errstr, errstr_size, LS_ERR_NOT_FOUND,
                         "no valid snapshot of %s-%" PRId32 " in %s (%zu "
                         "rejected)",
                         group, partition, dir, n);
}
