/*
 * ls_shard_image.c - a shard's state as a flat image: ls_shard_save()
 * writes the header and every lead's block as it is in memory,
 * ls_shard_load() reads one back, checking every field the engine would
 * compute with (ls_lead_check()) and rebuilding the timer heap, so that a
 * loaded shard scores exactly as the saved one would have.
 */
#include "leadscore/ls_engine.h"

#include <stddef.h>
#include <string.h>

#include "engine/ls_engine_int.h"

/*
 * Shard images: "LSSH", u32 format, set version (16 bytes), u32 models,
 * u32 block size, u32 dedupe, i64 stream time, 8 x u64 counters (format
 * 4: 12, the suppression counters added), u64 leads, then per lead: u32
 * key length, key bytes, block bytes. Little endian (the byte order of
 * every platform leadscore targets; the blocks are copied as they are in
 * memory).
 *
 * Format 3 images (before `suppress`) still load: their sets have no
 * suppression rules (the model file could not hold them), so their lead
 * blocks are laid out as format 4's without suppression state; only the
 * four counters are missing, and start at 0.
 *
 * Format 5 adds the alert state at the end of each block (alert_off,
 * ls_engine_int.h). A format 3 / 4 block is the part before it: it loads
 * as that prefix, and the alert state starts empty (no attribute values
 * until the next profile update, contributions counted from the load on,
 * the hot-ring slots' event types and ids unknown).
 */
#define LS_SHARD_MAGIC "LSSH"
#define LS_SHARD_FORMAT 5u
#define LS_SHARD_FORMAT_OLDEST 3u

static ls_err_t ls_put32(ls_buf_t *b, uint32_t v) {
        return ls_buf_append(b, &v, sizeof(v));
}

static ls_err_t ls_put64(ls_buf_t *b, uint64_t v) {
        return ls_buf_append(b, &v, sizeof(v));
}

ls_err_t ls_shard_save(const ls_shard_t *sh, ls_buf_t *buf) {
        size_t i, n = ls_lead_table_count(sh->leads);
        ls_err_t err = LS_OK;

        err |= ls_buf_append(buf, LS_SHARD_MAGIC, 4);
        err |= ls_put32(buf, LS_SHARD_FORMAT);
        err |= ls_buf_append(buf, sh->ms->version, LS_MODEL_VERSION_LEN);
        err |= ls_put32(buf, (uint32_t)sh->ms->n_models);
        err |= ls_put32(buf, (uint32_t)sh->block_size);
        err |= ls_put32(buf, sh->ms->dedupe);
        err |= ls_put64(buf, (uint64_t)sh->stream_time);
        err |= ls_put64(buf, sh->stats.inputs);
        err |= ls_put64(buf, sh->stats.duplicates);
        err |= ls_put64(buf, sh->stats.late);
        err |= ls_put64(buf, sh->stats.stale);
        err |= ls_put64(buf, sh->stats.future);
        err |= ls_put64(buf, sh->stats.invalid);
        err |= ls_put64(buf, sh->stats.ignored);
        err |= ls_put64(buf, sh->stats.outputs);
        err |= ls_put64(buf, sh->stats.suppressed_burst);
        err |= ls_put64(buf, sh->stats.suppressed_unopened);
        err |= ls_put64(buf, sh->stats.suppressed_match);
        err |= ls_put64(buf, sh->stats.reversed);
        err |= ls_put64(buf, (uint64_t)n);
        if (err)
                return LS_ERR_NOMEM;
        if (ls_buf_reserve(buf, n * (sh->block_size + 16)) != LS_OK)
                return LS_ERR_NOMEM;
        for (i = 0; i < n; i++) {
                const char *key = ls_lead_table_key(sh->leads, (uint32_t)i);
                uint32_t klen = (uint32_t)strlen(key);

                size_t at, m;

                if (ls_put32(buf, klen) || ls_buf_append(buf, key, klen))
                        return LS_ERR_NOMEM;
                at = buf->len;
                if (ls_buf_append(buf,
                                  ls_lead_table_block(sh->leads, (uint32_t)i),
                                  sh->block_size))
                        return LS_ERR_NOMEM;
                /* wake-ups are heap bookkeeping, rebuilt by the loader as
                 * wake_due = timer_due: write that, so that an image of a
                 * restored shard equals the image it was restored from */
                for (m = 0; m < sh->ms->n_models; m++) {
                        const ls_lm_t *lm = ls_lm(sh, (uint32_t)i, m);

                        memcpy(buf->data + at + sh->model_off[m] +
                                       offsetof(ls_lm_t, wake_due),
                               &lm->timer_due, sizeof(lm->timer_due));
                }
        }
        return LS_OK;
}

typedef struct ls_reader_s {
        const unsigned char *p;
        size_t len, off;
} ls_reader_t;

static int ls_get(ls_reader_t *r, void *dst, size_t n) {
        if (r->len - r->off < n)
                return -1;
        memcpy(dst, r->p + r->off, n);
        r->off += n;
        return 0;
}

