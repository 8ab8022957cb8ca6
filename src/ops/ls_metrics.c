/*
 * ls_metrics.c - metric registry, Prometheus text rendering, and the
 * HTTP endpoint (libmicrohttpd with its own polling thread).
 *
 * Families and series are singly linked lists that only grow; a series
 * never moves, so handles stay valid until ls_metrics_destroy(). The
 * mutex guards list growth and rendering; values are C11 atomics
 * (gauges and histogram sums hold the bits of a double) so updates take
 * no lock.
 */
#include "leadscore/ls_metrics.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "leadscore/ls_alloc.h"

#define LS_METRICS_CONNS 1024       /* connections at once */
#define LS_METRICS_CONNS_PER_IP 512 /* of them from one address */

typedef enum ls_mtype_e {
        LS_MT_COUNTER = 0,
        LS_MT_GAUGE,
        LS_MT_HISTOGRAM,
} ls_mtype_t;

struct ls_metric_s {
        ls_metric_t *next;
        char *labels; /* "" when none */
        ls_mtype_t type;
        atomic_uint_least64_t value;    /* counter, or double bits (gauge) */
        size_t n_bounds;                /* histogram */
        const double *bounds;           /* the family's */
        atomic_uint_least64_t *buckets; /* n_bounds + 1, not cumulative */
        atomic_uint_least64_t sum;      /* double bits */
};

typedef struct ls_mfamily_s {
        struct ls_mfamily_s *next;
        char *name, *help;
        ls_mtype_t type;
        double *bounds;
        size_t n_bounds;
        ls_metric_t *series, *last;
} ls_mfamily_t;

struct ls_metrics_s {
        pthread_mutex_t lock;
        ls_mfamily_t *families, *last;
        struct MHD_Daemon *daemon;
        int port;
        atomic_int ready;
};

static uint64_t ls_dbits(double v) {
        uint64_t b;

        memcpy(&b, &v, sizeof(b));
        return b;
}

static double ls_bitsd(uint64_t b) {
        double v;

        memcpy(&v, &b, sizeof(v));
        return v;
}

ls_metrics_t *ls_metrics_new(void) {
        ls_metrics_t *m = ls_calloc(1, sizeof(*m));

        if (!m)
                return NULL;
        pthread_mutex_init(&m->lock, NULL);
        atomic_init(&m->ready, 0);
        return m;
}

void ls_metrics_destroy(ls_metrics_t *m) {
        ls_mfamily_t *f, *fn;
        ls_metric_t *s, *sn;

        if (!m)
                return;
        if (m->daemon)
                MHD_stop_daemon(m->daemon);
        for (f = m->families; f; f = fn) {
                fn = f->next;
                for (s = f->series; s; s = sn) {
                        sn = s->next;
                        ls_free(s->labels);
                        ls_free(s->buckets);
                        ls_free(s);
                }
                ls_free(f->name);
                ls_free(f->help);
                ls_free(f->bounds);
                ls_free(f);
        }
        pthread_mutex_destroy(&m->lock);
        ls_free(m);
}

/* ------------------------------------------------------------- registry */

static ls_mfamily_t *ls_metrics_family(ls_metrics_t *m, const char *name,
                                       const char *help, ls_mtype_t type,
                                       const double *bounds, size_t n_bounds) {
        ls_mfamily_t *f;

        for (f = m->families; f; f = f->next)
                if (!strcmp(f->name, name))
                        return f->type == type ? f : NULL;
        f = ls_calloc(1, sizeof(*f));
        if (!f)
                return NULL;
        f->name = ls_strdup(name);
        f->help = ls_strdup(help ? help : "");
        f->type = type;
        if (n_bounds) {
                f->bounds = ls_malloc(n_bounds * sizeof(*f->bounds));
                if (f->bounds)
                        memcpy(f->bounds, bounds, n_bounds * sizeof(*bounds));
                f->n_bounds = n_bounds;
        }
        if (!f->name || !f->help || (n_bounds && !f->bounds)) {
                ls_free(f->name);
                ls_free(f->help);
                ls_free(f->bounds);
                ls_free(f);
                return NULL;
        }
        if (m->last)
                m->last->next = f;
        else
                m->families = f;
        m->last = f;
        return f;
}

