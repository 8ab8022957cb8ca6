/*
 * ls_replay_out.c - where a replay's outputs go: the ordered writer, the
 * JSON-lines / Avro container file sink, the Kafka topic sink and the
 * final-state output (--final-only).
 *
 * Ordered writer: each partition's encoded outputs collect in its own
 * buffers (Avro: records of the open block in blk[], closed blocks in
 * out[]). The partition at the head of the write order writes its buffers
 * whenever they pass a few MiB; the others write when they become the
 * head. So the output is in partition order whatever the thread timing,
 * and a single partition streams with bounded memory. Kafka output is
 * produced by the workers directly (librdkafka keeps per-lead order: one
 * lead lives in one partition, scored by one thread).
 *
 * Avro files are object container files written by the codec's one
 * container writer (ls_container.h); their sync marker is a hash of the
 * schema text, so that equal runs give equal bytes.
 */
#include "replay/ls_replay_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_json.h"

/* ------------------------------------------------------- ordered writer */

static int ls_rp_write(ls_replay_t *rp, ls_rp_part_t *part) {
        int k;

        for (k = 0; k < 2; k++) {
                if (!part->out[k].len)
                        continue;
                if (rp->out[k] && fwrite(part->out[k].data, 1, part->out[k].len,
                                         rp->out[k]) != part->out[k].len) {
                        rp->failed = 1;
                        rp->fail_err = LS_ERR_IO;
                        snprintf(rp->fail_str, sizeof(rp->fail_str),
                                 "%s: write error: %s", rp->out_name[k],
                                 strerror(errno));
                        return -1;
                }
                ls_buf_reset(&part->out[k]);
        }
        return 0;
}

/**
 * Writes what @p part has if it is the head of the write order; when
 * @p finished, marks it complete and writes every complete partition
 * that follows in order.
 */
void ls_rp_writer(ls_replay_t *rp, ls_rp_part_t *part, int finished) {
        pthread_mutex_lock(&rp->mu);
        if (!rp->failed && rp->next_write < rp->n_parts &&
            &rp->parts[rp->next_write] == part)
                ls_rp_write(rp, part);
        if (finished) {
                part->finished = 1;
                while (!rp->failed && rp->next_write < rp->n_parts &&
                       rp->parts[rp->next_write].finished) {
                        ls_rp_part_t *h = &rp->parts[rp->next_write];
                        if (ls_rp_write(rp, h))
                                break;
                        ls_buf_free(&h->out[0]);
                        ls_buf_free(&h->out[1]);
                        rp->next_write++;
                }
                pthread_cond_broadcast(&rp->cond);
        }
        pthread_mutex_unlock(&rp->mu);
}

/* ---------------------------------------------------------------- avro */

void ls_rp_avro_block(ls_replay_t *rp, ls_rp_part_t *part, int k) {
        if (!part->blk_n[k])
                return;
        if (ls_container_block(&rp->avro[k], part->blk_n[k], part->blk[k].data,
                               part->blk[k].len, &part->out[k]))
                ls_rp_fail(rp, LS_ERR_NOMEM, "%s: out of memory",
                           rp->out_name[k]);
        ls_buf_reset(&part->blk[k]);
        part->blk_n[k] = 0;
}

ls_err_t ls_rp_avro_header(ls_replay_t *rp, int k, const char *file,
                           char *errstr, size_t errstr_size) {
        ls_buf_t hdr;
        char *schema;
        ls_err_t err;

        /* The codec's text of the schema: built in, or the configured
         * directory's. */
        if ((err = ls_codec_schema_text(rp->conf.schema_dir, file, &schema,
                                        errstr, errstr_size)))
                return err;
        ls_buf_init(&hdr);
        err = ls_container_begin(&rp->avro[k], schema, strlen(schema), &hdr);
        if (err == LS_ERR_INVALID)
                err = ls_seterr(errstr, errstr_size, err, "%s: empty schema",
                                file);
        else if (err)
                err = ls_seterr(errstr, errstr_size, err, "%s: out of memory",
                                rp->out_name[k]);
        else if (fwrite(hdr.data, 1, hdr.len, rp->out[k]) != hdr.len)
                err = ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                "%s: write error: %s", rp->out_name[k],
                                strerror(errno));
        ls_free(schema);
        ls_buf_free(&hdr);
        return err;
}

