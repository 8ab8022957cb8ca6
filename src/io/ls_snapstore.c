/*
 * ls_snapstore.c - snapshot stores (see ls_snapstore.h): a directory
 * (ls_snapshot_write / ls_snapshot_restore) or a compacted topic, whose
 * images go through the same encoder and the same loader
 * (ls_snapshot_encode / ls_snapshot_load_image).
 */
#include "leadscore/ls_snapstore.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_keys.h"

#define LS_SS_MAGIC "LSSC"
#define LS_SS_VERSION 1u
#define LS_SS_HDR 24              /* magic, version, seq, n, index */
#define LS_SS_CHUNK (512u * 1024) /* image bytes per record */
#define LS_SS_TIMEOUT_MS 60000    /* a write or a read of a partition */
#define LS_SS_META_MS 10000

struct ls_snapstore_s {
        /* directory */
        char *dir;
        int keep;
        /* topic */
        char *topic;
        rd_kafka_t *producer, *reader;
        int32_t n_parts;
        uint64_t *last_seq; /* per shard partition: the newest sequence
                              * written or seen */
        uint64_t *kept_seq; /* per shard partition: the sequence of the
                              * complete snapshot that must survive the
                              * next write (restored or last written) */
        size_t n_last;
        int dr_failed;
        char dr_err[256];
        char where[600];
};

ls_snapstore_t *ls_snapstore_dir_new(const char *dir, int keep) {
        ls_snapstore_t *st = ls_calloc(1, sizeof(*st));

        if (!st || !(st->dir = ls_strdup(dir))) {
                ls_free(st);
                return NULL;
        }
        st->keep = keep;
        snprintf(st->where, sizeof(st->where), "directory %s", dir);
        return st;
}

static void ls_ss_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                        void *opaque) {
        ls_snapstore_t *st = rkm->_private;

        (void)rk;
        (void)opaque;
        if (st && rkm->err && !st->dr_failed) {
                st->dr_failed = 1;
                snprintf(st->dr_err, sizeof(st->dr_err), "%s",
                         rd_kafka_err2str(rkm->err));
        }
}

/* The topic's cleanup.policy must keep the newest record per key. */
static ls_err_t ls_ss_check_compacted(ls_snapstore_t *st, char *errstr,
                                      size_t errstr_size) {
        rd_kafka_ConfigResource_t *res =
                rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, st->topic);
        rd_kafka_queue_t *q = rd_kafka_queue_new(st->producer);
        rd_kafka_event_t *ev;
        ls_err_t err = LS_OK;

        rd_kafka_DescribeConfigs(st->producer, &res, 1, NULL, q);
        ev = rd_kafka_queue_poll(q, LS_SS_META_MS);
        if (!ev || rd_kafka_event_error(ev)) {
                err = ls_seterr(errstr, errstr_size, LS_ERR_KAFKA,
                                "snapshot.topic %s: cannot read its "
                                "configuration: %s",
                                st->topic,
                                ev ? rd_kafka_event_error_string(ev)
                                   : "timed out");
        } else {
                const rd_kafka_DescribeConfigs_result_t *r =
                        rd_kafka_event_DescribeConfigs_result(ev);
                size_t nres = 0, nent = 0, i;
                const rd_kafka_ConfigResource_t **rs =
                        r ? rd_kafka_DescribeConfigs_result_resources(r, &nres)
                          : NULL;
                const rd_kafka_ConfigEntry_t **es =
                        nres ? rd_kafka_ConfigResource_configs(rs[0], &nent)
                             : NULL;
                const char *policy = NULL;

                if (!nres || rd_kafka_ConfigResource_error(rs[0]))
                        err = ls_seterr(
                                errstr, errstr_size, LS_ERR_KAFKA,
                                "snapshot.topic %s: cannot read its "
                                "configuration: %s",
                                st->topic,
                                nres ? rd_kafka_ConfigResource_error_string(
                                               rs[0])
                                     : "no answer");
                for (i = 0; !err && i < nent; i++)
                        if (!strcmp(rd_kafka_ConfigEntry_name(es[i]),
                                    "cleanup.policy"))
                                policy = rd_kafka_ConfigEntry_value(es[i]);
                if (!err) {
                        const char *v = policy;
                        /* exactly compact: with delete too, retention
                         * would remove the snapshot of an idle
                         * partition */
                        if (!v || strcmp(v, "compact"))
                                err = ls_seterr(
                                        errstr, errstr_size, LS_ERR_INVALID,
                                        "snapshot.topic %s has "
                                        "cleanup.policy=%s: retention would "
                                        "delete its snapshots; create it "
                                        "with cleanup.policy=compact "
                                        "(docs/DURABILITY.md)",
                                        st->topic, v ? v : "(none)");
                }
        }
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_queue_destroy(q);
        rd_kafka_ConfigResource_destroy(res);
        return err;
}

