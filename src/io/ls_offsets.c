/*
 * ls_offsets.c - the commit rule of one input topic-partition (see
 * ls_offsets.h).
 */
#include "leadscore/ls_offsets.h"

#include <string.h>

#include "leadscore/ls_alloc.h"

void ls_offsets_init(ls_offsets_t *o) {
        memset(o, 0, sizeof(*o));
        o->committable = -1;
}

void ls_offsets_free(ls_offsets_t *o) {
        ls_free(o->ring);
        ls_offsets_init(o);
}

int ls_offsets_push(ls_offsets_t *o, int64_t offset, uint64_t *seqp) {
        if (o->count == o->cap) {
                size_t ncap = o->cap ? o->cap * 2 : 64, i;
                ls_offsets_entry_t *nring = ls_malloc(ncap * sizeof(*nring));

                if (!nring)
                        return -1;
                for (i = 0; i < o->count; i++)
                        nring[i] = o->ring[(o->head + i) % o->cap];
                ls_free(o->ring);
                o->ring = nring;
                o->cap = ncap;
                o->head = 0;
        }
        o->ring[(o->head + o->count) % o->cap] =
                (ls_offsets_entry_t){.offset = offset, .remaining = 0};
        *seqp = o->base_seq + o->count;
        o->count++;
        return 0;
}

static ls_offsets_entry_t *ls_offsets_entry(const ls_offsets_t *o,
                                            uint64_t seq) {
        if (seq < o->base_seq || seq - o->base_seq >= o->count)
                return NULL;
        return &o->ring[(o->head + (seq - o->base_seq)) % o->cap];
}

int64_t ls_offsets_offset(const ls_offsets_t *o, uint64_t seq) {
        const ls_offsets_entry_t *e = ls_offsets_entry(o, seq);

        return e ? e->offset : -1;
}

void ls_offsets_produced(ls_offsets_t *o, uint64_t seq) {
        ls_offsets_entry_t *e = ls_offsets_entry(o, seq);

        if (e)
                e->remaining++;
}

void ls_offsets_acked(ls_offsets_t *o, uint64_t seq) {
        ls_offsets_entry_t *e = ls_offsets_entry(o, seq);

        if (e && e->remaining > 0)
                e->remaining--;
}

void ls_offsets_set_committable(ls_offsets_t *o, int64_t offset) {
        o->committable = offset;
}

int64_t ls_offsets_advance(ls_offsets_t *o) {
        while (o->count > 0 && o->ring[o->head].remaining == 0) {
                o->committable = o->ring[o->head].offset + 1;
                o->head = (o->head + 1) % o->cap;
                o->base_seq++;
                o->count--;
        }
        return o->committable;
}
