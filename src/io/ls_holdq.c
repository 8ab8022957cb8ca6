/*
 * ls_holdq.c - records held for the merge (see ls_holdq.h).
 */
#include "leadscore/ls_holdq.h"

#include <string.h>

#include "leadscore/ls_alloc.h"

int ls_holdq_push(ls_holdq_t *hq, const ls_held_t *h) {
        if (hq->count == hq->cap) {
                size_t ncap = hq->cap ? hq->cap * 2 : 256, i;
                ls_held_t *nq = ls_malloc(ncap * sizeof(*nq));

                if (!nq)
                        return -1;
                for (i = 0; i < hq->count; i++)
                        nq[i] = hq->q[(hq->head + i) % hq->cap];
                ls_free(hq->q);
                hq->q = nq;
                hq->cap = ncap;
                hq->head = 0;
        }
        hq->q[(hq->head + hq->count) % hq->cap] = *h;
        hq->count++;
        return 0;
}

int ls_holdq_pop(ls_holdq_t *hq, ls_held_t *out) {
        if (hq->count == 0)
                return -1;
        *out = hq->q[hq->head];
        hq->head = (hq->head + 1) % hq->cap;
        hq->count--;
        return 0;
}

void ls_held_release(ls_held_t *h) {
        ls_free(h->in);
        ls_free(h->why);
        h->in = NULL;
        h->why = NULL;
}

void ls_holdq_free(ls_holdq_t *hq, void (*destroy)(void *rec)) {
        ls_held_t h;

        while (ls_holdq_pop(hq, &h) == 0) {
                if (destroy)
                        destroy(h.rec);
                ls_held_release(&h);
        }
        ls_free(hq->q);
        memset(hq, 0, sizeof(*hq));
}