ls_snapstore_t *ls_snapstore_topic_new(const char *topic,
                                       const ls_kafka_opts_t *base,
                                       char *errstr, size_t errstr_size) {
        /* One request in flight keeps chunks in order; a retried chunk
         * written twice is harmless (same key, same bytes), so no
         * producer id is needed. */
        static const ls_kafka_prop_t wprops[] = {
                {"enable.idempotence", "false"},
                {"max.in.flight.requests.per.connection", "1"},
                {"acks", "all"},
                {"linger.ms", "0"},
        };
        ls_snapstore_t *st = ls_calloc(1, sizeof(*st));
        ls_kafka_opts_t o;
        ls_kafka_prop_t rprops[3];
        char gid[300];

        if (!st || !(st->topic = ls_strdup(topic))) {
                ls_seterr(errstr, errstr_size, LS_ERR_NOMEM, "out of memory");
                goto fail;
        }
        snprintf(st->where, sizeof(st->where), "topic %s", topic);
        o = *base;
        o.props_where = "snapshot.topic client: ";
        o.name = NULL;
        o.rebalance_cb = NULL;
        o.role = LS_KAFKA_SNAPSHOT_WRITER;
        o.props = wprops;
        o.props_cnt = sizeof(wprops) / sizeof(wprops[0]);
        o.dr_msg_cb = ls_ss_dr_cb;
        if (!(st->producer = ls_kafka_client_new(&o, errstr, errstr_size)))
                goto fail;
        /* The reader never joins a group (assign only, no commits); the
         * id only lets it poll. */
        snprintf(gid, sizeof(gid), "leadscore-snapshot-reader-%s", topic);
        rprops[0] = (ls_kafka_prop_t){"group.id", gid};
        rprops[1] = (ls_kafka_prop_t){"enable.auto.commit", "false"};
        rprops[2] = (ls_kafka_prop_t){"enable.partition.eof", "true"};
        o.role = LS_KAFKA_SNAPSHOT_READER;
        o.props = rprops;
        o.props_cnt = sizeof(rprops) / sizeof(rprops[0]);
        o.dr_msg_cb = NULL;
        if (!(st->reader = ls_kafka_client_new(&o, errstr, errstr_size)))
                goto fail;
        st->n_parts = ls_keys_partition_count(
                st->producer, topic, LS_SS_META_MS, errstr, errstr_size);
        if (st->n_parts < 1 ||
            ls_ss_check_compacted(st, errstr, errstr_size) != LS_OK) {
                size_t n = strlen(errstr);
                if (st->n_parts < 1)
                        snprintf(errstr + n, errstr_size - n,
                                 " (snapshot.topic: create it with "
                                 "cleanup.policy=compact)");
                goto fail;
        }
        return st;
fail:
        ls_snapstore_destroy(st);
        return NULL;
}

void ls_snapstore_destroy(ls_snapstore_t *st) {
        if (!st)
                return;
        if (st->producer) {
                rd_kafka_flush(st->producer, 10000);
                rd_kafka_destroy(st->producer);
        }
        if (st->reader) {
                rd_kafka_consumer_close(st->reader);
                rd_kafka_destroy(st->reader);
        }
        ls_free(st->last_seq);
        ls_free(st->kept_seq);
        ls_free(st->topic);
        ls_free(st->dir);
        ls_free(st);
}

const char *ls_snapstore_where(const ls_snapstore_t *st) {
        return st->where;
}

