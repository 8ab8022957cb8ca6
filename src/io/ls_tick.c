/*
 * ls_tick.c - clock ticks in the log (see ls_tick.h): the header is read
 * only from records without a value, so that inputs pay nothing for it,
 * and a tick is written as the smallest record that carries it.
 */
#include "leadscore/ls_tick.h"

#include <inttypes.h>
#include <stdio.h>

#include "leadscore/ls_scorer.h"

int64_t ls_tick_read(const rd_kafka_message_t *rkm) {
        rd_kafka_headers_t *hdrs;
        const void *val;
        size_t len;

        if (rkm->len != 0 ||
            rd_kafka_message_headers(rkm, &hdrs) !=
                    RD_KAFKA_RESP_ERR_NO_ERROR ||
            rd_kafka_header_get_last(hdrs, LS_TICK_HEADER, &val, &len) !=
                    RD_KAFKA_RESP_ERR_NO_ERROR)
                return 0;
        return ls_tick_parse(val, len);
}

ls_err_t ls_tick_produce(rd_kafka_t *rk, const char *topic, int32_t partition,
                         int64_t time, void *msg_opaque, char *errstr,
                         size_t errstr_size) {
        char value[24];
        rd_kafka_resp_err_t err;
        int n = snprintf(value, sizeof(value), "%" PRId64, time);

        err = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                RD_KAFKA_V_TIMESTAMP(time),
                RD_KAFKA_V_HEADER(LS_TICK_HEADER, value, n), RD_KAFKA_V_END);
        if (err)
                return ls_seterr(errstr, errstr_size, LS_ERR_KAFKA,
                                 "cannot produce a tick to %s [%" PRId32
                                 "]: %s",
                                 topic, partition, rd_kafka_err2str(err));
        return LS_OK;
}
