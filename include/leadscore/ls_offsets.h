/*
 * ls_offsets.h - the commit rule of one input topic-partition.
 *
 * Every input record gets an entry (its offset, the outputs of it still in
 * flight) in a FIFO, in consumption (offset) order, numbered by a
 * sequence that never repeats. Each produced output names its input's
 * sequence; its acknowledgement takes it off the count. The committable
 * offset is the offset after the longest prefix of inputs with nothing in
 * flight: an output that is never acknowledged (a failed delivery) holds
 * back every later input, so nothing past it is ever committed.
 */
#ifndef LS_OFFSETS_H
#define LS_OFFSETS_H

#include <stddef.h>
#include <stdint.h>

typedef struct ls_offsets_entry_s {
        int64_t offset;
        uint32_t remaining; /* outputs produced, not yet acknowledged */
} ls_offsets_entry_t;

typedef struct ls_offsets_s {
        ls_offsets_entry_t *ring; /* FIFO of inputs, oldest at head */
        size_t cap, head, count;
        uint64_t base_seq;   /* sequence of ring[head] */
        int64_t committable; /* next offset safe to commit; -1 = none */
} ls_offsets_t;

/** An empty tracker (nothing committable). */
void ls_offsets_init(ls_offsets_t *o);
void ls_offsets_free(ls_offsets_t *o);

/**
 * Tracks input @p offset (after every input pushed before it).
 * @returns 0 with *@p seqp its sequence, or -1 when memory is short.
 */
int ls_offsets_push(ls_offsets_t *o, int64_t offset, uint64_t *seqp);

/** @returns the offset of input @p seq, or -1 when it is not tracked
 *  (already committable, or never pushed). */
int64_t ls_offsets_offset(const ls_offsets_t *o, uint64_t seq);

/** One more output of input @p seq is in flight (no-op if untracked). */
void ls_offsets_produced(ls_offsets_t *o, uint64_t seq);

/** An output of input @p seq was acknowledged, or was not produced after
 *  all (no-op if untracked or nothing in flight). */
void ls_offsets_acked(ls_offsets_t *o, uint64_t seq);

/** Sets the committable offset to @p offset, e.g. the next offset of a
 *  restored snapshot, whose outputs were all delivered before it was
 *  written. */
void ls_offsets_set_committable(ls_offsets_t *o, int64_t offset);

/**
 * Retires every input at the head with nothing in flight.
 * @returns the committable offset after them (-1 = none yet).
 */
int64_t ls_offsets_advance(ls_offsets_t *o);

#endif /* LS_OFFSETS_H */