/* The newest sequence of shard partition @p p (grows the table). */
static uint64_t *ls_ss_last(ls_snapstore_t *st, int32_t p) {
        if ((size_t)p >= st->n_last) {
                size_t n = (size_t)p + 16;
                uint64_t *nl = ls_realloc(st->last_seq, n * sizeof(*nl));
                uint64_t *nk;

                if (!nl)
                        return NULL;
                st->last_seq = nl;
                if (!(nk = ls_realloc(st->kept_seq, n * sizeof(*nk))))
                        return NULL;
                st->kept_seq = nk;
                memset(nl + st->n_last, 0, (n - st->n_last) * sizeof(*nl));
                memset(nk + st->n_last, 0, (n - st->n_last) * sizeof(*nk));
                st->n_last = n;
        }
        return &st->last_seq[p];
}

static void ls_ss_put32(unsigned char *p, uint32_t v) {
        memcpy(p, &v, 4);
}

static ls_err_t ls_ss_write_topic(ls_snapstore_t *st, ls_snapshot_meta_t *meta,
                                  const ls_shard_t *shard, ls_buf_t *scratch,
                                  char *loc, size_t loc_size, char *errstr,
                                  size_t errstr_size) {
        uint64_t *last = ls_ss_last(st, meta->partition);
        int32_t sp = meta->partition % st->n_parts;
        unsigned char *val = NULL;
        uint32_t n, i;
        struct timespec ts;
        ls_err_t err = LS_OK;

        if (!last)
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "out of memory");
        /* Above every sequence seen, in the slot that does not hold the
         * complete snapshot the restore used (or the last write): a
         * write cut short must leave that one whole. */
        meta->seq = *last + 1;
        if (st->kept_seq[meta->partition] &&
            (meta->seq & 1) == (st->kept_seq[meta->partition] & 1))
                meta->seq++;
        clock_gettime(CLOCK_REALTIME, &ts);
        meta->created_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        ls_buf_reset(scratch);
        if (ls_snapshot_encode(meta, shard, scratch) ||
            !(val = ls_malloc(LS_SS_HDR + LS_SS_CHUNK)))
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "snapshot of partition %" PRId32
                                 ": out of memory",
                                 meta->partition);
        n = (uint32_t)((scratch->len + LS_SS_CHUNK - 1) / LS_SS_CHUNK);
        st->dr_failed = 0;
        for (i = 0; i < n; i++) {
                size_t off = (size_t)i * LS_SS_CHUNK;
                size_t len = scratch->len - off < LS_SS_CHUNK
                                     ? scratch->len - off
                                     : LS_SS_CHUNK;
                char key[300];
                rd_kafka_resp_err_t kerr;

                memcpy(val, LS_SS_MAGIC, 4);
                ls_ss_put32(val + 4, LS_SS_VERSION);
                memcpy(val + 8, &meta->seq, 8);
                ls_ss_put32(val + 16, n);
                ls_ss_put32(val + 20, i);
                memcpy(val + LS_SS_HDR, scratch->data + off, len);
                snprintf(key, sizeof(key), "%s/%" PRId32 "/%u/%u", meta->group,
                         meta->partition, (unsigned)(meta->seq & 1), i);
                while ((kerr = rd_kafka_producev(
                                st->producer, RD_KAFKA_V_TOPIC(st->topic),
                                RD_KAFKA_V_PARTITION(sp),
                                RD_KAFKA_V_KEY(key, strlen(key)),
                                RD_KAFKA_V_VALUE(val, LS_SS_HDR + len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_OPAQUE(st), RD_KAFKA_V_END)) ==
                       RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        rd_kafka_poll(st->producer, 100);
                if (kerr) {
                        err = ls_seterr(errstr, errstr_size, LS_ERR_KAFKA,
                                        "snapshot.topic %s: cannot produce: "
                                        "%s",
                                        st->topic, rd_kafka_err2str(kerr));
                        break;
                }
        }
        ls_free(val);
        if (rd_kafka_flush(st->producer, LS_SS_TIMEOUT_MS) && !err)
                err = ls_seterr(errstr, errstr_size, LS_ERR_KAFKA,
                                "snapshot.topic %s: not acknowledged within "
                                "%d s",
                                st->topic, LS_SS_TIMEOUT_MS / 1000);
        if (!err && st->dr_failed)
                err = ls_seterr(errstr, errstr_size, LS_ERR_KAFKA,
                                "snapshot.topic %s: %s", st->topic, st->dr_err);
        if (err)
                return err;
        *last = meta->seq;
        st->kept_seq[meta->partition] = meta->seq;
        snprintf(loc, loc_size,
                 "topic %s [%" PRId32 "] sequence %" PRIu64 " (%u record%s)",
                 st->topic, sp, meta->seq, n, n == 1 ? "" : "s");
        return LS_OK;
}

ls_err_t ls_snapstore_write(ls_snapstore_t *st, ls_snapshot_meta_t *meta,
                            const ls_shard_t *shard, ls_buf_t *scratch,
                            char *loc, size_t loc_size, char *errstr,
                            size_t errstr_size) {
        if (st->dir)
                return ls_snapshot_write(st->dir, meta, shard, st->keep,
                                         scratch, loc, loc_size, errstr,
                                         errstr_size);
        return ls_ss_write_topic(st, meta, shard, scratch, loc, loc_size,
                                 errstr, errstr_size);
}

/* One chunk record as read back. */
typedef struct ls_ss_chunk_s {
        uint64_t seq;
        uint32_t n;
        ls_buf_t data;
        int present;
} ls_ss_chunk_t;

typedef struct ls_ss_slot_s {
        ls_ss_chunk_t *chunks;
        size_t size;
} ls_ss_slot_t;

static void ls_ss_slot_free(ls_ss_slot_t *s) {
        size_t i;

        for (i = 0; i < s->size; i++)
                ls_buf_free(&s->chunks[i].data);
        ls_free(s->chunks);
}

/* Takes one record of the snapshot partition (ours or not). */
static ls_err_t ls_ss_take(ls_ss_slot_t slots[2], const char *prefix,
                           const rd_kafka_message_t *rkm) {
        size_t pl = strlen(prefix);
        const char *k = rkm->key;
        char tail[32];
        unsigned slot, idx;
        ls_ss_chunk_t *c;
        uint32_t version, n, i;

        if (!k || rkm->key_len <= pl || rkm->key_len - pl >= sizeof(tail) ||
            memcmp(k, prefix, pl))
                return LS_OK;
        memcpy(tail, k + pl, rkm->key_len - pl);
        tail[rkm->key_len - pl] = '\0';
        {
                /* exactly "SLOT/CHUNK", digits only: another group whose
                 * name extends ours ("g/1") must not match */
                char *end;
                if (tail[0] != '0' && tail[0] != '1')
                        return LS_OK;
                slot = (unsigned)(tail[0] - '0');
                if (tail[1] != '/' || tail[2] < '0' || tail[2] > '9')
                        return LS_OK;
                idx = (unsigned)strtoul(tail + 2, &end, 10);
                if (*end != '\0' || idx > (1u << 20))
                        return LS_OK;
        }
        if (idx >= slots[slot].size) {
                size_t ns = idx + 8;
                ls_ss_chunk_t *nc =
                        ls_realloc(slots[slot].chunks, ns * sizeof(*nc));
                if (!nc)
                        return LS_ERR_NOMEM;
                memset(nc + slots[slot].size, 0,
                       (ns - slots[slot].size) * sizeof(*nc));
                slots[slot].chunks = nc;
                slots[slot].size = ns;
        }
        c = &slots[slot].chunks[idx];
        c->present = 0;
        ls_buf_reset(&c->data);
        if (!rkm->payload)
                return LS_OK; /* a tombstone */
        if (rkm->len < LS_SS_HDR || memcmp(rkm->payload, LS_SS_MAGIC, 4))
                return LS_OK;
        memcpy(&version, (const char *)rkm->payload + 4, 4);
        memcpy(&c->seq, (const char *)rkm->payload + 8, 8);
        memcpy(&n, (const char *)rkm->payload + 16, 4);
        memcpy(&i, (const char *)rkm->payload + 20, 4);
        if (version != LS_SS_VERSION || i != idx || n == 0)
                return LS_OK;
        c->n = n;
        if (ls_buf_append(&c->data, (const char *)rkm->payload + LS_SS_HDR,
                          rkm->len - LS_SS_HDR))
                return LS_ERR_NOMEM;
        c->present = 1;
        return LS_OK;
}

/* 1 for the errors a partition's leader gives while it moves or is
 * elected (a topic just created, a broker restarting): worth asking
 * again. */
static int ls_ss_transient(rd_kafka_resp_err_t kerr) {
        return kerr == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
               kerr == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
               kerr == RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT ||
               kerr == RD_KAFKA_RESP_ERR__TIMED_OUT ||
               kerr == RD_KAFKA_RESP_ERR__TRANSPORT ||
               kerr == RD_KAFKA_RESP_ERR_NOT_COORDINATOR ||
               kerr == RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH ||
               kerr == RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH;
}

/* The watermarks of snapshot partition @p sp, asked again while the
 * answer is transient (ls_ss_transient), for up to LS_SS_TIMEOUT_MS. */
static rd_kafka_resp_err_t ls_ss_watermarks(ls_snapstore_t *st, int32_t sp,
                                            int64_t *lo, int64_t *hi) {
        struct timespec t0, t;
        rd_kafka_resp_err_t kerr;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
                kerr = rd_kafka_query_watermark_offsets(
                        st->reader, st->topic, sp, lo, hi, LS_SS_META_MS);
                clock_gettime(CLOCK_MONOTONIC, &t);
                if (!ls_ss_transient(kerr) ||
                    (t.tv_sec - t0.tv_sec) * 1000 > LS_SS_TIMEOUT_MS)
                        return kerr;
                nanosleep(&(struct timespec){0, 200 * 1000000L}, NULL);
        }
}

