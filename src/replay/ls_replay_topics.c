/*
 * ls_replay_topics.c - replay of topic ranges: the replay's Kafka client,
 * the bounds of every partition (offsets, or times through the broker's
 * time index and a timestamp filter), reading by assignment, and the worker
 * threads that score whole partitions.
 *
 * The driving thread reads every partition of the topics into one record
 * array per partition (value and key bytes in an arena) and queues a
 * partition once all its topics reached their end bound. A worker puts the
 * partition's records in the order `leadscore run` applies them, computed
 * by the merge module (ls_merge.h: each topic in offset order, the two
 * merged by event time), and scores them in that order. With an observer
 * there is one worker and partitions are queued in number order, so the
 * observer sees one order whatever the timing.
 *
 * ls_replay_topic_each() reads a topic that is not scored (calibrate's
 * outcomes) partition after partition with the same consumer.
 */
#include "replay/ls_replay_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_kafka.h"
#include "leadscore/ls_keys.h"
#include "leadscore/ls_tick.h"
#include "leadscore/ls_merge.h"

/* --------------------------------------------------------------- client */

rd_kafka_t *ls_rp_client(ls_replay_t *rp, rd_kafka_type_t type, char *errstr,
                         size_t errstr_size) {
        ls_kafka_opts_t ko;

        memset(&ko, 0, sizeof(ko));
        ko.role = type == RD_KAFKA_CONSUMER ? LS_KAFKA_REPLAY_CONSUMER
                                            : LS_KAFKA_REPLAY_PRODUCER;
        ko.kafka = rp->conf.kafka;
        ko.bootstrap = rp->conf.brokers;
        rp->kenv.owner = rp; /* no log: librdkafka's own, on stderr */
        ko.env = &rp->kenv;
        if (type == RD_KAFKA_PRODUCER)
                ko.dr_msg_cb = ls_rp_dr_cb;
        return ls_kafka_client_new(&ko, errstr, errstr_size);
}

/* ------------------------------------------------------- topic scoring */

/** @p r of partition @p part as the scorer and the merge see it. */
static void ls_rp_record(const ls_replay_t *rp, const ls_rp_part_t *part,
                         const ls_rp_rec_t *r, ls_record_t *rec) {
        const char *val = part->data.data ? part->data.data + r->val_off : "";

        rec->kind = r->topic ? LS_INPUT_PROFILE : LS_INPUT_EVENT;
        rec->value = val;
        rec->len = r->val_len;
        rec->topic = r->topic ? rp->conf.topic_profiles : rp->conf.topic_events;
        rec->key = r->key_len == LS_RP_NO_KEY ? NULL : val + r->val_len;
        rec->key_len = r->key_len == LS_RP_NO_KEY ? 0 : r->key_len;
        rec->partition = part->p;
        rec->partition_cnt = rp->topic_parts[r->topic];
        rec->timestamp = r->ts;
        rec->tick = r->tick;
}

/**
 * Puts the partition's records in the merge order of `leadscore run`
 * (ls_merge.h). The records were read in offset order per topic.
 */
static int ls_rp_merge_part(ls_replay_t *rp, ls_rp_worker_t *w,
                            ls_rp_part_t *part, size_t **orderp) {
        int64_t *time = ls_malloc(part->n_recs * sizeof(*time) + 1);
        uint8_t *topic = ls_malloc(part->n_recs + 1);
        size_t *order = ls_malloc(part->n_recs * sizeof(*order) + 1);
        ls_record_t rec;
        size_t i;

        if (!time || !topic || !order) {
                ls_free(time);
                ls_free(topic);
                ls_free(order);
                ls_rp_fail(rp, LS_ERR_NOMEM,
                           "out of memory ordering "
                           "partition %" PRId32,
                           part->p);
                return -1;
        }
        for (i = 0; i < part->n_recs; i++) {
                ls_rp_record(rp, part, &part->recs[i], &rec);
                time[i] = ls_merge_time(w->codec, &rec, rp->conf.ms[0]);
                topic[i] = part->recs[i].topic;
        }
        ls_merge_order(time, topic, part->n_recs, order);
        ls_free(time);
        ls_free(topic);
        *orderp = order;
        return 0;
}

