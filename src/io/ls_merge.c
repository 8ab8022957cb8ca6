/*
 * ls_merge.c - the order of a partition's inputs (see ls_merge.h).
 */
#include "leadscore/ls_merge.h"

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
