/*
 * ls_merge.h - the one order in which the records of partition p of the
 * two input topics are applied (docs/DURABILITY.md, "Deterministic order
 * across the two input topics"): each topic's records in offset order,
 * the two merged by event time, events first on ties; a record that will
 * be rejected before the engine (or as `future`) has no event time and
 * goes as soon as it is at the head of its topic. `leadscore run` merges
 * the heads as records arrive (ls_merge_next(), over one hold queue per
 * topic: ls_merge_side_t); `replay` merges a whole partition at once
 * (ls_merge_order). Both key records with ls_merge_time().
 *
 * Threading: none of its own; a side belongs to one thread.
 */
#ifndef LS_MERGE_H
#define LS_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "leadscore/ls_codec.h"
#include "leadscore/ls_holdq.h"
#include "leadscore/ls_scorer.h"

#define LS_MERGE_NO_TIME INT64_MIN /* the record has no place in time */

/**
 * The merge key of @p rec: its payload's event time (occurred_at /
 * updated_at), or LS_MERGE_NO_TIME when ls_scorer_feed() would reject it
 * before the engine (ls_scorer_read()) or as `future` under @p ms
 * (ls_input_future()).
 * Decodes with @p codec (same threading rules).
 */
int64_t ls_merge_time(ls_codec_t *codec, const ls_record_t *rec,
                      const ls_modelset_t *ms);

/**
 * The merge key of a record that ls_scorer_read() gave verdict @p v and
 * input @p in: what ls_merge_time() returns, without decoding again.
 */
int64_t ls_merge_key(const ls_modelset_t *ms, ls_verdict_t v,
                     const ls_input_t *in);

/** 1 when the profiles head (key @p profile_time) goes before the events
 *  head (key @p event_time); ties go to the event. */
static inline int ls_merge_profile_first(int64_t event_time,
                                         int64_t profile_time) {
        return profile_time < event_time;
}

/**
 * Orders a partition's @p n records: record i is of topic @p topic[i]
 * (0 events, 1 profiles) with key @p time[i]; within a topic they are
 * given in offset order. Writes the indexes in merge order to @p order.
 */
void ls_merge_order(const int64_t *time, const uint8_t *topic, size_t n,
                    size_t *order);

/** One input topic-partition's side of the live merge of `run`. */
typedef struct ls_merge_side_s {
        ls_holdq_t held;       /* consumed, not applied yet, in offset
                                * order (the records are the caller's) */
        int64_t consumed_next; /* offset after the last consumed, or the
                                * assigned start offset; -1 = unknown */
        int64_t end_asked_at;  /* monotonic time an end offset of the
                                * partition was asked for; 0 = never */
        int64_t end_offset;    /* what it answered */
        int end_wanted;        /* a held record of the other topic waits
                                * for a fresher answer */
        uint32_t reading;      /* consumed records out being read (run's
                                * workers), which join `held` in offset
                                * order when back: the other side's lone
                                * head waits for them, merge_wait or not,
                                * as it would meet them held with one
                                * thread */
} ls_merge_side_t;

/** An empty side (nothing consumed, end unknown). */
void ls_merge_side_init(ls_merge_side_t *side);

/**
 * The live merge's next step for one partition, whose events side is
 * @p side[0] and profiles side @p side[1] (NULL: that topic-partition is
 * not held here). The heads go in merge order (ls_merge_profile_first;
 * with @p merge_wait 0 in arrival order, no holding). A lone head waits
 * for the other side until it has been held @p merge_wait ms at @p now,
 * unless it has no event time or the other side is at its end: every
 * record the other partition held when the head arrived is consumed,
 * which only an end offset asked for after that arrival can say; without
 * one, the other side's end_wanted is set and so is *@p ends_wanted. It
 * always waits while the other side has records out being read.
 * @returns 0 or 1: pop the head of that side now; -1: nothing goes now.
 */
int ls_merge_next(ls_merge_side_t *const side[2], int64_t merge_wait,
                  int64_t now, int *ends_wanted);

#endif /* LS_MERGE_H */