static ls_metric_t *ls_metrics_series(ls_metrics_t *m, const char *name,
                                      const char *help, const char *labels,
                                      ls_mtype_t type, const double *bounds,
                                      size_t n_bounds) {
        ls_mfamily_t *f;
        ls_metric_t *s = NULL;
        size_t i;

        if (!m || !name)
                return NULL;
        if (!labels)
                labels = "";
        pthread_mutex_lock(&m->lock);
        f = ls_metrics_family(m, name, help, type, bounds, n_bounds);
        if (!f)
                goto out;
        for (s = f->series; s; s = s->next)
                if (!strcmp(s->labels, labels))
                        goto out;
        s = ls_calloc(1, sizeof(*s));
        if (!s)
                goto out;
        s->type = type;
        s->labels = ls_strdup(labels);
        atomic_init(&s->value, type == LS_MT_GAUGE ? ls_dbits(0.0) : 0);
        atomic_init(&s->sum, ls_dbits(0.0));
        if (type == LS_MT_HISTOGRAM) {
                s->n_bounds = f->n_bounds;
                s->bounds = f->bounds;
                s->buckets = ls_calloc(f->n_bounds + 1, sizeof(*s->buckets));
                for (i = 0; s->buckets && i <= f->n_bounds; i++)
                        atomic_init(&s->buckets[i], 0);
        }
        if (!s->labels || (type == LS_MT_HISTOGRAM && !s->buckets)) {
                ls_free(s->labels);
                ls_free(s->buckets);
                ls_free(s);
                s = NULL;
                goto out;
        }
        if (f->last)
                f->last->next = s;
        else
                f->series = s;
        f->last = s;
out:
        pthread_mutex_unlock(&m->lock);
        return s;
}

ls_metric_t *ls_metrics_counter(ls_metrics_t *m, const char *name,
                                const char *help, const char *labels) {
        return ls_metrics_series(m, name, help, labels, LS_MT_COUNTER, NULL, 0);
}

ls_metric_t *ls_metrics_gauge(ls_metrics_t *m, const char *name,
                              const char *help, const char *labels) {
        return ls_metrics_series(m, name, help, labels, LS_MT_GAUGE, NULL, 0);
}

ls_metric_t *ls_metrics_histogram(ls_metrics_t *m, const char *name,
                                  const char *help, const char *labels,
                                  const double *bounds, size_t n_bounds) {
        return ls_metrics_series(m, name, help, labels, LS_MT_HISTOGRAM, bounds,
                                 n_bounds);
}

