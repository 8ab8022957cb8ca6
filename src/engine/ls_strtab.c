/*
 * ls_strtab.c - a shard's table of alert attribute values: each distinct
 * value once, counted by the leads that hold it, so that a lead's block
 * keeps a 4-byte number per attribute instead of LS_ALERT_ATTR_BYTES.
 * Numbers start at 1 (0: not set); a value no lead holds is freed and its
 * number reused. Open addressing by value, deletion by backward shift.
 */
#include <string.h>

#include "engine/ls_engine_int.h"
#include "leadscore/ls_alloc.h"
#include "leadscore/ls_hash.h"

void ls_strtab_free(ls_strtab_t *t) {
        uint32_t i;

        for (i = 0; i < t->n; i++)
                ls_free(t->ents[i].s);
        ls_free(t->ents);
        ls_free(t->slots);
        ls_free(t->free_ids);
        memset(t, 0, sizeof(*t));
}

size_t ls_strtab_bytes(const ls_strtab_t *t) {
        return t->bytes + t->size * sizeof(*t->ents) +
               t->n_slots * sizeof(*t->slots) +
               t->size_free * sizeof(*t->free_ids);
}

/* Re-indexes every live value into @p n slots. @returns 0 or -1. */
static int ls_strtab_rehash(ls_strtab_t *t, size_t n) {
        uint32_t *slots = ls_calloc(n, sizeof(*slots)), i;

        if (!slots)
                return -1;
        for (i = 0; i < t->n; i++) {
                size_t j;

                if (!t->ents[i].s)
                        continue;
                for (j = (size_t)t->ents[i].hash & (n - 1); slots[j];
                     j = (j + 1) & (n - 1))
                        ;
                slots[j] = i + 1;
        }
        ls_free(t->slots);
        t->slots = slots;
        t->n_slots = n;
        return 0;
}

uint32_t ls_strtab_put(ls_strtab_t *t, const char *s, size_t len) {
        uint64_t h = ls_hash64(s, len);
        size_t j;
        uint32_t id;
        ls_strent_t *e;

        if (t->n == UINT32_MAX - 1)
                return 0; /* numbers are 32-bit */
        if (((size_t)t->live + 1) * 10 > t->n_slots * 7 &&
            ls_strtab_rehash(t, t->n_slots ? t->n_slots * 2 : 64) != 0)
                return 0;
        for (j = (size_t)h & (t->n_slots - 1); t->slots[j];
             j = (j + 1) & (t->n_slots - 1)) {
                e = &t->ents[t->slots[j] - 1];
                if (e->hash == h && e->len == len && !memcmp(e->s, s, len)) {
                        e->refs++;
                        return t->slots[j];
                }
        }
        if (t->n_free) {
                id = t->free_ids[--t->n_free];
        } else {
                if (t->n == t->size) {
                        size_t ns = t->size ? (size_t)t->size * 2 : 64;
                        ls_strent_t *ents =
                                ls_realloc(t->ents, ns * sizeof(*ents));

                        if (!ents)
                                return 0;
                        t->ents = ents;
                        t->size = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
                }
                id = ++t->n;
                t->ents[id - 1].s = NULL;
        }
        e = &t->ents[id - 1];
        e->s = ls_strndup(s, len);
        if (!e->s) {
                if (id == t->n)
                        t->n--;
                else
                        t->free_ids[t->n_free++] = id;
                return 0;
        }
        e->len = (uint32_t)len;
        e->hash = h;
        e->refs = 1;
        t->slots[j] = id;
        t->live++;
        t->bytes += len + 1;
        return id;
}

void ls_strtab_drop(ls_strtab_t *t, uint32_t id) {
        ls_strent_t *e;
        size_t j, k, mask = t->n_slots - 1;

        if (!id)
                return;
        e = &t->ents[id - 1];
        if (--e->refs)
                return;
        for (j = (size_t)e->hash & mask; t->slots[j] != id; j = (j + 1) & mask)
                ;
        /* backward shift: move up every later entry of the run that may
         * sit in the freed slot */
        for (k = (j + 1) & mask; t->slots[k]; k = (k + 1) & mask) {
                size_t home = (size_t)t->ents[t->slots[k] - 1].hash & mask;

                if (((k - home) & mask) >= ((k - j) & mask)) {
                        t->slots[j] = t->slots[k];
                        j = k;
                }
        }
        t->slots[j] = 0;
        t->bytes -= e->len + 1;
        ls_free(e->s);
        e->s = NULL;
        t->live--;
        if (t->n_free == t->size_free) {
                size_t ns = t->size_free ? t->size_free * 2 : 64;
                uint32_t *f = ls_realloc(t->free_ids, ns * sizeof(*f));

                if (!f)
                        return; /* the number is not reused */
                t->free_ids = f;
                t->size_free = ns;
        }
        t->free_ids[t->n_free++] = id;
}

ls_err_t ls_attr_set(ls_shard_t *sh, uint32_t lead, size_t k, const char *v,
                     size_t len) {
        uint32_t *ref = ls_attr_ref(sh, lead, k);
        uint32_t id = len ? ls_strtab_put(&sh->attrs, v, len) : 0;

        if (len && !id)
                return LS_ERR_NOMEM;
        ls_strtab_drop(&sh->attrs, *ref);
        *ref = id;
        return LS_OK;
}
