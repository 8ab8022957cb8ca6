/*
 * ls_inout.c - the values that cross the engine's door: the deep copy of
 * an input (ls_input_dup), the output buffer's life, output ids and the
 * names of output, alert and reason kinds and causes. The buffer grows
 * in ls_engine.c, where outputs are appended on the hot path.
 */
#include "leadscore/ls_engine.h"

#include <limits.h>
#include <string.h>

#include "leadscore/ls_alloc.h"
#include "engine/ls_engine_int.h"

/*
 * Output buffer and naming helpers
 */

void *ls_outbuf_grow(void *arr, size_t *sizep, size_t n, size_t elem,
                     size_t first) {
        size_t size = *sizep ? *sizep * 2 : first;
        void *a;

        if (n < *sizep)
                return arr;
        if (!(a = ls_realloc(arr, size * elem)))
                return NULL;
        *sizep = size;
        return a;
}

void ls_outbuf_init(ls_outbuf_t *ob) {
        memset(ob, 0, sizeof(*ob));
}

void ls_outbuf_reset(ls_outbuf_t *ob) {
        ob->n_outs = 0;
        ob->n_reasons = 0;
        ob->n_items = 0;
        ob->n_text = 0;
        ob->n_features = 0;
}

void ls_outbuf_free(ls_outbuf_t *ob) {
        ls_free(ob->outs);
        ls_free(ob->reasons);
        ls_free(ob->items);
        ls_free(ob->text);
        ls_free(ob->features);
        ls_outbuf_init(ob);
}

/* Cuts @p v to at most @p max bytes without splitting a UTF-8
 * character; @returns the length kept. */
static size_t ls_utf8_cut(const char *v, size_t max) {
        size_t n = strlen(v);

        if (n <= max)
                return n;
        n = max;
        while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
                n--;
        return n;
}

size_t ls_attr_len(const char *v) {
        return v ? ls_utf8_cut(v, LS_ALERT_ATTR_BYTES - 1) : 0;
}

void ls_hot_id_store(char *dst, const char *id) {
        size_t n = id ? ls_utf8_cut(id, LS_HOT_ID_BYTES) : 0;

        memset(dst, 0, LS_HOT_ID_BYTES);
        if (n)
                memcpy(dst, id, n);
}

/* Puts @p len bytes of @p s at *@p n of @p buf (@p size bytes, one kept
 * for the NUL), as much as fits; *@p n counts them all, as snprintf. */
static void ls_id_put(char *buf, size_t size, size_t *n, const char *s,
                      size_t len) {
        if (*n + 1 < size) {
                size_t room = size - 1 - *n;

                memcpy(buf + *n, s, len < room ? len : room);
        }
        *n += len;
}

/* The id is formatted for every output (its Avro or JSON record, and its
 * header), so it is put together without snprintf. */
int ls_output_id(const ls_output_t *o, char *buf, size_t size) {
        char digits[24];
        unsigned long long seq = (unsigned long long)o->seq;
        size_t n = 0, nd = sizeof(digits);

        do {
                digits[--nd] = (char)('0' + seq % 10);
                seq /= 10;
        } while (seq);
        ls_id_put(buf, size, &n, o->lead_id, strlen(o->lead_id));
        ls_id_put(buf, size, &n, "/", 1);
        ls_id_put(buf, size, &n, o->model->id, strlen(o->model->id));
        ls_id_put(buf, size, &n, "/", 1);
        ls_id_put(buf, size, &n, digits + nd, sizeof(digits) - nd);
        if (o->kind == LS_OUT_ALERT) {
                const char *kind = ls_alert_kind2str(o->alert);

                ls_id_put(buf, size, &n, "/", 1);
                ls_id_put(buf, size, &n, kind, strlen(kind));
        }
        if (size > 0)
                buf[n < size ? n : size - 1] = '\0';
        return n > INT_MAX ? -1 : (int)n;
}

const char *ls_output_kind2str(ls_output_kind_t kind) {
        return kind == LS_OUT_ALERT ? "alert" : "score_update";
}

const char *ls_alert_kind2str(ls_alert_kind_t kind) {
        switch (kind) {
        case LS_ALERT_MQL:
                return "mql";
        case LS_ALERT_MQL_LOST:
                return "mql_lost";
        case LS_ALERT_HOT_LEAD:
                return "hot_lead";
        default:
                return "none";
        }
}

const char *ls_reason_kind2str(ls_reason_kind_t kind) {
        switch (kind) {
        case LS_REASON_RULE:
                return "rule";
        case LS_REASON_FIT:
                return "fit";
        case LS_REASON_DECAY:
                return "decay";
        case LS_REASON_SUPPRESSED:
                return "suppressed";
        }
        return "unknown";
}

const char *ls_cause2str(ls_cause_t cause) {
        switch (cause) {
        case LS_CAUSE_PROFILE:
                return "profile";
        case LS_CAUSE_DECAY:
                return "decay";
        case LS_CAUSE_SUPPRESSED:
                return "suppressed";
        default:
                return "event";
        }
}

/*
 * Input copies
 */

/** Copies string @p src (NULL stays NULL) to *@p at, moving it on. */
static const char *ls_dup_str(const char *src, char **at) {
        size_t n;
        char *dst = *at;

        if (!src)
                return NULL;
        n = strlen(src) + 1;
        memcpy(dst, src, n);
        *at += n;
        return dst;
}

static size_t ls_dup_len(const char *s) {
        return s ? strlen(s) + 1 : 0;
}

ls_input_t *ls_input_dup(const ls_input_t *in) {
        size_t size = sizeof(*in) + in->n_fields * sizeof(ls_kv_t), i;
        ls_input_t *out;
        ls_kv_t *kv;
        char *at;

        size += ls_dup_len(in->lead_id) + ls_dup_len(in->event_id) +
                ls_dup_len(in->event_type) + ls_dup_len(in->product);
        for (i = 0; i < in->n_fields; i++)
                size += ls_dup_len(in->fields[i].key) +
                        ls_dup_len(in->fields[i].value);
        if (!(out = ls_malloc(size)))
                return NULL;
        *out = *in;
        kv = (ls_kv_t *)(out + 1);
        at = (char *)(kv + in->n_fields);
        out->lead_id = ls_dup_str(in->lead_id, &at);
        out->event_id = ls_dup_str(in->event_id, &at);
        out->event_type = ls_dup_str(in->event_type, &at);
        out->product = ls_dup_str(in->product, &at);
        for (i = 0; i < in->n_fields; i++) {
                kv[i].key = ls_dup_str(in->fields[i].key, &at);
                kv[i].value = ls_dup_str(in->fields[i].value, &at);
        }
        out->fields = in->n_fields ? kv : NULL;
        return out;
}