void ls_metric_add(ls_metric_t *c, uint64_t n) {
        if (c && c->type == LS_MT_COUNTER)
                atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

void ls_metric_set_total(ls_metric_t *c, uint64_t total) {
        uint64_t old;

        if (!c || c->type != LS_MT_COUNTER)
                return;
        old = atomic_load_explicit(&c->value, memory_order_relaxed);
        while (old < total &&
               !atomic_compare_exchange_weak_explicit(&c->value, &old, total,
                                                      memory_order_relaxed,
                                                      memory_order_relaxed))
                ;
}

void ls_metric_set(ls_metric_t *g, double v) {
        if (g && g->type == LS_MT_GAUGE)
                atomic_store_explicit(&g->value, ls_dbits(v),
                                      memory_order_relaxed);
}

void ls_metric_observe(ls_metric_t *h, double v) {
        size_t i;
        uint64_t old, nw;

        if (!h || h->type != LS_MT_HISTOGRAM)
                return;
        for (i = 0; i < h->n_bounds && v > h->bounds[i]; i++)
                ;
        atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
        old = atomic_load_explicit(&h->sum, memory_order_relaxed);
        do {
                nw = ls_dbits(ls_bitsd(old) + v);
        } while (!atomic_compare_exchange_weak_explicit(
                &h->sum, &old, nw, memory_order_relaxed, memory_order_relaxed));
}

double ls_metric_value(const ls_metric_t *s) {
        uint64_t n = 0;
        size_t i;

        if (!s)
                return 0.0;
        switch (s->type) {
        case LS_MT_COUNTER:
                return (double)atomic_load(&((ls_metric_t *)s)->value);
        case LS_MT_GAUGE:
                return ls_bitsd(atomic_load(&((ls_metric_t *)s)->value));
        case LS_MT_HISTOGRAM:
                for (i = 0; i <= s->n_bounds; i++)
                        n += atomic_load(&s->buckets[i]);
                return (double)n;
        }
        return 0.0;
}

void ls_metrics_set_ready(ls_metrics_t *m, int ready) {
        if (m)
                atomic_store(&m->ready, ready ? 1 : 0);
}

int ls_metrics_ready(const ls_metrics_t *m) {
        return m ? atomic_load(&((ls_metrics_t *)m)->ready) : 0;
}

char *ls_metrics_label_escape(const char *value, char *out, size_t out_size) {
        size_t o = 0;

        if (out_size == 0)
                return out;
        for (; value && *value && o + 1 < out_size; value++) {
                const char *e = NULL;
                if (*value == '\\')
                        e = "\\\\";
                else if (*value == '"')
                        e = "\\\"";
                else if (*value == '\n')
                        e = "\\n";
                if (e) {
                        if (o + 2 >= out_size)
                                break;
                        out[o++] = e[0];
                        out[o++] = e[1];
                } else {
                        out[o++] = *value;
                }
        }
        out[o] = '\0';
        return out;
}

/* ------------------------------------------------------------ rendering */

static const char *ls_mtype2str(ls_mtype_t t) {
        return t == LS_MT_COUNTER ? "counter"
               : t == LS_MT_GAUGE ? "gauge"
                                  : "histogram";
}

/** Appends a sample value as Prometheus writes floats. */
static ls_err_t ls_metrics_num(ls_buf_t *out, double v) {
        if (isnan(v))
                return ls_buf_appendf(out, "NaN");
        if (isinf(v))
                return ls_buf_appendf(out, v > 0 ? "+Inf" : "-Inf");
        if (v == floor(v) && fabs(v) < 9e15)
                return ls_buf_appendf(out, "%.0f", v);
        return ls_buf_appendf(out, "%.15g", v);
}

static ls_err_t ls_metrics_render_series(const ls_mfamily_t *f,
                                         const ls_metric_t *s, ls_buf_t *out) {
        const char *sep = s->labels[0] ? "," : "";
        uint64_t cum = 0;
        size_t i;
        ls_err_t err = LS_OK;

        if (f->type != LS_MT_HISTOGRAM) {
                if (s->labels[0])
                        err = ls_buf_appendf(out, "%s{%s} ", f->name,
                                             s->labels);
                else
                        err = ls_buf_appendf(out, "%s ", f->name);
                if (!err)
                        err = ls_metrics_num(out, ls_metric_value(s));
                return err ? err : ls_buf_appendf(out, "\n");
        }
        for (i = 0; i <= s->n_bounds && !err; i++) {
                cum += atomic_load(&s->buckets[i]);
                err = ls_buf_appendf(out, "%s_bucket{%s%sle=\"", f->name,
                                     s->labels, sep);
                if (!err)
                        err = i < s->n_bounds
                                      ? ls_buf_appendf(out, "%g", s->bounds[i])
                                      : ls_buf_appendf(out, "+Inf");
                if (!err)
                        err = ls_buf_appendf(out, "\"} %llu\n",
                                             (unsigned long long)cum);
        }
        if (!err)
                err = ls_buf_appendf(out, "%s_sum%s%s%s ", f->name,
                                     s->labels[0] ? "{" : "", s->labels,
                                     s->labels[0] ? "}" : "");
        if (!err)
                err = ls_metrics_num(
                        out, ls_bitsd(atomic_load(&((ls_metric_t *)s)->sum)));
        if (!err)
                err = ls_buf_appendf(out, "\n%s_count%s%s%s %llu\n", f->name,
                                     s->labels[0] ? "{" : "", s->labels,
                                     s->labels[0] ? "}" : "",
                                     (unsigned long long)cum);
        return err;
}

ls_err_t ls_metrics_render(ls_metrics_t *m, ls_buf_t *out) {
        const ls_mfamily_t *f;
        const ls_metric_t *s;
        ls_err_t err = LS_OK;

        pthread_mutex_lock(&m->lock);
        for (f = m->families; f && !err; f = f->next) {
                if (!f->series)
                        continue;
                err = ls_buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n",
                                     f->name, f->help, f->name,
                                     ls_mtype2str(f->type));
                for (s = f->series; s && !err; s = s->next)
                        err = ls_metrics_render_series(f, s, out);
        }
        pthread_mutex_unlock(&m->lock);
        return err;
}