static void ls_rp_score_part(ls_replay_t *rp, ls_rp_worker_t *w,
                             ls_rp_part_t *part) {
        size_t i, *order = NULL;
        ls_record_t rec;
        ls_rp_loc_t loc;
        int k;

        if (ls_rp_merge_part(rp, w, part, &order))
                return;
        for (i = 0; i < part->n_recs; i++) {
                const ls_rp_rec_t *r = &part->recs[order[i]];

                if (i % 4096 == 0 && ls_rp_failed(rp))
                        break;
                ls_rp_record(rp, part, r, &rec);
                loc.name = rec.topic;
                loc.partition = part->p;
                loc.pos = r->offset;
                loc.unit = "offset";
                if (ls_rp_feed(rp, w, part, w->codec, &rec, &loc))
                        break;
                atomic_fetch_add(&rp->scored, 1);
        }
        ls_free(order);
        if (i < part->n_recs || ls_rp_feed_end(rp, w, part))
                return;
        ls_free(part->recs);
        part->recs = NULL;
        ls_buf_free(&part->data);
        for (k = 0; k < 2; k++)
                ls_rp_avro_block(rp, part, k);
        ls_rp_writer(rp, part, 1);
}

static void *ls_rp_worker_main(void *arg) {
        ls_rp_worker_t *w = arg;
        ls_replay_t *rp = w->rp;
        int32_t p;

        for (;;) {
                pthread_mutex_lock(&rp->mu);
                while (rp->q_head == rp->q_tail && !rp->read_done &&
                       !rp->failed)
                        pthread_cond_wait(&rp->cond, &rp->mu);
                if (rp->failed || rp->q_head == rp->q_tail) {
                        pthread_mutex_unlock(&rp->mu);
                        return NULL;
                }
                p = rp->queue[rp->q_head++];
                pthread_mutex_unlock(&rp->mu);
                ls_rp_score_part(rp, w, &rp->parts[p]);
        }
}

/* -------------------------------------------------------- topic reading */

/** Queues @p part once all its topics are read; with an observer, the
 *  partitions go in number order instead (the next one, as long as it is
 *  read), so that the one worker scores them in that order. The driving
 *  thread (the only one that moves q_tail). */
static void ls_rp_enqueue_ready(ls_replay_t *rp, ls_rp_part_t *part) {
        for (;;) {
                if (rp->conf.observe) {
                        if (rp->q_tail >= rp->n_parts)
                                return;
                        part = &rp->parts[rp->q_tail];
                }
                if (part->queued || !part->done[0] || !part->done[1])
                        return;
                part->queued = 1;
                pthread_mutex_lock(&rp->mu);
                rp->queue[rp->q_tail++] = part->p;
                pthread_cond_broadcast(&rp->cond);
                pthread_mutex_unlock(&rp->mu);
                if (!rp->conf.observe)
                        return;
        }
}

/** Resolves a bound of every partition of @p topic into offs[]. */
static ls_err_t ls_rp_resolve(ls_replay_t *rp, rd_kafka_t *rk,
                              const char *topic, int32_t n,
                              const ls_replay_bound_t *b, const int64_t *lo,
                              const int64_t *hi, int64_t *offs, char *errstr,
                              size_t errstr_size) {
        rd_kafka_topic_partition_list_t *l;
        rd_kafka_resp_err_t kerr;
        int32_t p;
        int i;

        if (b->kind != LS_REPLAY_TIME) {
                for (p = 0; p < n; p++) {
                        int64_t o = b->kind == LS_REPLAY_EARLIEST ? lo[p]
                                    : b->kind == LS_REPLAY_LATEST ? hi[p]
                                                                  : b->value;
                        offs[p] = o < lo[p] ? lo[p] : o > hi[p] ? hi[p] : o;
                }
                return LS_OK;
        }
        l = rd_kafka_topic_partition_list_new(n);
        for (p = 0; p < n; p++)
                rd_kafka_topic_partition_list_add(l, topic, p)->offset =
                        b->value;
        kerr = rd_kafka_offsets_for_times(rk, l, 10000);
        if (kerr) {
                rd_kafka_topic_partition_list_destroy(l);
                return ls_seterr(errstr, errstr_size, LS_ERR_KAFKA,
                                 "%s: offsets for time %" PRId64 ": %s", topic,
                                 b->value, rd_kafka_err2str(kerr));
        }
        for (i = 0; i < l->cnt; i++) {
                p = l->elems[i].partition;
                if (l->elems[i].err) {
                        ls_seterr(errstr, errstr_size, LS_ERR_KAFKA,
                                  "%s [%" PRId32 "]: offsets for time: %s",
                                  topic, p, rd_kafka_err2str(l->elems[i].err));
                        rd_kafka_topic_partition_list_destroy(l);
                        return LS_ERR_KAFKA;
                }
                /* -1: no record at or after the time, or a broker without
                 * a time index (the test broker): a start bound then scans
                 * from the beginning; the timestamp filter decides. */
                offs[p] = l->elems[i].offset >= 0 ? l->elems[i].offset
                          : b == &rp->conf.from   ? lo[p]
                                                  : hi[p];
                if (offs[p] < lo[p])
                        offs[p] = lo[p];
                if (offs[p] > hi[p])
                        offs[p] = hi[p];
        }
        rd_kafka_topic_partition_list_destroy(l);
        return LS_OK;
}