/* ---------------------------------------------------------------- sinks */

void ls_rp_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque) {
        ls_replay_t *rp = ((ls_kafka_env_t *)opaque)->owner;

        if (rkm->err && atomic_fetch_add(&rp->dr_failed, 1) == 0)
                snprintf(rp->dr_err, sizeof(rp->dr_err), "%s [%" PRId32 "]: %s",
                         rd_kafka_topic_name(rkm->rkt), rkm->partition,
                         rd_kafka_err2str(rkm->err));
}

/** Writes the outputs of model set 0 in w->ob[0] to the sink. */
int ls_rp_emit(ls_replay_t *rp, ls_rp_worker_t *w, ls_rp_part_t *part) {
        const ls_outbuf_t *ob = &w->ob[0];
        char errstr[512], id[LS_OUTPUT_ID_MAX + 1];
        size_t i;

        for (i = 0; i < ob->n_outs; i++) {
                const ls_output_t *o = &ob->outs[i];
                int k = o->kind == LS_OUT_ALERT;
                ls_err_t err = LS_OK;

                switch (rp->conf.sink) {
                case LS_REPLAY_SINK_FILE:
                        if (rp->conf.output_format == LS_FORMAT_JSON) {
                                if (ls_json_encode_output(ob, o,
                                                          &part->out[0]) ||
                                    ls_buf_append(&part->out[0], "\n", 1))
                                        err = LS_ERR_NOMEM;
                                break;
                        }
                        err = ls_codec_encode_output(w->codec, NULL, ob, o,
                                                     &part->blk[k], errstr,
                                                     sizeof(errstr));
                        part->blk_n[k]++;
                        if (part->blk[k].len >= LS_RP_BLOCK_AT)
                                ls_rp_avro_block(rp, part, k);
                        break;
                case LS_REPLAY_SINK_TOPIC: {
                        const char *topic = k && rp->conf.alerts_topic
                                                    ? rp->conf.alerts_topic
                                                    : rp->conf.output_topic;
                        rd_kafka_headers_t *hdrs;
                        rd_kafka_resp_err_t kerr;
                        int n;

                        ls_buf_reset(&w->enc);
                        err = ls_codec_encode_output(w->codec, topic, ob, o,
                                                     &w->enc, errstr,
                                                     sizeof(errstr));
                        if (err)
                                break;
                        /* never cut an id short */
                        n = ls_output_id(o, id, sizeof(id));
                        if (n < 0 || n >= (int)sizeof(id)) {
                                err = LS_ERR_INVALID;
                                snprintf(errstr, sizeof(errstr),
                                         "its output id is longer than %zu "
                                         "bytes",
                                         sizeof(id) - 1);
                                break;
                        }
                        hdrs = rd_kafka_headers_new(3);
                        rd_kafka_header_add(hdrs, "leadscore.model", -1,
                                            o->model->id, -1);
                        rd_kafka_header_add(hdrs, "leadscore.model_version", -1,
                                            o->model->version, -1);
                        rd_kafka_header_add(hdrs, "leadscore.id", -1, id, -1);
                        for (;;) {
                                kerr = rd_kafka_producev(
                                        rp->producer, RD_KAFKA_V_TOPIC(topic),
                                        RD_KAFKA_V_KEY(o->lead_id,
                                                       strlen(o->lead_id)),
                                        RD_KAFKA_V_VALUE(w->enc.data,
                                                         w->enc.len),
                                        RD_KAFKA_V_MSGFLAGS(
                                                RD_KAFKA_MSG_F_COPY),
                                        RD_KAFKA_V_HEADERS(hdrs),
                                        RD_KAFKA_V_END);
                                if (kerr != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                                        break;
                                rd_kafka_poll(rp->producer, 50);
                        }
                        if (kerr) {
                                rd_kafka_headers_destroy(hdrs);
                                ls_rp_fail(rp, LS_ERR_KAFKA,
                                           "cannot produce to %s: %s", topic,
                                           rd_kafka_err2str(kerr));
                                return -1;
                        }
                        break;
                }
                default:
                        break;
                }
                if (err) {
                        ls_rp_fail(rp, err, "encoding output of lead %s: %s",
                                   o->lead_id,
                                   err == LS_ERR_NOMEM ? "out of memory"
                                                       : errstr);
                        return -1;
                }
                part->outputs++;
        }
        if (part->out[0].len + part->out[1].len >= LS_RP_WRITE_AT)
                ls_rp_writer(rp, part, 0);
        return 0;
}

/* ------------------------------------------------------- final / state */

typedef struct ls_rp_final_s {
        ls_replay_t *rp;
        const ls_model_t *model;
        ls_buf_t *buf;
        int err;
} ls_rp_final_t;

static int ls_rp_final_cb(const char *lead_id, const ls_lead_view_t *v,
                          void *opaque) {
        ls_rp_final_t *f = opaque;
        const ls_model_t *m = f->model;
        char cell[64];
        json_t *j;
        char *s;

        snprintf(cell, sizeof(cell), "%s%d", m->grades[v->grade].name,
                 v->band + 1);
        j = json_pack(
                "{s:s, s:s, s:s, s:i, s:i, s:i, s:s, s:s, s:s, s:b}", "lead_id",
                lead_id, "model", m->id, "model_version", m->version, "total",
                (json_int_t)v->total, "fit", (json_int_t)v->fit, "engagement",
                (json_int_t)v->engagement, "grade", m->grades[v->grade].name,
                "band", m->bands[v->band].name, "cell", cell, "mql", v->mql);
        s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(j);
        if (!s || ls_buf_append(f->buf, s, strlen(s)) ||
            ls_buf_append(f->buf, "\n", 1)) {
                free(s); /* allocated by jansson */
                f->err = 1;
                return 1;
        }
        free(s); /* allocated by jansson */
        return 0;
}

ls_err_t ls_rp_write_final(ls_replay_t *rp, char *errstr, size_t errstr_size) {
        const ls_modelset_t *ms = rp->conf.ms[0];
        ls_rp_final_t f;
        ls_buf_t buf;
        int32_t p;
        size_t m;
        ls_err_t err = LS_OK;

        ls_buf_init(&buf);
        f.rp = rp;
        f.buf = &buf;
        f.err = 0;
        for (p = 0; p < rp->n_parts && !err; p++) {
                for (m = 0; m < ms->n_models && !err; m++) {
                        f.model = &ms->models[m];
                        ls_shard_foreach_lead(rp->parts[p].shard[0], m,
                                              ls_rp_final_cb, &f);
                        if (f.err)
                                err = ls_seterr(errstr, errstr_size,
                                                LS_ERR_NOMEM, "out of memory");
                        else if (buf.len >= LS_RP_WRITE_AT ||
                                 (p == rp->n_parts - 1 &&
                                  m == ms->n_models - 1)) {
                                if (buf.len && fwrite(buf.data, 1, buf.len,
                                                      rp->out[0]) != buf.len)
                                        err = ls_seterr(errstr, errstr_size,
                                                        LS_ERR_IO,
                                                        "%s: write error: %s",
                                                        rp->out_name[0],
                                                        strerror(errno));
                                ls_buf_reset(&buf);
                        }
                }
        }
        ls_buf_free(&buf);
        return err;
}