/* ----------------------------------------------------------------- HTTP */

static enum MHD_Result ls_metrics_reply(struct MHD_Connection *conn,
                                        unsigned int status, const char *ctype,
                                        const void *body, size_t len) {
        struct MHD_Response *r;
        enum MHD_Result ret;

        r = MHD_create_response_from_buffer(len, (void *)body,
                                            MHD_RESPMEM_MUST_COPY);
        if (!r)
                return MHD_NO;
        MHD_add_response_header(r, "Content-Type", ctype);
        ret = MHD_queue_response(conn, status, r);
        MHD_destroy_response(r);
        return ret;
}

static enum MHD_Result
ls_metrics_handler(void *cls, struct MHD_Connection *conn, const char *url,
                   const char *method, const char *version,
                   const char *upload_data, size_t *upload_data_size,
                   void **con_cls) {
        ls_metrics_t *m = cls;
        static const char text[] = "text/plain; charset=utf-8";

        (void)version;
        (void)upload_data;
        if (strcmp(method, "GET") && strcmp(method, "HEAD"))
                return ls_metrics_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, text,
                                        "method not allowed\n", 19);
        if (*upload_data_size != 0)
                return MHD_NO;
        (void)con_cls;
        if (!strcmp(url, "/healthz"))
                return ls_metrics_reply(conn, MHD_HTTP_OK, text, "ok\n", 3);
        if (!strcmp(url, "/readyz")) {
                if (ls_metrics_ready(m))
                        return ls_metrics_reply(conn, MHD_HTTP_OK, text,
                                                "ready\n", 6);
                return ls_metrics_reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                                        text, "not ready\n", 10);
        }
        if (!strcmp(url, "/metrics")) {
                ls_buf_t b;
                enum MHD_Result ret;
                ls_buf_init(&b);
                if (ls_metrics_render(m, &b)) {
                        ls_buf_free(&b);
                        return ls_metrics_reply(conn,
                                                MHD_HTTP_INTERNAL_SERVER_ERROR,
                                                text, "out of memory\n", 14);
                }
                ret = ls_metrics_reply(conn, MHD_HTTP_OK,
                                       "text/plain; version=0.0.4; "
                                       "charset=utf-8",
                                       b.data ? b.data : "", b.len);
                ls_buf_free(&b);
                return ret;
        }
        return ls_metrics_reply(conn, MHD_HTTP_NOT_FOUND, text,
                                "not found (try /metrics, /healthz, "
                                "/readyz)\n",
                                45);
}