/** Reads the topic ranges, handing complete partitions to the workers. */
static ls_err_t ls_rp_read_topics(ls_replay_t *rp, rd_kafka_t *rk, char *errstr,
                                  size_t errstr_size) {
        const char *names[2] = {rp->conf.topic_events, rp->conf.topic_profiles};
        int n_topics = names[1] ? 2 : 1;
        int32_t counts[2] = {0, 0}, n = 0, p;
        int64_t *lo = NULL, *hi = NULL, *from = NULL, *to = NULL;
        rd_kafka_topic_partition_list_t *assign;
        rd_kafka_queue_t *q = NULL;
        rd_kafka_message_t **msgs = NULL;
        rd_kafka_resp_err_t kerr;
        ls_err_t err = LS_OK;
        int t, left = 0;
        double last_data;
        int64_t ts_from = rp->conf.from.kind == LS_REPLAY_TIME
                                  ? rp->conf.from.value
                                  : INT64_MIN;
        int64_t ts_to = rp->conf.to.kind == LS_REPLAY_TIME ? rp->conf.to.value
                                                           : INT64_MAX;

        for (t = 0; t < n_topics; t++) {
                counts[t] = ls_keys_partition_count(rk, names[t], 10000, errstr,
                                                    errstr_size);
                if (counts[t] < 0)
                        return LS_ERR_KAFKA;
                if (counts[t] > n)
                        n = counts[t];
        }
        rp->topic_parts[0] = counts[0];
        rp->topic_parts[1] = n_topics == 2 ? counts[1] : 0;
        if (n_topics == 2 && counts[0] != counts[1])
                fprintf(stderr,
                        "leadscore replay: warning: %s has %" PRId32
                        " partitions and %s %" PRId32
                        "; they should be co-partitioned\n",
                        names[0], counts[0], names[1], counts[1]);
        if ((err = ls_rp_alloc_parts(rp, n, errstr, errstr_size)))
                return err;
        lo = ls_calloc((size_t)n, sizeof(*lo));
        hi = ls_calloc((size_t)n, sizeof(*hi));
        from = ls_calloc((size_t)n, sizeof(*from));
        to = ls_calloc((size_t)n, sizeof(*to));
        msgs = ls_calloc(LS_RP_BATCH, sizeof(*msgs));
        assign = rd_kafka_topic_partition_list_new(n * 2);
        if (!lo || !hi || !from || !to || !msgs) {
                err = ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                "out of memory");
                goto done;
        }
        for (p = 0; p < n; p++)
                rp->parts[p].done[0] = rp->parts[p].done[1] = 1;
        for (t = 0; t < n_topics; t++) {
                for (p = 0; p < counts[t]; p++) {
                        kerr = rd_kafka_query_watermark_offsets(
                                rk, names[t], p, &lo[p], &hi[p], 10000);
                        if (kerr) {
                                err = ls_seterr(
                                        errstr, errstr_size, LS_ERR_KAFKA,
                                        "%s [%" PRId32 "]: watermarks: %s",
                                        names[t], p, rd_kafka_err2str(kerr));
                                goto done;
                        }
                }
                if ((err = ls_rp_resolve(rp, rk, names[t], counts[t],
                                         &rp->conf.from, lo, hi, from, errstr,
                                         errstr_size)) ||
                    (err = ls_rp_resolve(rp, rk, names[t], counts[t],
                                         &rp->conf.to, lo, hi, to, errstr,
                                         errstr_size)))
                        goto done;
                for (p = 0; p < counts[t]; p++) {
                        ls_rp_part_t *part = &rp->parts[p];
                        part->start[t] = from[p];
                        part->end[t] = to[p];
                        if (from[p] >= to[p])
                                continue;
                        part->done[t] = 0;
                        left++;
                        rp->total += (uint64_t)(to[p] - from[p]);
                        rd_kafka_topic_partition_list_add(assign, names[t], p)
                                ->offset = from[p];
                }
        }
        for (p = 0; p < n; p++)
                ls_rp_enqueue_ready(rp, &rp->parts[p]);
        if (left == 0)
                goto done;
        if ((kerr = rd_kafka_assign(rk, assign))) {
                err = ls_seterr(errstr, errstr_size, LS_ERR_KAFKA, "assign: %s",
                                rd_kafka_err2str(kerr));
                goto done;
        }
        q = rd_kafka_queue_get_consumer(rk);
        last_data = ls_rp_now();
        while (left > 0 && !ls_rp_failed(rp)) {
                ssize_t got =
                        rd_kafka_consume_batch_queue(q, 200, msgs, LS_RP_BATCH);
                ssize_t i;

                if (got < 0) {
                        err = ls_seterr(
                                errstr, errstr_size, LS_ERR_KAFKA,
                                "consume: %s",
                                rd_kafka_err2str(rd_kafka_last_error()));
                        goto done;
                }
                if (got > 0)
                        last_data = ls_rp_now();
                for (i = 0; i < got; i++) {
                        rd_kafka_message_t *m = msgs[i];
                        const char *tn =
                                m->rkt ? rd_kafka_topic_name(m->rkt) : "";
                        ls_rp_part_t *part;
                        ls_rp_rec_t *r;
                        rd_kafka_timestamp_type_t tstype;
                        int64_t ts;

                        t = !strcmp(tn, names[0]) ? 0 : 1;
                        if (m->partition < 0 || m->partition >= n ||
                            (t == 1 && (!names[1] || strcmp(tn, names[1])))) {
                                rd_kafka_message_destroy(m);
                                continue;
                        }
                        part = &rp->parts[m->partition];
                        if (m->err) {
                                if (m->err !=
                                            RD_KAFKA_RESP_ERR__PARTITION_EOF &&
                                    err == LS_OK)
                                        err = ls_seterr(
                                                errstr, errstr_size,
                                                LS_ERR_KAFKA,
                                                "%s [%" PRId32 "]: %s", tn,
                                                m->partition,
                                                rd_kafka_message_errstr(m));
                                else if (!part->done[t] &&
                                         m->offset >= part->end[t]) {
                                        part->done[t] = 1;
                                        left--;
                                }
                                rd_kafka_message_destroy(m);
                                continue;
                        }
                        if (part->done[t] || m->offset >= part->end[t]) {
                                rd_kafka_message_destroy(m);
                                continue;
                        }
                        ts = rd_kafka_message_timestamp(m, &tstype);
                        if (ts < ts_from || ts >= ts_to) {
                                /* outside a time bound */
                                rp->out_of_bounds++;
                                if (m->offset + 1 >= part->end[t]) {
                                        part->done[t] = 1;
                                        left--;
                                        ls_rp_enqueue_ready(rp, part);
                                }
                                rd_kafka_message_destroy(m);
                                continue;
                        }
                        if (part->n_recs == part->size_recs) {
                                size_t ns = part->size_recs
                                                    ? part->size_recs * 2
                                                    : 1024;
                                ls_rp_rec_t *nr = ls_realloc(part->recs,
                                                             ns * sizeof(*nr));
                                if (!nr) {
                                        rd_kafka_message_destroy(m);
                                        err = ls_seterr(errstr, errstr_size,
                                                        LS_ERR_NOMEM,
                                                        "out of memory");
                                        continue;
                                }
                                part->recs = nr;
                                part->size_recs = ns;
                        }
                        r = &part->recs[part->n_recs++];
                        r->ts = ts;
                        r->offset = m->offset;
                        r->topic = (uint8_t)t;
                        r->val_off = part->data.len;
                        r->val_len = (uint32_t)m->len;
                        r->tick = ls_tick_read(m);
                        r->key_len =
                                m->key ? (uint32_t)m->key_len : LS_RP_NO_KEY;
                        if ((m->len &&
                             ls_buf_append(&part->data, m->payload, m->len)) ||
                            (m->key && m->key_len &&
                             ls_buf_append(&part->data, m->key, m->key_len)))
                                err = ls_seterr(errstr, errstr_size,
                                                LS_ERR_NOMEM, "out of memory");
                        rp->records++;
                        if (m->offset + 1 >= part->end[t]) {
                                part->done[t] = 1;
                                left--;
                        }
                        rd_kafka_message_destroy(m);
                        ls_rp_enqueue_ready(rp, part);
                }
                if (err)
                        goto done;
                for (p = 0; p < n; p++)
                        ls_rp_enqueue_ready(rp, &rp->parts[p]);
                ls_rp_progress(rp, 0);
                if (ls_rp_now() - last_data > LS_RP_STALL_MS / 1000.0) {
                        err = ls_seterr(errstr, errstr_size, LS_ERR_KAFKA,
                                        "no data for %d s with %d topic "
                                        "partitions short of their end "
                                        "bound",
                                        LS_RP_STALL_MS / 1000, left);
                        goto done;
                }
        }
