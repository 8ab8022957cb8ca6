/*
 * ls_scorer.c - bytes in, a verdict and outputs out (see ls_scorer.h).
 * The steps, in this order: size, decode, key rule, engine. The first
 * that rejects the record names its verdict; nothing after it runs.
 */
#include "leadscore/ls_scorer.h"

#include <stdio.h>
#include <string.h>

#include "leadscore/ls_keys.h"

static const char *const ls_verdict_names[LS_V__CNT] = {
        [LS_V_APPLIED] = "applied",     [LS_V_DUPLICATE] = "duplicate",
        [LS_V_STALE] = "stale",         [LS_V_TICK] = "tick",
        [LS_V_OVERSIZED] = "oversized", [LS_V_DECODE] = "decode",
        [LS_V_SCHEMA] = "schema",       [LS_V_KEY] = "key",
        [LS_V_PARTITION] = "partition", [LS_V_INVALID] = "invalid",
        [LS_V_LATE] = "late",           [LS_V_FUTURE] = "future",
        [LS_V_CAPACITY] = "capacity",   [LS_V_ERROR] = "error",
};

const char *ls_verdict_name(ls_verdict_t v) {
        return (unsigned)v < LS_V__CNT ? ls_verdict_names[v] : "unknown";
}

int ls_verdict_rejected(ls_verdict_t v) {
        return v >= LS_V_OVERSIZED && v < LS_V_ERROR;
}

uint64_t ls_verdicts_rejected(const ls_verdicts_t *vs) {
        uint64_t n = 0;
        int v;

        for (v = 0; v < LS_V__CNT; v++)
                if (ls_verdict_rejected((ls_verdict_t)v))
                        n += vs->n[v];
        return n;
}

static ls_verdict_t ls_scorer_engine_verdict(ls_err_t err) {
        switch (err) {
        case LS_OK:
                return LS_V_APPLIED;
        case LS_ERR_DUPLICATE:
                return LS_V_DUPLICATE;
        case LS_ERR_STALE:
                return LS_V_STALE;
        case LS_ERR_LATE:
                return LS_V_LATE;
        case LS_ERR_FUTURE:
                return LS_V_FUTURE;
        case LS_ERR_CAPACITY:
                return LS_V_CAPACITY;
        case LS_ERR_INVALID:
                return LS_V_INVALID;
        default:
                return LS_V_ERROR;
        }
}

ls_verdict_t ls_scorer_read(ls_codec_t *codec, const ls_record_t *rec,
                            ls_input_t *in, ls_err_t *errp, char *errstr,
                            size_t errstr_size) {
        ls_err_t err;

        *errp = LS_OK;
        if (errstr_size)
                errstr[0] = '\0';
        if (rec->tick) {
                memset(in, 0, sizeof(*in));
                in->kind = LS_INPUT_TICK;
                in->time = rec->tick;
                in->record_time = rec->timestamp;
                return LS_V_APPLIED;
        }
        if (rec->len > ls_codec_max_record_bytes(codec)) {
                snprintf(errstr, errstr_size,
                         "record of %zu bytes exceeds max_record_bytes %zu",
                         rec->len, ls_codec_max_record_bytes(codec));
                return LS_V_OVERSIZED;
        }
        err = ls_codec_decode_input(codec, rec->kind,
                                    rec->value ? rec->value : "", rec->len, in,
                                    errstr, errstr_size);
        switch (err) {
        case LS_OK:
                break;
        case LS_ERR_INVALID:
                return LS_V_DECODE;
        case LS_ERR_UNSUPPORTED:
                return LS_V_SCHEMA;
        default:
                *errp = err;
                return LS_V_ERROR;
        }
        if (rec->topic) {
                const char *why =
                        ls_keys_check(rec->key, rec->key ? rec->key_len : 0,
                                      in->lead_id, rec->topic, rec->partition,
                                      rec->partition_cnt, errstr, errstr_size);
                if (why)
                        return strcmp(why, "key") ? LS_V_PARTITION : LS_V_KEY;
        }
        in->record_time = rec->timestamp;
        return LS_V_APPLIED;
}

