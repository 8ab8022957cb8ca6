/*
 * ls_ring.c - the rings a lead holds only while they can count, in pools
 * of the shard: a model's hot-lead rings and a burst rule's rings. A lead
 * takes one with its first entry; the sweep gives it back once no event
 * that is not late can reach its entries (the layout and the argument are
 * in ls_engine_int.h).
 */
#include <string.h>

#include "engine/ls_engine_int.h"
#include "leadscore/ls_alloc.h"

void ls_ring_pool_init(ls_ring_pool_t *p, size_t rec_size, size_t ref_off,
                       size_t clear, int64_t reach, uint32_t track) {
        memset(p, 0, sizeof(*p));
        p->rec_size = (rec_size + 7) & ~(size_t)7;
        p->ref_off = ref_off;
        p->clear = clear;
        p->reach = reach;
        p->sweep_ms =
                reach < LS_RING_SWEEP_MIN_MS ? LS_RING_SWEEP_MIN_MS : reach;
        p->epoch = -1;
        p->track = track;
}

void ls_ring_pool_free(ls_ring_pool_t *p) {
        size_t i;

        for (i = 0; i < p->n_chunks; i++)
                ls_free(p->chunks[i]);
        ls_free(p->chunks);
        memset(p, 0, sizeof(*p));
}

size_t ls_ring_pool_bytes(const ls_ring_pool_t *p) {
        return p->n_chunks * (size_t)LS_RING_CHUNK * p->rec_size;
}

/* @returns a free record's number, making one when none is free, or -1
 * when memory is short. */
static int64_t ls_ring_alloc(ls_ring_pool_t *p) {
        uint32_t i;

        if (p->free1) {
                i = p->free1 - 1;
                p->free1 = ls_ring_rec(p, i)->next1;
                return i;
        }
        if (p->made == UINT32_MAX - 1)
                return -1;
        if (p->made / LS_RING_CHUNK == p->n_chunks) {
                unsigned char **c = ls_realloc(
                        p->chunks, (p->n_chunks + 1) * sizeof(*p->chunks));

                if (!c)
                        return -1;
                p->chunks = c;
                c[p->n_chunks] = ls_malloc(LS_RING_CHUNK * p->rec_size);
                if (!c[p->n_chunks])
                        return -1;
                p->n_chunks++;
        }
        return p->made++;
}

ls_err_t ls_pool_take(ls_shard_t *sh, ls_ring_pool_t *p, uint32_t lead,
                      ls_ring_t **rp) {
        uint32_t *ref = ls_pool_ref(sh, p, lead);
        ls_ring_t *r;
        int64_t i;

        if (!ref)
                return LS_ERR_INVALID; /* a pool the layout has no room for */
        if (*ref) {
                *rp = ls_ring_rec(p, *ref - 1);
                return LS_OK;
        }
        i = ls_ring_alloc(p);
        if (i < 0)
                return LS_ERR_NOMEM;
        r = ls_ring_rec(p, (uint32_t)i);
        memset(r, 0, sizeof(*r) + p->clear);
        r->lead = lead;
        *ref = (uint32_t)i + 1;
        p->live++;
        *rp = r;
        return LS_OK;
}

ls_err_t ls_ring_take(ls_shard_t *sh, uint32_t lead, size_t m, ls_lm_t *lm,
                      ls_ring_t **rp) {
        ls_ring_pool_t *p = &sh->pools[m];
        int had = p->ref_off && *ls_pool_ref(sh, p, lead) != 0;
        ls_err_t err = ls_pool_take(sh, p, lead, rp);

        if (!err && !had)
                lm->hot_pos = 0;
        return err;
}

ls_err_t ls_burst_ring_take(ls_shard_t *sh, uint32_t lead, size_t r,
                            ls_supp_ring_t **ringp) {
        ls_ring_t *g;
        ls_err_t err =
                ls_pool_take(sh, &sh->pools[sh->ms->n_models + r], lead, &g);

        *ringp = err ? NULL : (ls_supp_ring_t *)(g + 1);
        return err;
}

/* @returns the latest time among the entries ring @p r of pool @p k holds
 * now (entries overwritten since do not count), INT64_MIN none. */
static int64_t ls_ring_newest(const ls_shard_t *sh, size_t k, ls_ring_t *r) {
        int64_t newest = INT64_MIN;
        uint32_t i;

        if (k < sh->ms->n_models) {
                for (i = 0; i < r->n; i++)
                        if (ls_ring_times(r)[i] > newest)
                                newest = ls_ring_times(r)[i];
        } else {
                size_t rule = k - sh->ms->n_models;
                ls_supp_ring_t *ring = (ls_supp_ring_t *)(r + 1);

                for (i = 0; i < ring->n; i++)
                        if (ls_burst_ent(sh, ring, rule, i)->time > newest)
                                newest = ls_burst_ent(sh, ring, rule, i)->time;
        }
        return newest;
}

/* The stream time at which the next period of a pool starts. */
static void ls_ring_next_sweep(ls_shard_t *sh) {
        size_t k, n = sh->ms->n_models + sh->ms->n_suppress;

        sh->next_sweep = INT64_MAX;
        for (k = 0; k < n; k++) {
                const ls_ring_pool_t *p = &sh->pools[k];

                if (p->ref_off && p->reach <= LS_TIME_MAX &&
                    (p->epoch + 1) * p->sweep_ms < sh->next_sweep)
                        sh->next_sweep = (p->epoch + 1) * p->sweep_ms;
        }
}

void ls_ring_sweep_start(ls_shard_t *sh) {
        size_t k, n = sh->ms->n_models + sh->ms->n_suppress;

        for (k = 0; k < n; k++) {
                ls_ring_pool_t *p = &sh->pools[k];

                if (p->ref_off)
                        p->epoch = sh->stream_time < 0
                                           ? -1
                                           : sh->stream_time / p->sweep_ms;
        }
        ls_ring_next_sweep(sh);
}

void ls_ring_sweep(ls_shard_t *sh) {
        size_t k, n = sh->ms->n_models + sh->ms->n_suppress;

        for (k = 0; k < n; k++) {
                ls_ring_pool_t *p = &sh->pools[k];
                int64_t bound, e;
                uint32_t i;

                /* an event that is not late is at or after stream time -
                 * lateness, and counts entries newer than its time -
                 * within: reach is lateness + within */
                if (!p->ref_off || p->reach > LS_TIME_MAX)
                        continue;
                e = sh->stream_time / p->sweep_ms;
                if (e <= p->epoch)
                        continue;
                p->epoch = e;
                if (!p->live)
                        continue;
                bound = sh->stream_time - p->reach;
                for (i = 0; i < p->made; i++) {
                        ls_ring_t *r = ls_ring_rec(p, i);

                        if (r->lead == UINT32_MAX ||
                            ls_ring_newest(sh, k, r) > bound)
                                continue;
                        *ls_pool_ref(sh, p, r->lead) = 0;
                        r->lead = UINT32_MAX;
                        r->next1 = p->free1;
                        p->free1 = i + 1;
                        p->live--;
                }
        }
        ls_ring_next_sweep(sh);
}