done:
        rp->t_read = ls_rp_now();
        if (q)
                rd_kafka_queue_destroy(q);
        rd_kafka_assign(rk, NULL);
        rd_kafka_topic_partition_list_destroy(assign);
        ls_free(lo);
        ls_free(hi);
        ls_free(from);
        ls_free(to);
        ls_free(msgs);
        return err;
}

ls_err_t ls_rp_run_topics(ls_replay_t *rp, char *errstr, size_t errstr_size) {
        rd_kafka_t *rk;
        ls_err_t err;
        int i, n;
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

        if (!(rk = ls_rp_client(rp, RD_KAFKA_CONSUMER, errstr, errstr_size)))
                return LS_ERR_KAFKA;
        rd_kafka_poll_set_consumer(rk);
        n = rp->conf.threads > 0 ? rp->conf.threads
                                 : (int)(ncpu > 0 ? ncpu : 1);
        if (rp->conf.observe) /* one thread, partitions in order */
                n = 1;
        if (n > LS_RP_MAX_THREADS)
                n = LS_RP_MAX_THREADS;
        rp->workers = ls_calloc((size_t)n, sizeof(*rp->workers));
        if (!rp->workers) {
                rd_kafka_destroy(rk);
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "out of memory");
        }
        rp->n_workers = n;
        for (i = 0; i < n; i++) {
                if ((err = ls_rp_worker_init(rp, &rp->workers[i], errstr,
                                             errstr_size))) {
                        rd_kafka_destroy(rk);
                        return err;
                }
        }
        for (i = 0; i < n; i++) {
                if (pthread_create(&rp->workers[i].tid, NULL, ls_rp_worker_main,
                                   &rp->workers[i]))
                        break;
                rp->workers[i].started = 1;
        }
        err = ls_rp_read_topics(rp, rk, errstr, errstr_size);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);

        pthread_mutex_lock(&rp->mu);
        rp->read_done = 1;
        if (err && !rp->failed) {
                rp->failed = 1;
                rp->fail_err = err;
                snprintf(rp->fail_str, sizeof(rp->fail_str), "%s", errstr);
        }
        pthread_cond_broadcast(&rp->cond);
        while (!rp->failed && rp->next_write < rp->n_parts) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 250 * 1000 * 1000;
                if (ts.tv_nsec >= 1000000000) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&rp->cond, &rp->mu, &ts);
                pthread_mutex_unlock(&rp->mu);
                ls_rp_progress(rp, 0);
                pthread_mutex_lock(&rp->mu);
        }
        pthread_mutex_unlock(&rp->mu);
        for (i = 0; i < n; i++)
                if (rp->workers[i].started)
                        pthread_join(rp->workers[i].tid, NULL);
        return LS_OK;
}

