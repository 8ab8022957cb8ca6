/*
 * ls_shard_image.c - a shard's state as a flat image: ls_shard_save()
 * writes the header and every lead's block as it is in memory,
 * ls_shard_load() reads one back, checking every field the engine would
 * compute with (ls_lead_check()) and rebuilding the timer wake-ups, so that a
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
 * Format 5 adds the alert state at the end of each block (img_alert_off,
 * ls_engine_int.h). A format 3 / 4 block is the part before it: it loads
 * as that prefix, and the alert state starts empty (no attribute values
 * until the next profile update, contributions counted from the load on,
 * the hot-ring slots' event types and ids unknown).
 *
 * In memory a lead's hot-lead and burst rings are in pools of their own
 * (ls_ring.c). A format 5 block has each ring at its place in it (all
 * zero when the lead holds none); img_segs say where the rest of a block
 * goes, and ls_block_to_image / ls_block_from_image convert.
 *
 * Format 6 writes the block as it is in memory, where each ring's number
 * is 1 when the lead holds that ring and 0 when not, and each attribute
 * value's number 0; then each attribute value (u8 length < 64, bytes);
 * then, ring by ring in pool order (each model's hot-lead ring, then each
 * burst rule's), the rings the lead holds:
 *   hot-lead ring: u32 n (slots filled, <= track), then n x i64 time,
 *                  n x i32 points, n x (u32 event type, 40-byte id);
 *   burst ring:    its ls_supp_ring_t (8 bytes: pos, n), then its n
 *                  entries (ls_burst_ent_t and the undo parts).
 * A lead holds a ring only while it can count, so an image is about the
 * size of the blocks alone.
 */
#define LS_SHARD_MAGIC "LSSH"
#define LS_SHARD_FORMAT 6u
#define LS_SHARD_FORMAT_OLDEST 3u
#define LS_LOAD_AHEAD 8     /* leads whose index entries a load prefetches */
#define LS_LOAD_STREAM 8192 /* image bytes prefetched past those leads */

static ls_err_t ls_put32(ls_buf_t *b, uint32_t v) {
        return ls_buf_append(b, &v, sizeof(v));
}

static ls_err_t ls_put64(ls_buf_t *b, uint64_t v) {
        return ls_buf_append(b, &v, sizeof(v));
}

/*
 * Writes lead @p lead's block as a format 5 image has it into @p dst
 * (img_block_size bytes, zeroed): the block's stretches where the image
 * has them, and each hot-lead ring it holds inside it.
 */
static void ls_block_to_image(const ls_shard_t *sh, uint32_t lead,
                              unsigned char *dst) {
        const unsigned char *src = ls_lead_table_block(sh->leads, lead);
        size_t k, m;

        for (k = 0; k < sh->n_img_segs; k++)
                memcpy(dst + sh->img_segs[k].img, src + sh->img_segs[k].mem,
                       sh->img_segs[k].len);
        for (m = 0; m < sh->ms->n_models; m++) {
                const ls_lm_t *lm = ls_lm(sh, lead, m);
                ls_ring_t *r = ls_ring(sh, lead, m);
                uint32_t track = sh->pools[m].track;

                /* wake-ups are queue bookkeeping, rebuilt by the loader as
                 * wake_due = timer_due: write that, so that an image of a
                 * restored shard equals the image it was restored from */
                memcpy(dst + sh->img_model_off[m] + offsetof(ls_lm_t, wake_due),
                       &lm->timer_due, sizeof(lm->timer_due));
                if (!r)
                        continue;
                /* the slots it filled; the others are empty (zero) */
                memcpy(dst + sh->img_hot_off[m], ls_ring_times(r),
                       r->n * sizeof(int64_t));
                memcpy(dst + sh->img_hot_off[m] + track * sizeof(int64_t),
                       ls_ring_points(r, track), r->n * sizeof(int32_t));
                if (sh->img_hot_ev_off[m]) /* format 5 kept them only with
                                            * contributions */
                        memcpy(dst + sh->img_hot_ev_off[m],
                               ls_ring_evs(r, track),
                               r->n * sizeof(ls_hot_ev_t));
        }
        for (k = 0; k < sh->ms->n_suppress; k++) {
                const ls_supp_ring_t *ring = ls_burst_ring(sh, lead, k);
                unsigned char *at = dst + sh->img_supp_rule_off[k];

                if (!ring)
                        continue;
                /* its entries 0 .. n - 1; the others are empty (zero) */
                memcpy(at, ring, sizeof(*ring));
                memcpy(at + sizeof(*ring), ring + 1,
                       ring->n * sh->burst_ent_size[k]);
        }
        for (k = 0; k < sh->ms->n_alert_attrs; k++) {
                const char *v = ls_attr_val(sh, lead, k);

                /* NUL-padded in its LS_ALERT_ATTR_BYTES */
                memcpy(dst + sh->img_alert_off + k * LS_ALERT_ATTR_BYTES, v,
                       strlen(v));
        }
}