ls_err_t ls_metrics_serve(ls_metrics_t *m, const char *listen, char *errstr,
                          size_t errstr_size) {
        char host[256];
        const char *colon, *port;
        struct addrinfo hints, *ai = NULL;
        const union MHD_DaemonInfo *info;
        unsigned int flags;
        size_t hlen;
        int rc;

        if (m->daemon)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "metrics: already serving");
        colon = listen ? strrchr(listen, ':') : NULL;
        if (!colon || !colon[1])
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "metrics.listen: \"%s\": expected HOST:PORT",
                                 listen ? listen : "");
        port = colon + 1;
        hlen = (size_t)(colon - listen);
        if (hlen >= 2 && listen[0] == '[' && listen[hlen - 1] == ']') {
                listen++;
                hlen -= 2;
        }
        if (hlen >= sizeof(host))
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "metrics.listen: host too long");
        memcpy(host, listen, hlen);
        host[hlen] = '\0';
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
        rc = getaddrinfo(hlen ? host : NULL, port, &hints, &ai);
        if (rc || !ai)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "metrics.listen: \"%s:%s\": %s (HOST must "
                                 "be a numeric address)",
                                 host, port, gai_strerror(rc));
        /* Slow or idle clients must not starve a liveness probe: epoll
         * (no FD_SETSIZE ceiling), room for many connections, a short
         * idle timeout, and a cap per client address so that one client
         * cannot take them all. */
        flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
                MHD_USE_ERROR_LOG;
        if (ai->ai_family == AF_INET6)
                flags |= MHD_USE_IPv6;
        m->daemon = MHD_start_daemon(
                flags, 0, NULL, NULL, ls_metrics_handler, m,
                MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT,
                (unsigned int)LS_METRICS_CONNS,
                MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                (unsigned int)LS_METRICS_CONNS_PER_IP,
                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)5,
                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
                MHD_OPTION_END);
        freeaddrinfo(ai);
        if (!m->daemon)
                return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                 "metrics.listen: cannot listen on %s:%s "
                                 "(address in use or not local?)",
                                 host, port);
        info = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT);
        m->port = info ? (int)info->port : atoi(port);
        return LS_OK;
}

int ls_metrics_port(const ls_metrics_t *m) {
        return m && m->daemon ? m->port : 0;
}

ls_err_t ls_metrics_build_info(ls_metrics_t *m, const char *version,
                               const char *librdkafka, const char *avro_c) {
        char labels[640], ev[128], er[128], ea[128];
        ls_metric_t *g;

        snprintf(labels, sizeof(labels),
                 "version=\"%s\",librdkafka=\"%s\",avro_c=\"%s\"",
                 ls_metrics_label_escape(version, ev, sizeof(ev)),
                 ls_metrics_label_escape(librdkafka, er, sizeof(er)),
                 ls_metrics_label_escape(avro_c, ea, sizeof(ea)));
        g = ls_metrics_gauge(m, "leadscore_build_info",
                             "1, labelled with the versions of leadscore "
                             "and of the librdkafka and avro-c it runs "
                             "with.",
                             labels);
        if (!g)
                return LS_ERR_NOMEM;
        ls_metric_set(g, 1);
        return LS_OK;
}

/* ------------------------------------------------------ librdkafka stats */

/** A running total of librdkafka's statistics, as a counter. */
static void ls_metrics_kcounter(ls_metrics_t *m, const char *name,
                                const char *help, const char *labels,
                                json_t *v) {
        if (json_is_integer(v) && json_integer_value(v) >= 0)
                ls_metric_set_total(ls_metrics_counter(m, name, help, labels),
                                    (uint64_t)json_integer_value(v));
}

static void ls_metrics_kgauge(ls_metrics_t *m, const char *name,
                              const char *help, const char *labels, json_t *v) {
        if (json_is_number(v))
                ls_metric_set(ls_metrics_gauge(m, name, help, labels),
                              json_number_value(v));
}