/* ------------------------------------------------- a topic read whole */

/** Reads partition @p p of @p topic, low to high watermark, into @p cb. */
static ls_err_t ls_rp_each_part(
        rd_kafka_t *rk, rd_kafka_queue_t *q, const char *topic, int32_t p,
        ls_err_t (*cb)(void *opaque, const char *topic, int32_t partition,
                       int64_t offset, const void *value, size_t len),
        void *opaque, char *errstr, size_t errstr_size) {
        rd_kafka_topic_partition_list_t *l;
        rd_kafka_resp_err_t kerr;
        rd_kafka_message_t *m;
        int64_t lo, hi, next;
        ls_err_t err = LS_OK;
        double last_data;

        kerr = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000);
        if (kerr)
                return ls_seterr(errstr, errstr_size, LS_ERR_KAFKA,
                                 "%s [%" PRId32 "]: watermarks: %s", topic, p,
                                 rd_kafka_err2str(kerr));
        if (lo >= hi)
                return LS_OK;
        l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = lo;
        kerr = rd_kafka_assign(rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        if (kerr)
                return ls_seterr(errstr, errstr_size, LS_ERR_KAFKA,
                                 "%s [%" PRId32 "]: assign: %s", topic, p,
                                 rd_kafka_err2str(kerr));
        next = lo;
        last_data = ls_rp_now();
        while (next < hi && !err) {
                if (!(m = rd_kafka_consume_queue(q, 200))) {
                        if (ls_rp_now() - last_data > LS_RP_STALL_MS / 1000.0)
                                err = ls_seterr(
                                        errstr, errstr_size, LS_ERR_KAFKA,
                                        "%s [%" PRId32 "]: no data for %d s "
                                        "at offset %" PRId64
                                        ", short of its end %" PRId64,
                                        topic, p, LS_RP_STALL_MS / 1000, next,
                                        hi);
                        continue;
                }
                last_data = ls_rp_now();
                if (m->partition != p ||
                    (m->rkt && strcmp(rd_kafka_topic_name(m->rkt), topic))) {
                        /* a leftover of another assignment */
                } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        if (m->offset >= hi) /* past a control record */
                                next = hi;
                } else if (m->err) {
                        err = ls_seterr(errstr, errstr_size, LS_ERR_KAFKA,
                                        "%s [%" PRId32 "]: %s", topic, p,
                                        rd_kafka_message_errstr(m));
                } else if (m->offset >= next && m->offset < hi) {
                        err = cb(opaque, topic, p, m->offset, m->payload,
                                 m->payload ? m->len : 0);
                        next = m->offset + 1;
                }
                rd_kafka_message_destroy(m);
        }
        rd_kafka_assign(rk, NULL);
        return err;
}

