/*
 * ls_merge.c - the order of a partition's inputs (see ls_merge.h).
 */
#include "leadscore/ls_merge.h"

#include <string.h>

#include "leadscore/ls_keys.h"

int64_t ls_merge_time(ls_codec_t *codec, const ls_record_t *rec,
                      int64_t max_future_ms) {
        char errstr[256];
        ls_input_t in;

        if (rec->len > ls_codec_max_record_bytes(codec) ||
            ls_codec_decode_input(codec, rec->kind,
                                  rec->value ? rec->value : "", rec->len, &in,
                                  errstr, sizeof(errstr)) != LS_OK)
                return LS_MERGE_NO_TIME;
        if (rec->topic &&
            ls_keys_check(rec->key, rec->key ? rec->key_len : 0, in.lead_id,
                          rec->topic, rec->partition, rec->partition_cnt,
                          errstr, sizeof(errstr)))
                return LS_MERGE_NO_TIME;
        if (rec->timestamp > 0 && in.time - rec->timestamp > max_future_ms)
                return LS_MERGE_NO_TIME;
        return in.time == LS_MERGE_NO_TIME ? LS_MERGE_NO_TIME + 1 : in.time;
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