ls_err_t ls_metrics_rdkafka_stats(ls_metrics_t *m, const char *client,
                                  const char *json, size_t len) {
        json_t *root, *topics, *brokers, *t, *b, *parts, *p;
        const char *tname, *bname, *pname;
        char labels[512], ec[128], et[256], eb[256];
        json_error_t jerr;

        root = json_loadb(json, len, 0, &jerr);
        if (!root)
                return LS_ERR_INVALID;
        ls_metrics_label_escape(client, ec, sizeof(ec));
        snprintf(labels, sizeof(labels), "client=\"%s\"", ec);
        ls_metrics_kcounter(m, "leadscore_kafka_tx_msgs_total",
                            "Messages sent by the Kafka client since start "
                            "(librdkafka txmsgs).",
                            labels, json_object_get(root, "txmsgs"));
        ls_metrics_kcounter(m, "leadscore_kafka_rx_msgs_total",
                            "Messages received by the Kafka client since "
                            "start (librdkafka rxmsgs).",
                            labels, json_object_get(root, "rxmsgs"));
        ls_metrics_kgauge(m, "leadscore_kafka_replyq",
                          "Operations waiting in the client's reply queue.",
                          labels, json_object_get(root, "replyq"));
        ls_metrics_kgauge(m, "leadscore_kafka_msg_cnt",
                          "Messages in the producer queues.", labels,
                          json_object_get(root, "msg_cnt"));

        brokers = json_object_get(root, "brokers");
        json_object_foreach(brokers, bname, b) {
                json_t *rtt = json_object_get(b, "rtt");
                json_t *avg = json_object_get(rtt, "avg");
                if (!json_is_number(avg) ||
                    json_integer_value(json_object_get(b, "nodeid")) < 0)
                        continue;
                ls_metrics_label_escape(bname, eb, sizeof(eb));
                snprintf(labels, sizeof(labels), "client=\"%s\",broker=\"%s\"",
                         ec, eb);
                ls_metric_set(ls_metrics_gauge(
                                      m,
                                      "leadscore_kafka_broker_rtt_avg_seconds",
                                      "Average broker round-trip time over "
                                      "the last statistics window.",
                                      labels),
                              json_number_value(avg) / 1e6);
        }

        topics = json_object_get(root, "topics");
        json_object_foreach(topics, tname, t) {
                parts = json_object_get(t, "partitions");
                json_object_foreach(parts, pname, p) {
                        json_t *lag = json_object_get(p, "consumer_lag");
                        json_int_t pn = json_integer_value(
                                json_object_get(p, "partition"));
                        if (pn < 0 || !json_is_integer(lag) ||
                            json_integer_value(lag) < 0)
                                continue;
                        ls_metrics_label_escape(tname, et, sizeof(et));
                        snprintf(labels, sizeof(labels),
                                 "topic=\"%s\",partition=\"%lld\"", et,
                                 (long long)pn);
                        ls_metric_set(
                                ls_metrics_gauge(
                                        m, "leadscore_kafka_consumer_lag",
                                        "Messages between the consumer's "
                                        "position and the partition's high "
                                        "watermark (librdkafka consumer_lag).",
                                        labels),
                                (double)json_integer_value(lag));
                }
        }
        json_decref(root);
        return LS_OK;
}

void ls_metrics_snapshot(ls_metrics_t *m, int32_t partition, double age_seconds,
                         double duration_seconds, uint64_t bytes) {
        char labels[64];

        snprintf(labels, sizeof(labels), "partition=\"%d\"", (int)partition);
        ls_metric_set(ls_metrics_gauge(m, "leadscore_snapshot_age_seconds",
                                       "Seconds since the partition's last "
                                       "snapshot.",
                                       labels),
                      age_seconds);
        ls_metric_set(ls_metrics_gauge(m, "leadscore_snapshot_duration_seconds",
                                       "Time the partition's last snapshot "
                                       "took.",
                                       labels),
                      duration_seconds);
        ls_metric_set(ls_metrics_gauge(m, "leadscore_snapshot_bytes",
                                       "Size of the partition's last "
                                       "snapshot.",
                                       labels),
                      (double)bytes);
}
