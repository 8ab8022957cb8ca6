/*
 * ls_merge.c - the order of a partition's inputs (see ls_merge.h): a
 * whole partition at once (ls_merge_order) or its heads as they arrive
 * (ls_merge_next). Both apply ls_merge_profile_first to the keys.
 */
#include "leadscore/ls_merge.h"

#include <string.h>

int64_t ls_merge_time(ls_codec_t *codec, const ls_record_t *rec,
                      const ls_modelset_t *ms) {
        char errstr[256];
        ls_input_t in;
        ls_err_t err;

        return ls_merge_key(
                ms,
                ls_scorer_read(codec, rec, &in, &err, errstr, sizeof(errstr)),
                &in);
}

int64_t ls_merge_key(const ls_modelset_t *ms, ls_verdict_t v,
                     const ls_input_t *in) {
        if (v != LS_V_APPLIED || ls_input_future(ms, in))
                return LS_MERGE_NO_TIME;
        return in->time == LS_MERGE_NO_TIME ? LS_MERGE_NO_TIME + 1 : in->time;
}

void ls_merge_order(const int64_t *time, const uint8_t *topic, size_t n,
                    size_t *order) {
        size_t e = 0, p = 0, k = 0;

        /* e and p walk the events and the profiles in their own order. */
        for (;;) {
                while (e < n && topic[e] != 0)
                        e++;
                while (p < n && topic[p] != 1)
                        p++;
                if (e == n && p == n)
                        break;
                if (p < n &&
                    (e == n || ls_merge_profile_first(time[e], time[p])))
                        order[k++] = p++;
                else
                        order[k++] = e++;
        }
}

void ls_merge_side_init(ls_merge_side_t *side) {
        memset(side, 0, sizeof(*side));
        side->consumed_next = -1;
}

/**
 * 1 when every record that @p side's partition held when a record of the
 * other topic arrived (at @p head_at) has been consumed: then nothing of
 * this partition can still come before that record. The last fetch
 * response's high watermark may predate that arrival (another fetch,
 * another broker), so only an end offset asked for after it counts;
 * without one, @p side is marked end_wanted and 0 is returned.
 */
static int ls_merge_partner_done(ls_merge_side_t *side, int64_t head_at,
                                 int *ends_wanted) {
        /* (The fetch's cached high watermark cannot say "more to come"
         * either: a read_committed consumer stops at the last stable
         * offset, below it while a transaction is open.) */
        if (side->end_asked_at > head_at)
                return side->consumed_next >= 0
                               ? side->consumed_next >= side->end_offset
                               : side->end_offset == 0;
        side->end_wanted = 1;
        *ends_wanted = 1;
        return 0;
}

int ls_merge_next(ls_merge_side_t *const side[2], int64_t merge_wait,
                  int64_t now, int *ends_wanted) {
        const ls_held_t *ha = side[0] ? ls_holdq_head(&side[0]->held) : NULL;
        const ls_held_t *hb = side[1] ? ls_holdq_head(&side[1]->held) : NULL;
        const ls_held_t *head;
        int t;

        if (!ha && !hb)
                return -1;
        if (ha && hb) {
                if (merge_wait == 0)
                        return ha->at <= hb->at ? 0 : 1;
                return ls_merge_profile_first(ha->time, hb->time) ? 1 : 0;
        }
        t = ha ? 0 : 1;
        head = ha ? ha : hb;
        if (side[1 - t] && side[1 - t]->reading)
                return -1; /* the other side's records are not back yet */
        if (merge_wait > 0 && side[1 - t] && head->time != LS_MERGE_NO_TIME &&
            now - head->at < merge_wait &&
            !ls_merge_partner_done(side[1 - t], head->at, ends_wanted))
                return -1; /* wait for the other partition */
        return t;
}
