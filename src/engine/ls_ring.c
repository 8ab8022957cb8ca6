/*
 * ls_ring.c - the hot-lead rings of a shard, one pool per model: taken by
 * a lead's scoring event, given back by the sweep once nothing can reach
 * them (the layout and the argument are in ls_engine_int.h).
 */
#include <string.h>

#include "engine/ls_engine_int.h"
#include "leadscore/ls_alloc.h"

void ls_ring_pool_init(ls_ring_pool_t *p, uint32_t track) {
        memset(p, 0, sizeof(*p));
        p->track = track;
        p->rec_size = ls_ring_rec_size(track);
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

ls_err_t ls_ring_take(ls_shard_t *sh, uint32_t lead, size_t m, ls_lm_t *lm,
                      ls_ring_t **rp) {
        ls_ring_pool_t *p = &sh->rings[m];
        uint32_t *ref = ls_ring_ref(sh, lead, m);
        ls_ring_t *r;
        int64_t i;

        if (*ref) {
                *rp = ls_ring_rec(p, *ref - 1);
                return LS_OK;
        }
        i = ls_ring_alloc(p);
        if (i < 0)
                return LS_ERR_NOMEM;
        r = ls_ring_rec(p, (uint32_t)i);
        memset(r, 0, sizeof(*r));
        r->lead = lead;
        r->newest = INT64_MIN;
        *ref = (uint32_t)i + 1;
        lm->hot_pos = 0;
        p->live++;
        *rp = r;
        return LS_OK;
}

int64_t ls_ring_sweep_ms(const ls_modelset_t *ms) {
        int64_t best = INT64_MAX;
        size_t m;

        for (m = 0; m < ms->n_models; m++) {
                int64_t w = ms->models[m].hot.within_ms;

                if (!ls_hot_ring_len(&ms->models[m]) ||
                    ms->lateness_ms > LS_TIME_MAX || w > LS_TIME_MAX)
                        continue;
                if (ms->lateness_ms + w < best)
                        best = ms->lateness_ms + w;
        }
        return best < LS_RING_SWEEP_MIN_MS ? LS_RING_SWEEP_MIN_MS : best;
}

void ls_ring_sweep(ls_shard_t *sh) {
        const ls_modelset_t *ms = sh->ms;
        size_t m;

        for (m = 0; m < ms->n_models; m++) {
                ls_ring_pool_t *p = &sh->rings[m];
                int64_t reach = ms->lateness_ms, bound;
                uint32_t i;

                if (!p->live)
                        continue;
                /* an event that is not late is at or after stream time -
                 * lateness, and counts entries newer than its time -
                 * within */
                if (reach > LS_TIME_MAX ||
                    ms->models[m].hot.within_ms > LS_TIME_MAX)
                        continue;
                bound = sh->stream_time - reach - ms->models[m].hot.within_ms;
                for (i = 0; i < p->made; i++) {
                        ls_ring_t *r = ls_ring_rec(p, i);

                        if (r->lead == UINT32_MAX || r->newest > bound)
                                continue;
                        *ls_ring_ref(sh, r->lead, m) = 0;
                        r->lead = UINT32_MAX;
                        r->next1 = p->free1;
                        p->free1 = i + 1;
                        p->live--;
                }
        }
}