/* Reads snapshot partition @p sp from its start to its end. */
static ls_err_t ls_ss_read(ls_snapstore_t *st, int32_t sp, const char *prefix,
                           ls_ss_slot_t slots[2], char *errstr,
                           size_t errstr_size) {
        rd_kafka_topic_partition_list_t *list;
        int64_t lo = -1, hi = -1;
        rd_kafka_resp_err_t kerr;
        struct timespec t0, t;
        ls_err_t err = LS_OK;

        kerr = ls_ss_watermarks(st, sp, &lo, &hi);
        if (kerr)
                return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                 "snapshot.topic %s [%" PRId32 "]: cannot "
                                 "read its offsets: %s",
                                 st->topic, sp, rd_kafka_err2str(kerr));
        if (hi <= lo)
                return LS_OK;
        list = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(list, st->topic, sp)->offset = lo;
        kerr = rd_kafka_assign(st->reader, list);
        rd_kafka_topic_partition_list_destroy(list);
        if (kerr)
                return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                 "snapshot.topic %s [%" PRId32 "]: %s",
                                 st->topic, sp, rd_kafka_err2str(kerr));
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
                rd_kafka_message_t *rkm =
                        rd_kafka_consumer_poll(st->reader, 200);
                int done = 0;

                clock_gettime(CLOCK_MONOTONIC, &t);
                if (rkm && !rkm->err)
                        t0 = t; /* the deadline counts from progress */
                if (!rkm) {
                        if ((t.tv_sec - t0.tv_sec) * 1000 > LS_SS_TIMEOUT_MS) {
                                err = ls_seterr(
                                        errstr, errstr_size, LS_ERR_IO,
                                        "snapshot.topic %s [%" PRId32
                                        "]: offsets %" PRId64 "..%" PRId64
                                        " not read: no progress for %d s",
                                        st->topic, sp, lo, hi,
                                        LS_SS_TIMEOUT_MS / 1000);
                                break;
                        }
                        continue;
                }
                if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        done = rkm->offset >= hi;
                } else if (
                        rkm->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                        rkm->err ==
                                RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
                        rkm->err == RD_KAFKA_RESP_ERR__FATAL) {
                        err = ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                        "snapshot.topic %s [%" PRId32 "]: %s",
                                        st->topic, sp,
                                        rd_kafka_message_errstr(rkm));
                        done = 1;
                } else if (rkm->err) {
                        /* transient (a connection, a leader moving): the
                         * consumer retries; the deadline ends it */
                } else if (rkm->offset < hi) {
                        err = ls_ss_take(slots, prefix, rkm);
                        done = err || rkm->offset + 1 >= hi;
                } else {
                        done = 1;
                }
                rd_kafka_message_destroy(rkm);
                if (done)
                        break;
        }
        rd_kafka_assign(st->reader, NULL);
        return err;
}