ls_shard_t *ls_shard_load(const ls_modelset_t *ms, const void *data, size_t len,
                          char *errstr, size_t errstr_size) {
        ls_reader_t r = {data, len, 0};
        char magic[4], version[LS_MODEL_VERSION_LEN + 1] = {0};
        uint32_t format, n_models, block_size, dedupe;
        uint64_t stream_time, n, i;
        ls_shard_t *sh;

        if (ls_get(&r, magic, 4) || memcmp(magic, LS_SHARD_MAGIC, 4) != 0) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "shard state: bad magic at offset 0");
                return NULL;
        }
        if (ls_get(&r, &format, 4)) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "shard state: truncated header at offset %zu", r.off);
                return NULL;
        }
        if (format < LS_SHARD_FORMAT_OLDEST || format > LS_SHARD_FORMAT) {
                ls_seterr(errstr, errstr_size, LS_ERR_UNSUPPORTED,
                          "shard state: format %u at offset 4 not supported "
                          "(expected %u .. %u)",
                          format, LS_SHARD_FORMAT_OLDEST, LS_SHARD_FORMAT);
                return NULL;
        }
        if (ls_get(&r, version, LS_MODEL_VERSION_LEN) ||
            ls_get(&r, &n_models, 4) || ls_get(&r, &block_size, 4) ||
            ls_get(&r, &dedupe, 4) || ls_get(&r, &stream_time, 8)) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "shard state: truncated header at offset %zu", r.off);
                return NULL;
        }
        if (strcmp(version, ms->version) != 0) {
                ls_seterr(errstr, errstr_size, LS_ERR_UNSUPPORTED,
                          "shard state was taken under model set version %s, "
                          "the loaded model set is %s",
                          version, ms->version);
                return NULL;
        }
        sh = ls_shard_new(ms);
        if (!sh) {
                ls_seterr(errstr, errstr_size, LS_ERR_NOMEM, "out of memory");
                return NULL;
        }
        if (n_models != ms->n_models ||
            block_size != (format >= 5 ? sh->block_size : sh->alert_off) ||
            dedupe != ms->dedupe || (format < 4 && ms->n_suppress)) {
                ls_seterr(errstr, errstr_size, LS_ERR_UNSUPPORTED,
                          "shard state layout differs (models %u, block %u "
                          "bytes; expected %zu, %zu)",
                          n_models, block_size, ms->n_models,
                          format >= 5 ? sh->block_size : sh->alert_off);
                goto fail;
        }
        sh->stream_time = (int64_t)stream_time;
        if (!ls_time_ok(sh->stream_time, INT64_MIN)) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "shard state: stream time %lld out of range "
                          "(0 .. %lld ms)",
                          (long long)sh->stream_time, (long long)LS_TIME_MAX);
                goto fail;
        }
        if (ls_get(&r, &sh->stats.inputs, 8) ||
            ls_get(&r, &sh->stats.duplicates, 8) ||
            ls_get(&r, &sh->stats.late, 8) || ls_get(&r, &sh->stats.stale, 8) ||
            ls_get(&r, &sh->stats.future, 8) ||
            ls_get(&r, &sh->stats.invalid, 8) ||
            ls_get(&r, &sh->stats.ignored, 8) ||
            ls_get(&r, &sh->stats.outputs, 8) ||
            (format >= 4 && (ls_get(&r, &sh->stats.suppressed_burst, 8) ||
                             ls_get(&r, &sh->stats.suppressed_unopened, 8) ||
                             ls_get(&r, &sh->stats.suppressed_match, 8) ||
                             ls_get(&r, &sh->stats.reversed, 8))) ||
            ls_get(&r, &n, 8)) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "shard state: truncated header at offset %zu", r.off);
                goto fail;
        }
        if (n > (len - r.off) / (4 + (uint64_t)block_size)) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "shard state: %llu leads cannot fit in the %zu "
                          "bytes after offset %zu",
                          (unsigned long long)n, len - r.off, r.off);
                goto fail;
        }
        if (ls_lead_table_reserve(sh->leads, (size_t)n) != 0) {
                ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                          "out of memory for %llu leads",
                          (unsigned long long)n);
                goto fail;
        }
        for (i = 0; i < n; i++) {
                size_t at = r.off;
                uint32_t klen;
                int64_t idx;
                int created;

                if (ls_get(&r, &klen, 4) || klen == 0 || klen > r.len - r.off ||
                    memchr(r.p + r.off, '\0', klen) != NULL) {
                        ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                  "shard state: bad key of lead %llu at "
                                  "offset %zu",
                                  (unsigned long long)i, at);
                        goto fail;
                }
                idx = ls_lead_table_get(sh->leads, (const char *)r.p + r.off,
                                        klen, 1, &created);
                if (idx < 0 || !created) {
                        ls_seterr(errstr, errstr_size,
                                  idx < 0 ? LS_ERR_NOMEM : LS_ERR_INVALID,
                                  "shard state: %s lead at offset %zu",
                                  idx < 0 ? "no memory for" : "duplicate", at);
                        goto fail;
                }
                r.off += klen; /* a new block is zeroed: an older
                                * format's shorter block loads as its
                                * prefix */
                if (ls_get(&r, ls_lead_table_block(sh->leads, (uint32_t)idx),
                           block_size)) {
                        ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                  "shard state: truncated lead %llu at "
                                  "offset %zu",
                                  (unsigned long long)i, at);
                        goto fail;
                }
                {
                        const char *bad = ls_lead_check(sh, (uint32_t)idx);
                        if (bad) {
                                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                          "shard state: lead %llu at offset "
                                          "%zu: %s out of range",
                                          (unsigned long long)i, at, bad);
                                goto fail;
                        }
                }
        }
        if (r.off != r.len) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "shard state: %zu unexpected bytes at offset %zu",
                          r.len - r.off, r.off);
                goto fail;
        }
        if (ls_heap_rebuild(sh) != LS_OK) {
                ls_seterr(errstr, errstr_size, LS_ERR_NOMEM, "out of memory");
                goto fail;
        }
        return sh;
fail:
        ls_shard_destroy(sh);
        return NULL;
}