/* 1 when the @p n bytes at @p p are all zero. */
static int ls_all_zero(const unsigned char *p, size_t n) {
        size_t i;

        for (i = 0; i < n; i++)
                if (p[i])
                        return 0;
        return 1;
}

/*
 * Reads the @p len bytes of an image's block (format 5, or the prefix of
 * a format 3 / 4 one) at @p src into new lead @p lead: the stretches the
 * image has, a ring for each hot-lead or burst ring there that is not
 * empty, and the attribute values. @returns NULL, or what is wrong
 * ("alert attribute", or "memory").
 */
static const char *ls_block_from_image(ls_shard_t *sh, uint32_t lead,
                                       const unsigned char *src, size_t len) {
        unsigned char *dst = ls_lead_table_block(sh->leads, lead);
        size_t k, m;

        for (k = 0; k < sh->n_img_segs; k++) {
                const ls_img_seg_t *g = &sh->img_segs[k];

                if (g->img < len)
                        memcpy(dst + g->mem, src + g->img,
                               g->len < len - g->img ? g->len : len - g->img);
        }
        for (m = 0; m < sh->ms->n_models; m++) {
                uint32_t track = sh->pools[m].track, i;
                const unsigned char *t = src + sh->img_hot_off[m];
                const unsigned char *ev =
                        sh->img_hot_ev_off[m] && sh->img_hot_ev_off[m] < len
                                ? src + sh->img_hot_ev_off[m]
                                : NULL;
                size_t tlen = track * (sizeof(int64_t) + sizeof(int32_t));
                size_t evlen = track * sizeof(ls_hot_ev_t);
                ls_lm_t *lm = ls_lm(sh, lead, m);
                uint8_t pos = lm->hot_pos;
                ls_ring_t *r;

                if (!track ||
                    (ls_all_zero(t, tlen) && (!ev || ls_all_zero(ev, evlen))))
                        continue;
                if (ls_ring_take(sh, lead, m, lm, &r) != LS_OK)
                        return "memory";
                lm->hot_pos = pos;
                memcpy(ls_ring_times(r), t, track * sizeof(int64_t));
                memcpy(ls_ring_points(r, track), t + track * sizeof(int64_t),
                       track * sizeof(int32_t));
                if (ev)
                        memcpy(ls_ring_evs(r, track), ev, evlen);
                else
                        memset(ls_ring_evs(r, track), 0, evlen);
                /* the slots up to the last one written: a ring taken
                 * anew fills them from 0 (and one written before rings
                 * were given back has wrapped, or filled them from 0) */
                for (r->n = track; r->n > 0; r->n--) {
                        i = r->n - 1;
                        if (ls_ring_times(r)[i] ||
                            ls_ring_points(r, track)[i] ||
                            !ls_all_zero((const unsigned char *)&ls_ring_evs(
                                                 r, track)[i],
                                         sizeof(ls_hot_ev_t)))
                                break;
                }
                /* a ring not full is written up to its position */
                if (r->n < track && pos != r->n)
                        r->n = pos > r->n ? pos : track;
        }
        for (k = 0; k < sh->ms->n_suppress; k++) {
                const ls_suppress_t *s = &sh->ms->suppress[k];
                size_t at = sh->img_supp_rule_off[k];
                size_t size = sizeof(ls_supp_ring_t) +
                              (s->count - 1) * sh->burst_ent_size[k];
                ls_supp_ring_t *ring;

                if (s->kind != LS_SUPPRESS_BURST || at + size > len ||
                    ls_all_zero(src + at, size))
                        continue;
                if (ls_burst_ring_take(sh, lead, k, &ring) != LS_OK)
                        return "memory";
                memcpy(ring, src + at, size);
        }
        for (k = 0; k < sh->ms->n_alert_attrs; k++) {
                const char *v = (const char *)src + sh->img_alert_off +
                                k * LS_ALERT_ATTR_BYTES;
                size_t n;

                if (sh->img_alert_off + (k + 1) * LS_ALERT_ATTR_BYTES > len)
                        break; /* format 3 / 4: none */
                n = strnlen(v, LS_ALERT_ATTR_BYTES);
                if (n == LS_ALERT_ATTR_BYTES ||
                    !ls_all_zero((const unsigned char *)v + n,
                                 LS_ALERT_ATTR_BYTES - n))
                        return "alert attribute";
                if (ls_attr_set(sh, lead, k, v, n) != LS_OK)
                        return "memory";
        }
        return NULL;
}