ls_err_t ls_replay_topic_each(const ls_replay_conf_t *conf, const char *topic,
                              ls_err_t (*cb)(void *opaque, const char *topic,
                                             int32_t partition, int64_t offset,
                                             const void *value, size_t len),
                              void *opaque, char *errstr, size_t errstr_size) {
        ls_kafka_opts_t ko;
        rd_kafka_t *rk;
        rd_kafka_queue_t *q;
        ls_err_t err = LS_OK;
        int32_t n, p;

        memset(&ko, 0, sizeof(ko));
        ko.role = LS_KAFKA_REPLAY_CONSUMER;
        ko.kafka = conf->kafka;
        ko.bootstrap = conf->brokers;
        if (!(rk = ls_kafka_client_new(&ko, errstr, errstr_size)))
                return LS_ERR_KAFKA;
        rd_kafka_poll_set_consumer(rk);
        n = ls_keys_partition_count(rk, topic, 10000, errstr, errstr_size);
        if (n < 0)
                err = LS_ERR_KAFKA;
        q = rd_kafka_queue_get_consumer(rk);
        for (p = 0; p < n && !err; p++)
                err = ls_rp_each_part(rk, q, topic, p, cb, opaque, errstr,
                                      errstr_size);
        rd_kafka_queue_destroy(q);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return err;
}