ls_verdict_t ls_scorer_feed(ls_codec_t *codec, const ls_record_t *rec,
                            ls_shard_t *const *shards, ls_outbuf_t *obs,
                            size_t n_shards, ls_err_t *errp, char *errstr,
                            size_t errstr_size) {
        ls_input_t in;
        ls_verdict_t v;

        v = ls_scorer_read(codec, rec, &in, errp, errstr, errstr_size);
        if (v != LS_V_APPLIED)
                return v;
        return ls_scorer_apply(&in, shards, obs, n_shards, errp, errstr,
                               errstr_size);
}

int64_t ls_tick_parse(const void *value, size_t len) {
        const unsigned char *c = value;
        int64_t t = 0;
        size_t i;

        if (!value || len == 0 || len > 19)
                return 0;
        for (i = 0; i < len; i++) {
                if (c[i] < '0' || c[i] > '9' || t > (LS_TIME_MAX - 9) / 10)
                        return 0;
                t = t * 10 + (c[i] - '0');
        }
        return t > 0 && t <= LS_TIME_MAX ? t : 0;
}

/* A tick: every shard's stream time moves to its time, as an event's
 * would, without a lead. Each shard judges max_future by its own model
 * set, as it does an event; the verdict is the first shard's. */
static ls_verdict_t ls_scorer_tick(const ls_input_t *in,
                                   ls_shard_t *const *shards, ls_outbuf_t *obs,
                                   size_t n_shards, ls_err_t *errp,
                                   char *errstr, size_t errstr_size) {
        ls_verdict_t v = LS_V_TICK;
        size_t s;

        for (s = 0; s < n_shards; s++) {
                const ls_modelset_t *ms = ls_shard_modelset(shards[s]);

                if (ls_input_future(ms, in)) {
                        if (s == 0) {
                                snprintf(
                                        errstr, errstr_size,
                                        "tick %lld is %lld ms past the "
                                        "record's timestamp %lld "
                                        "(max_future %lld ms)",
                                        (long long)in->time,
                                        (long long)(in->time - in->record_time),
                                        (long long)in->record_time,
                                        (long long)ms->max_future_ms);
                                v = LS_V_FUTURE;
                        }
                        continue;
                }
                if (ls_shard_advance(shards[s], in->time, &obs[s])) {
                        *errp = LS_ERR_NOMEM;
                        snprintf(errstr, errstr_size,
                                 "out of memory advancing stream time");
                        return LS_V_ERROR;
                }
        }
        return v;
}

void ls_scorer_prefetch(uint64_t lead_hash, ls_shard_t *const *shards,
                        size_t n_shards, int stage) {
        size_t s;

        for (s = 0; lead_hash && s < n_shards; s++)
                ls_shard_prefetch(shards[s], lead_hash, stage);
}

ls_verdict_t ls_scorer_apply(const ls_input_t *in, ls_shard_t *const *shards,
                             ls_outbuf_t *obs, size_t n_shards, ls_err_t *errp,
                             char *errstr, size_t errstr_size) {
        char other[256];
        ls_err_t err, e;
        size_t s;

        *errp = LS_OK;
        if (in->kind == LS_INPUT_TICK)
                return ls_scorer_tick(in, shards, obs, n_shards, errp, errstr,
                                      errstr_size);
        err = LS_OK;
        for (s = 0; s < n_shards; s++) {
                e = ls_shard_apply(shards[s], in, &obs[s],
                                   s == 0 ? errstr : other,
                                   s == 0 ? errstr_size : sizeof(other));
                if (e == LS_ERR_NOMEM) {
                        if (s > 0)
                                snprintf(errstr, errstr_size, "%s", other);
                        *errp = e;
                        return LS_V_ERROR;
                }
                if (s == 0)
                        err = e;
        }
        if (ls_scorer_engine_verdict(err) == LS_V_ERROR)
                *errp = err;
        return ls_scorer_engine_verdict(err);
}