/* Appends lead @p lead's block as it is in memory, with wake_due =
 * timer_due and each ring's number 1 (held) or 0, then the rings it
 * holds (format 6). */
static ls_err_t ls_lead_save6(const ls_shard_t *sh, uint32_t lead,
                              ls_buf_t *buf) {
        size_t at = buf->len, k, m;
        unsigned char *b;

        if (ls_buf_append(buf, ls_lead_table_block(sh->leads, lead),
                          sh->block_size))
                return LS_ERR_NOMEM;
        b = (unsigned char *)buf->data + at;
        for (m = 0; m < sh->ms->n_models; m++)
                memcpy(b + sh->model_off[m] + offsetof(ls_lm_t, wake_due),
                       &ls_lm(sh, lead, m)->timer_due, sizeof(int64_t));
        memset(b + sh->alert_off, 0, sh->ms->n_alert_attrs * sizeof(uint32_t));
        for (k = 0; k < sh->ms->n_models + sh->ms->n_suppress; k++) {
                const ls_ring_pool_t *p = &sh->pools[k];
                uint32_t held;

                if (!p->ref_off)
                        continue;
                held = *ls_pool_ref(sh, p, lead) != 0;
                memcpy((unsigned char *)buf->data + at + p->ref_off, &held,
                       sizeof(held));
        }
        for (k = 0; k < sh->ms->n_alert_attrs; k++) {
                const char *v = ls_attr_val(sh, lead, k);
                uint8_t n = (uint8_t)strlen(v);

                if (ls_buf_append(buf, &n, 1) || ls_buf_append(buf, v, n))
                        return LS_ERR_NOMEM;
        }
        for (k = 0; k < sh->ms->n_models + sh->ms->n_suppress; k++) {
                const ls_ring_pool_t *p = &sh->pools[k];
                ls_ring_t *g = p->ref_off ? ls_pool_ring(sh, p, lead) : NULL;
                ls_err_t err = LS_OK;

                if (!g)
                        continue;
                if (k < sh->ms->n_models) {
                        err |= ls_put32(buf, g->n);
                        err |= ls_buf_append(buf, ls_ring_times(g),
                                             g->n * sizeof(int64_t));
                        err |= ls_buf_append(buf, ls_ring_points(g, p->track),
                                             g->n * sizeof(int32_t));
                        err |= ls_buf_append(buf, ls_ring_evs(g, p->track),
                                             g->n * sizeof(ls_hot_ev_t));
                } else {
                        const ls_supp_ring_t *ring =
                                (const ls_supp_ring_t *)(g + 1);

                        err |= ls_buf_append(
                                buf, ring,
                                sizeof(*ring) +
                                        ring->n *
                                                sh->burst_ent_size
                                                        [k - sh->ms->n_models]);
                }
                if (err)
                        return LS_ERR_NOMEM;
        }
        return LS_OK;
}

ls_err_t ls_shard_save(const ls_shard_t *sh, ls_buf_t *buf) {
        return ls_shard_save_format(sh, buf, LS_SHARD_FORMAT);
}