static ls_err_t
ls_ss_restore_topic(ls_snapstore_t *st, const char *group, int32_t partition,
                    const char *const topics[2], const ls_modelset_t *ms,
                    ls_snapshot_report_cb *report, void *opaque,
                    ls_snapshot_meta_t *meta, ls_shard_t **shardp, char *loc,
                    size_t loc_size, char *errstr, size_t errstr_size) {
        int32_t sp = partition % st->n_parts;
        ls_ss_slot_t slots[2];
        uint64_t *last = ls_ss_last(st, partition);
        char prefix[300], where[400], why[1200];
        uint64_t seqs[2] = {0, 0};
        int complete[2] = {0, 0}, order[2] = {0, 1}, k, incomplete = 0;
        ls_buf_t img;
        ls_err_t err;

        *shardp = NULL;
        if (!last)
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "out of memory");
        memset(slots, 0, sizeof(slots));
        ls_buf_init(&img);
        snprintf(prefix, sizeof(prefix), "%s/%" PRId32 "/", group, partition);
        if ((err = ls_ss_read(st, sp, prefix, slots, errstr, errstr_size)))
                goto out;
        for (k = 0; k < 2; k++) {
                const ls_ss_slot_t *s = &slots[k];
                uint32_t i, have = 0, n;

                if (s->size == 0 || !s->chunks[0].present)
                        continue;
                n = s->chunks[0].n;
                seqs[k] = s->chunks[0].seq;
                for (i = 0; i < n && i < s->size; i++)
                        have += s->chunks[i].present &&
                                s->chunks[i].seq == seqs[k] &&
                                s->chunks[i].n == n;
                if (seqs[k] > *last)
                        *last = seqs[k];
                complete[k] = have == n;
                incomplete += !complete[k];
        }
        /* A write cut short next to a complete snapshot is that
         * snapshot's successor, lost: reported. Without any complete one
         * it was the partition's first, which nothing was committed
         * against: as if there were none. */
        for (k = 0; k < 2 && (complete[0] || complete[1]); k++)
                if (!complete[k] && seqs[k]) {
                        snprintf(where, sizeof(where),
                                 "topic %s [%" PRId32 "] sequence %" PRIu64,
                                 st->topic, sp, seqs[k]);
                        if (report)
                                report(opaque, where,
                                       "incomplete (a write cut short); "
                                       "the other slot is used");
                }
        if (seqs[1] > seqs[0]) {
                order[0] = 1;
                order[1] = 0;
        }
        for (k = 0; k < 2; k++) {
                const ls_ss_slot_t *s = &slots[order[k]];
                uint32_t i;

                if (!complete[order[k]])
                        continue;
                ls_buf_reset(&img);
                for (i = 0; i < s->chunks[0].n; i++)
                        if (ls_buf_append(&img, s->chunks[i].data.data,
                                          s->chunks[i].data.len)) {
                                err = ls_seterr(errstr, errstr_size,
                                                LS_ERR_NOMEM, "out of memory");
                                goto out;
                        }
                snprintf(where, sizeof(where),
                         "topic %s [%" PRId32 "] sequence %" PRIu64, st->topic,
                         sp, seqs[order[k]]);
                if (ls_snapshot_load_image(img.data ? img.data : "", img.len,
                                           group, partition, topics, ms, meta,
                                           shardp, why, sizeof(why)) == LS_OK) {
                        st->kept_seq[partition] = seqs[order[k]];
                        snprintf(loc, loc_size, "%s", where);
                        goto out;
                }
                if (report)
                        report(opaque, where, why);
        }
        memset(meta, 0, sizeof(*meta));
        err = ls_seterr(errstr, errstr_size, LS_ERR_NOT_FOUND,
                        "no usable snapshot of %s-%" PRId32 " in topic %s"
                        "%s",
                        group, partition, st->topic,
                        incomplete ? " (a first write cut short ignored)" : "");
out:
        ls_ss_slot_free(&slots[0]);
        ls_ss_slot_free(&slots[1]);
        ls_buf_free(&img);
        return err;
}

ls_err_t ls_snapstore_restore(ls_snapstore_t *st, const char *group,
                              int32_t partition, const char *const topics[2],
                              const ls_modelset_t *ms,
                              ls_snapshot_report_cb *report, void *opaque,
                              ls_snapshot_meta_t *meta, ls_shard_t **shardp,
                              char *loc, size_t loc_size, char *errstr,
                              size_t errstr_size) {
        if (st->dir)
                return ls_snapshot_restore(st->dir, group, partition, topics,
                                           ms, report, opaque, meta, shardp,
                                           loc, loc_size, errstr, errstr_size);
        return ls_ss_restore_topic(st, group, partition, topics, ms, report,
                                   opaque, meta, shardp, loc, loc_size, errstr,
                                   errstr_size);
}
