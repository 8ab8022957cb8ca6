/*
 * ls_holdq.h - the records of one input topic-partition that were
 * consumed but not applied yet, in offset order: what the merge by event
 * time (ls_merge.h) holds while it waits for the other topic's partition.
 * Each keeps its arrival time, its merge key and what reading it gave
 * (ls_scorer_read()), so that a record is decoded once.
 */
#ifndef LS_HOLDQ_H
#define LS_HOLDQ_H

#include <stddef.h>
#include <stdint.h>

#include "leadscore/ls_scorer.h"

typedef struct ls_held_s {
        void *rec;      /* the record (the caller's: e.g. a Kafka message) */
        int64_t at;     /* arrival, monotonic ms */
        int64_t time;   /* merge key (ls_merge_key()) */
        ls_verdict_t v; /* what reading it gave, when read: */
        ls_err_t err;   /* of LS_V_ERROR */
        ls_input_t *in; /* LS_V_APPLIED: the input (ls_input_dup()) */
        uint64_t lead_hash; /* ls_input_lead_hash() of in, 0 none: for a
                             * look-ahead (ls_scorer_prefetch()) */
        char *why;          /* a rejection: why (owned) */
} ls_held_t;

typedef struct ls_holdq_s {
        ls_held_t *q;
        size_t cap, head, count;
} ls_holdq_t;

/**
 * Appends @p h (taking over its input and reason).
 * @returns 0, or -1 when memory is short (@p h stays the caller's).
 */
int ls_holdq_push(ls_holdq_t *hq, const ls_held_t *h);

/** @returns the oldest held record, or NULL when none is held. */
static inline ls_held_t *ls_holdq_head(const ls_holdq_t *hq) {
        return hq->count ? &hq->q[hq->head] : NULL;
}

/** Takes the oldest held record out into *@p out (the caller's now:
 *  release it with ls_held_release()). @returns 0, or -1 when empty. */
int ls_holdq_pop(ls_holdq_t *hq, ls_held_t *out);

/** Frees the input and reason of @p h (not its record). */
void ls_held_release(ls_held_t *h);

/** Empties the queue, passing each record to @p destroy (may be NULL),
 *  and frees it. */
void ls_holdq_free(ls_holdq_t *hq, void (*destroy)(void *rec));

#endif /* LS_HOLDQ_H */