ls_err_t ls_shard_save_format(const ls_shard_t *sh, ls_buf_t *buf,
                              uint32_t format) {
        size_t i, n = ls_lead_table_count(sh->leads);
        size_t block = format >= 6 ? sh->block_size : sh->img_block_size;
        ls_err_t err = LS_OK;

        if (format != 5 && format != 6)
                return LS_ERR_UNSUPPORTED;
        err |= ls_buf_append(buf, LS_SHARD_MAGIC, 4);
        err |= ls_put32(buf, format);
        err |= ls_buf_append(buf, sh->ms->version, LS_MODEL_VERSION_LEN);
        err |= ls_put32(buf, (uint32_t)sh->ms->n_models);
        err |= ls_put32(buf, (uint32_t)block);
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
        if (ls_buf_reserve(buf, n * (block + 16)) != LS_OK)
                return LS_ERR_NOMEM;
        for (i = 0; i < n; i++) {
                const char *key = ls_lead_table_key(sh->leads, (uint32_t)i);
                uint32_t klen = (uint32_t)strlen(key);

                if (ls_put32(buf, klen) || ls_buf_append(buf, key, klen))
                        return LS_ERR_NOMEM;
                if (format >= 6) {
                        if (ls_lead_save6(sh, (uint32_t)i, buf))
                                return LS_ERR_NOMEM;
                        continue;
                }
                if (ls_buf_reserve(buf, sh->img_block_size))
                        return LS_ERR_NOMEM;
                memset(buf->data + buf->len, 0, sh->img_block_size);
                ls_block_to_image(sh, (uint32_t)i,
                                  (unsigned char *)buf->data + buf->len);
                buf->len += sh->img_block_size;
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

/*
 * Reads lead @p lead's format 6 block and the rings it holds from @p r.
 * @returns NULL, or what is wrong ("truncated", "ring flag", "hot-lead
 * ring fill", "burst ring", or "memory").
 */
static const char *ls_lead_load6(ls_shard_t *sh, uint32_t lead,
                                 ls_reader_t *r) {
        unsigned char *b = ls_lead_table_block(sh->leads, lead);
        size_t k, n = sh->ms->n_models + sh->ms->n_suppress;

        if (ls_get(r, b, sh->block_size))
                return "truncated";
        memset(b + sh->alert_off, 0, sh->ms->n_alert_attrs * sizeof(uint32_t));
        for (k = 0; k < sh->ms->n_alert_attrs; k++) {
                uint8_t len;
                const char *v;

                if (ls_get(r, &len, 1) || r->len - r->off < len)
                        return "truncated";
                v = (const char *)r->p + r->off;
                if (len >= LS_ALERT_ATTR_BYTES || memchr(v, '\0', len))
                        return "alert attribute";
                if (ls_attr_set(sh, lead, k, v, len) != LS_OK)
                        return "memory";
                r->off += len;
        }
        for (k = 0; k < n; k++) {
                ls_ring_pool_t *p = &sh->pools[k];
                uint32_t *ref = ls_pool_ref(sh, p, lead), held;
                ls_ring_t *g;

                if (!ref)
                        continue;
                held = *ref; /* 1: the ring follows */
                *ref = 0;
                if (held > 1)
                        return "ring flag";
                if (!held)
                        continue;
                if (ls_pool_take(sh, p, lead, &g) != LS_OK)
                        return "memory";
                if (k < sh->ms->n_models) {
                        if (ls_get(r, &g->n, 4))
                                return "truncated";
                        if (g->n > p->track)
                                return "hot-lead ring fill";
                        if (ls_get(r, ls_ring_times(g),
                                   g->n * sizeof(int64_t)) ||
                            ls_get(r, ls_ring_points(g, p->track),
                                   g->n * sizeof(int32_t)) ||
                            ls_get(r, ls_ring_evs(g, p->track),
                                   g->n * sizeof(ls_hot_ev_t)))
                                return "truncated";
                } else {
                        size_t rule = k - sh->ms->n_models;
                        ls_supp_ring_t *ring = (ls_supp_ring_t *)(g + 1);
                        uint32_t cap = sh->ms->suppress[rule].count - 1;

                        if (ls_get(r, ring, sizeof(*ring)))
                                return "truncated";
                        if (ring->n > cap || ring->pos >= cap)
                                return "burst ring";
                        if (ls_get(r, ring + 1,
                                   ring->n * sh->burst_ent_size[rule]))
                                return "truncated";
                }
        }
        return NULL;
}

/*
 * @returns the offset of the format 6 lead after the one at @p off, read
 * only as far as its lengths, or 0 when they do not hold (the load proper
 * says what is wrong). For prefetching the index entries of leads ahead.
 */
static size_t ls_lead_skip6(const ls_shard_t *sh, const ls_reader_t *r,
                            size_t off) {
        const unsigned char *b;
        uint32_t klen, v;
        size_t k;

        if (r->len - off < 4)
                return 0;
        memcpy(&klen, r->p + off, 4);
        if (r->len - off - 4 < (size_t)klen + sh->block_size)
                return 0;
        off += 4 + klen;
        b = r->p + off;
        off += sh->block_size;
        for (k = 0; k < sh->ms->n_alert_attrs; k++) {
                if (off >= r->len || r->len - off - 1 < r->p[off])
                        return 0;
                off += 1 + (size_t)r->p[off];
        }
        for (k = 0; k < sh->ms->n_models + sh->ms->n_suppress; k++) {
                const ls_ring_pool_t *p = &sh->pools[k];
                size_t size;

                if (!p->ref_off)
                        continue;
                memcpy(&v, b + p->ref_off, 4);
                if (!v)
                        continue;
                if (k < sh->ms->n_models) {
                        if (r->len - off < 4)
                                return 0;
                        memcpy(&v, r->p + off, 4);
                        if (v > p->track)
                                return 0;
                        size = 4 +
                               (size_t)v * (sizeof(int64_t) + sizeof(int32_t) +
                                            sizeof(ls_hot_ev_t));
                } else {
                        ls_supp_ring_t ring;

                        if (r->len - off < sizeof(ring))
                                return 0;
                        memcpy(&ring, r->p + off, sizeof(ring));
                        size = sizeof(ring) +
                               (size_t)ring.n *
                                       sh->burst_ent_size[k - sh->ms->n_models];
                }
                if (r->len - off < size)
                        return 0;
                off += size;
        }
        return off;
}

ls_shard_t *ls_shard_load(const ls_modelset_t *ms, const void *data, size_t len,
                          char *errstr, size_t errstr_size) {
        ls_reader_t r = {data, len, 0};
        char magic[4], version[LS_MODEL_VERSION_LEN + 1] = {0};
        uint32_t format, n_models, block_size, dedupe;
        uint64_t stream_time, n, i;
        size_t ahead, streamed;
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
            block_size != (format >= 6   ? sh->block_size
                           : format == 5 ? sh->img_block_size
                                         : sh->img_alert_off) ||
            dedupe != ms->dedupe || (format < 4 && ms->n_suppress)) {
                ls_seterr(errstr, errstr_size, LS_ERR_UNSUPPORTED,
                          "shard state layout differs (models %u, block %u "
                          "bytes; expected %zu, %zu)",
                          n_models, block_size, ms->n_models,
                          format >= 6   ? sh->block_size
                          : format == 5 ? sh->img_block_size
                                        : sh->img_alert_off);
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
        ls_timers_reset(sh); /* each lead's timers are queued as it loads */
        ahead = streamed = r.off;
        for (i = 0; format >= 6 && ahead && i < LS_LOAD_AHEAD && i < n; i++)
                ahead = ls_lead_skip6(sh, &r, ahead);
        for (i = 0; i < n; i++) {
                size_t at = r.off;
                const char *bad;
                uint32_t klen;
                int64_t idx;
                int created;

                /* the image, read ahead of the look-ahead below: it
                 * jumps within each lead, which the hardware does not
                 * follow */
                for (; streamed < ahead + LS_LOAD_STREAM && streamed < r.len;
                     streamed += 64)
                        __builtin_prefetch(r.p + streamed);
                /* the index entry of a lead LS_LOAD_AHEAD on: a cache miss
                 * each, overlapped with this lead's copy */
                if (format >= 6 && ahead && i + LS_LOAD_AHEAD < n) {
                        size_t next = ls_lead_skip6(sh, &r, ahead);

                        if (next) { /* its key is within the image */
                                memcpy(&klen, r.p + ahead, 4);
                                ls_lead_table_prefetch(
                                        sh->leads,
                                        (const char *)r.p + ahead + 4, klen);
                        }
                        ahead = next;
                }

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
                r.off += klen;
                if (format >= 6) {
                        bad = ls_lead_load6(sh, (uint32_t)idx, &r);
                } else if (r.len - r.off < block_size) {
                        bad = "truncated";
                } else {
                        /* a new block is zeroed: an older format's shorter
                         * block loads as its prefix */
                        bad = ls_block_from_image(sh, (uint32_t)idx,
                                                  r.p + r.off, block_size);
                        r.off += block_size;
                }
                if (bad) {
                        ls_seterr(errstr, errstr_size,
                                  strcmp(bad, "memory") ? LS_ERR_INVALID
                                                        : LS_ERR_NOMEM,
                                  "shard state: lead %llu at offset %zu: %s",
                                  (unsigned long long)i, at,
                                  strcmp(bad, "memory") ? bad
                                                        : "out of memory");
                        goto fail;
                }
                if ((bad = ls_lead_check(sh, (uint32_t)idx)) != NULL) {
                        ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                  "shard state: lead %llu at offset %zu: %s "
                                  "out of range",
                                  (unsigned long long)i, at, bad);
                        goto fail;
                }
                if (ls_timers_add_lead(sh, (uint32_t)idx) != LS_OK) {
                        ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                  "out of memory");
                        goto fail;
                }
        }
        if (r.off != r.len) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "shard state: %zu unexpected bytes at offset %zu",
                          r.len - r.off, r.off);
                goto fail;
        }
        ls_ring_sweep_start(sh); /* the periods a live shard is in */
        return sh;
fail:
        ls_shard_destroy(sh);
        return NULL;
}
