/*
 * ls_config_parse.c - the config's keys: each section's reader checks its
 * keys against the table of known ones and its values by type (strings,
 * paths, integers in range, durations, formats, booleans, Kafka
 * properties that librdkafka itself validates), then how the values fit
 * together (registry TLS and credentials, transactional, formats that
 * need a registry). Every message names the file, the line and the key
 * path; a value that came from ${env:} or ${file:} is never quoted.
 */
#include "leadscore/ls_config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include <librdkafka/rdkafka.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_model.h"
#include "ops/ls_config_int.h"

/* --------------------------------------------------------------- values */

#define LS_CFGP_HIDDEN "(the value from ${env:} / ${file:}, not shown)"

/*
 * A value taken from ${env:} or ${file:} may be a secret put under the
 * wrong key: a message about it says where it came from, never what it
 * is.
 */
static void ls_cfgp_hide(const ls_cfgp_t *p, const yaml_node_t *node, char *why,
                         size_t size) {
        const char *v;
        size_t n, h = strlen(LS_CFGP_HIDDEN);
        char *at;

        if (!node || !p->expanded || node->type != YAML_SCALAR_NODE ||
            p->expanded[node - p->doc->nodes.start] != LS_CFGP_FROM_SECRET)
                return;
        v = (const char *)node->data.scalar.value;
        n = node->data.scalar.length;
        if (n < 3) { /* too short to find: say nothing of it */
                snprintf(why, size, "not valid here " LS_CFGP_HIDDEN);
                return;
        }
        while ((at = strstr(why, v)) != NULL) {
                size_t tail = strlen(at + n);
                if ((size_t)(at - why) + h + tail + 1 > size) {
                        snprintf(why, size, "not valid here " LS_CFGP_HIDDEN);
                        return;
                }
                memmove(at + h, at + n, tail + 1);
                memcpy(at, LS_CFGP_HIDDEN, h);
        }
}

ls_err_t ls_cfgp_err(ls_cfgp_t *p, const yaml_node_t *node, const char *key,
                     const char *fmt, const char *a) {
        char why[PATH_MAX + 256]; /* a path and a few words */

        snprintf(why, sizeof(why), fmt, a ? a : "");
        ls_cfgp_hide(p, node, why, sizeof(why));
        return ls_seterr(p->errstr, p->errstr_size, LS_ERR_INVALID,
                         "%s:%lu: %s: %s", p->name,
                         node ? (unsigned long)node->start_mark.line + 1 : 0UL,
                         key, why);
}

const char *ls_cfgp_scalar(const yaml_node_t *node) {
        return node->type == YAML_SCALAR_NODE
                       ? (const char *)node->data.scalar.value
                       : NULL;
}

static ls_err_t ls_cfgp_string(ls_cfgp_t *p, const yaml_node_t *node,
                               const char *key, char **dstp) {
        const char *s = ls_cfgp_scalar(node);
        char *copy;

        if (!s || !*s)
                return ls_cfgp_err(p, node, key,
                                   "expected a non-empty string%s", NULL);
        copy = ls_strdup(s);
        if (!copy)
                return LS_ERR_NOMEM;
        ls_free(*dstp);
        *dstp = copy;
        return LS_OK;
}

ls_err_t ls_cfgp_path(ls_cfgp_t *p, const yaml_node_t *node, const char *key,
                      char **dstp) {
        const char *s = ls_cfgp_scalar(node);
        ls_buf_t b;

        if (!s || !*s)
                return ls_cfgp_err(p, node, key, "expected a path%s", NULL);
        if (s[0] == '/' || !p->base_dir)
                return ls_cfgp_string(p, node, key, dstp);
        ls_buf_init(&b);
        if (ls_buf_appendf(&b, "%s/%s", p->base_dir, s)) {
                ls_buf_free(&b);
                return LS_ERR_NOMEM;
        }
        ls_free(*dstp);
        *dstp = b.data; /* ownership of the buffer's memory moves */
        return LS_OK;
}

static ls_err_t ls_cfgp_int(ls_cfgp_t *p, const yaml_node_t *node,
                            const char *key, long long min, long long max,
                            long long *vp) {
        const char *s = ls_cfgp_scalar(node);
        char *end;
        long long v;

        if (!s || !*s)
                return ls_cfgp_err(p, node, key, "expected an integer%s", NULL);
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || *end)
                return ls_cfgp_err(p, node, key,
                                   "expected an integer, got \"%s\"", s);
        if (v < min || v > max) {
                char range[96];
                snprintf(range, sizeof(range),
                         "%s is out of range [%lld, %lld]", s, min, max);
                return ls_cfgp_err(p, node, key, "%s", range);
        }
        *vp = v;
        return LS_OK;
}

static ls_err_t ls_cfgp_duration(ls_cfgp_t *p, const yaml_node_t *node,
                                 const char *key, int64_t *msp) {
        const char *s = ls_cfgp_scalar(node);
        int64_t ms;

        if (!s || ls_duration_parse(s, &ms) != LS_OK || ms <= 0)
                return ls_cfgp_err(
                        p, node, key,
                        "expected a duration > 0 such as 500ms, 30s, "
                        "5m, 1h, got \"%s\"",
                        s ? s : "(not a scalar)");
        *msp = ms;
        return LS_OK;
}

static ls_err_t ls_cfgp_format(ls_cfgp_t *p, const yaml_node_t *node,
                               const char *key, ls_format_t *fmtp) {
        const char *s = ls_cfgp_scalar(node);

        if (!s || ls_format_parse(s, fmtp) != LS_OK)
                return ls_cfgp_err(
                        p, node, key,
                        "expected json, avro or registry, got \"%s\"",
                        s ? s : "(not a scalar)");
        return LS_OK;
}

/* Iterates the pairs of a mapping node; the key must be a scalar. */
#define LS_CFGP_FOREACH(P, MAP, KEY, KNODE, VNODE)                             \
        for (yaml_node_pair_t *pair_ = (MAP)->data.mapping.pairs.start;        \
             pair_ < (MAP)->data.mapping.pairs.top &&                          \
             ((KNODE) = yaml_document_get_node((P)->doc, pair_->key)) &&       \
             ((VNODE) = yaml_document_get_node((P)->doc, pair_->value)) &&     \
             (((KEY) = ls_cfgp_scalar(KNODE)) || 1);                           \
             pair_++)

static ls_err_t ls_cfgp_expect_map(ls_cfgp_t *p, const yaml_node_t *node,
                                   const char *key) {
        if (node->type != YAML_MAPPING_NODE)
                return ls_cfgp_err(p, node, key, "expected a mapping%s", NULL);
        return LS_OK;
}

/* Lets librdkafka validate every property name and value now, so that
 * its complaint comes with the line of the property. */
static ls_err_t ls_cfgp_props_check(ls_cfgp_t *p, yaml_node_t *map,
                                    const char *section,
                                    const ls_props_t *props) {
        rd_kafka_conf_t *kconf = rd_kafka_conf_new();
        yaml_node_t *kn, *vn;
        const char *k;
        char path[256], kerr[512];
        ls_err_t err = LS_OK;

        LS_CFGP_FOREACH(p, map, k, kn, vn) {
                if (rd_kafka_conf_set(kconf, k, ls_props_get(props, k), kerr,
                                      sizeof(kerr)) != RD_KAFKA_CONF_OK) {
                        snprintf(path, sizeof(path), "%s.%s", section, k);
                        /* librdkafka's message may quote the value */
                        err = ls_cfgp_err(p, kn, path, "%s",
                                          ls_props_is_secret(k)
                                                  ? "invalid value (not "
                                                    "shown: secret)"
                                                  : kerr);
                        break;
                }
        }
        rd_kafka_conf_destroy(kconf);
        return err;
}

/* ------------------------------------------------------------- sections */

static ls_err_t ls_cfgp_props(ls_cfgp_t *p, yaml_node_t *map,
                              const char *section, ls_props_t *props) {
        yaml_node_t *kn, *vn;
        const char *k;
        char path[256];
        ls_err_t err;

        if ((err = ls_cfgp_expect_map(p, map, section)))
                return err;
        LS_CFGP_FOREACH(p, map, k, kn, vn) {
                const char *v;
                snprintf(path, sizeof(path), "%s.%s", section, k ? k : "?");
                if (!k || !*k)
                        return ls_cfgp_err(p, kn, section,
                                           "property names must be strings%s",
                                           NULL);
                v = ls_cfgp_scalar(vn);
                if (!v)
                        return ls_cfgp_err(p, vn, path,
                                           "expected a scalar value%s", NULL);
                if (!strcmp(k, "group.id") ||
                    !strcmp(k, "enable.auto.commit") ||
                    !strcmp(k, "enable.auto.offset.store"))
                        return ls_cfgp_err(
                                p, kn, path,
                                "set by leadscore (use `group:`; offsets are "
                                "committed manually)%s",
                                NULL);
                if (ls_props_set(props, k, v))
                        return LS_ERR_NOMEM;
        }
        return ls_cfgp_props_check(p, map, section, props);
}

static ls_err_t ls_cfgp_topics(ls_cfgp_t *p, yaml_node_t *map) {
        yaml_node_t *kn, *vn;
        const char *k;
        char path[128];
        ls_err_t err;
        ls_config_t *c = p->conf;

        if ((err = ls_cfgp_expect_map(p, map, "topics")))
                return err;
        LS_CFGP_FOREACH(p, map, k, kn, vn) {
                char **dst = NULL;
                snprintf(path, sizeof(path), "topics.%s", k ? k : "?");
                if (!k)
                        dst = NULL;
                else if (!strcmp(k, "events"))
                        dst = &c->topic_events;
                else if (!strcmp(k, "profiles"))
                        dst = &c->topic_profiles;
                else if (!strcmp(k, "scores"))
                        dst = &c->topic_scores;
                else if (!strcmp(k, "alerts"))
                        dst = &c->topic_alerts;
                else if (!strcmp(k, "dead_letters"))
                        dst = &c->topic_dead_letters;
                if (!dst)
                        return ls_cfgp_err(p, kn, path,
                                           "unknown key (expected events, "
                                           "profiles, scores, alerts, "
                                           "dead_letters)%s",
                                           NULL);
                if ((err = ls_cfgp_string(p, vn, path, dst)))
                        return err;
        }
        return LS_OK;
}

static ls_err_t ls_cfgp_format_map(ls_cfgp_t *p, yaml_node_t *map) {
        yaml_node_t *kn, *vn;
        const char *k;
        ls_err_t err;

        if ((err = ls_cfgp_expect_map(p, map, "format")))
                return err;
        LS_CFGP_FOREACH(p, map, k, kn, vn) {
                if (k && !strcmp(k, "input"))
                        err = ls_cfgp_format(p, vn, "format.input",
                                             &p->conf->input_format);
                else if (k && !strcmp(k, "output"))
                        err = ls_cfgp_format(p, vn, "format.output",
                                             &p->conf->output_format);
                else
                        err = ls_cfgp_err(p, kn, "format",
                                          "unknown key \"%s\" (expected input, "
                                          "output)",
                                          k ? k : "?");
                if (err)
                        return err;
        }
        return LS_OK;
}

/* A path (resolved) to a file that must be readable now. */
static ls_err_t ls_cfgp_readable(ls_cfgp_t *p, const yaml_node_t *node,
                                 const char *key, char **dstp) {
        ls_err_t err = ls_cfgp_path(p, node, key, dstp);
        char why[PATH_MAX + 128];

        if (err)
                return err;
        if (access(*dstp, R_OK)) {
                snprintf(why, sizeof(why), "cannot read %s: %s", *dstp,
                         strerror(errno));
                return ls_cfgp_err(p, node, key, "%s", why);
        }
        return LS_OK;
}

/* Where each registry key was (for messages); NULL = not set. */
typedef struct ls_cfgp_regnodes_s {
        const yaml_node_t *url, *user_info, *tls, *key, *key_password;
        const yaml_node_t *lookups;
} ls_cfgp_regnodes_t;

/* The registry settings fit together. */
static ls_err_t ls_cfgp_registry_check(ls_cfgp_t *p, yaml_node_t *map,
                                       const ls_cfgp_regnodes_t *at) {
        const ls_config_t *c = p->conf;
        const char *u = c->registry_url;
        const char *auth = u ? strstr(u, "://") : NULL;
        int tls = c->registry_ca_location || c->registry_certificate_location ||
                  c->registry_key_location;

        if (!u)
                return (tls || c->registry_user_info ||
                        c->registry_key_password || at->lookups)
                               ? ls_cfgp_err(p, map, "registry.url",
                                             "required when other registry "
                                             "keys are set%s",
                                             NULL)
                               : LS_OK;
        if (strncmp(u, "http://", 7) && strncmp(u, "https://", 8))
                return ls_cfgp_err(p, at->url, "registry.url",
                                   "must start with http:// or https://%s",
                                   NULL);
        auth = auth ? auth + 3 : u;
        if (c->registry_user_info && memchr(auth, '@', strcspn(auth, "/?#")))
                return ls_cfgp_err(p, at->user_info,
                                   "registry.basic_auth_user_info",
                                   "the URL has user:password@ too; give the "
                                   "credentials once%s",
                                   NULL);
        if (tls && strncmp(u, "https://", 8))
                return ls_cfgp_err(p, at->url, "registry.url",
                                   "must be https:// when ca_location, "
                                   "certificate_location or key_location "
                                   "is set%s",
                                   NULL);
        if (c->registry_key_location && !c->registry_certificate_location)
                return ls_cfgp_err(p, at->key, "registry.key_location",
                                   "needs registry.certificate_location%s",
                                   NULL);
        if (c->registry_key_password && !c->registry_certificate_location)
                return ls_cfgp_err(p, at->key_password, "registry.key_password",
                                   "needs registry.certificate_location%s",
                                   NULL);
        return LS_OK;
}

static ls_err_t ls_cfgp_registry(ls_cfgp_t *p, yaml_node_t *map) {
        yaml_node_t *kn, *vn;
        const char *k;
        ls_cfgp_regnodes_t at;
        ls_err_t err;

        memset(&at, 0, sizeof(at));

        if ((err = ls_cfgp_expect_map(p, map, "registry")))
                return err;
        LS_CFGP_FOREACH(p, map, k, kn, vn) {
                ls_config_t *c = p->conf;
                if (k && !strcmp(k, "url")) {
                        at.url = vn;
                        err = ls_cfgp_string(p, vn, "registry.url",
                                             &c->registry_url);
                } else if (k && !strcmp(k, "basic_auth_user_info")) {
                        const char *s = ls_cfgp_scalar(vn);
                        at.user_info = vn;
                        /* never quote the value: it holds a password */
                        if (!s || !strchr(s, ':') || *s == ':')
                                return ls_cfgp_err(
                                        p, vn, "registry.basic_auth_user_info",
                                        "expected USER:PASSWORD (value not "
                                        "shown: secret)%s",
                                        NULL);
                        err = ls_cfgp_string(p, vn,
                                             "registry.basic_auth_user_info",
                                             &c->registry_user_info);
                } else if (k && !strcmp(k, "ca_location")) {
                        at.tls = at.tls ? at.tls : vn;
                        err = ls_cfgp_readable(p, vn, "registry.ca_location",
                                               &c->registry_ca_location);
                } else if (k && !strcmp(k, "certificate_location")) {
                        at.tls = at.tls ? at.tls : vn;
                        err = ls_cfgp_readable(
                                p, vn, "registry.certificate_location",
                                &c->registry_certificate_location);
                } else if (k && !strcmp(k, "key_location")) {
                        at.tls = at.tls ? at.tls : vn;
                        at.key = vn;
                        err = ls_cfgp_readable(p, vn, "registry.key_location",
                                               &c->registry_key_location);
                } else if (k && !strcmp(k, "key_password")) {
                        at.key_password = vn;
                        if (!ls_cfgp_scalar(vn) || !*ls_cfgp_scalar(vn))
                                return ls_cfgp_err(
                                        p, vn, "registry.key_password",
                                        "expected a non-empty string%s", NULL);
                        err = ls_cfgp_string(p, vn, "registry.key_password",
                                             &c->registry_key_password);
                } else if (k && !strcmp(k, "max_lookups_per_second")) {
                        long long v;

                        at.lookups = vn;
                        err = ls_cfgp_int(
                                p, vn, "registry.max_lookups_per_second", 1,
                                LS_REGISTRY_LOOKUPS_PER_SECOND_MAX, &v);
                        if (!err)
                                c->registry_max_lookups_per_second = (long)v;
                } else
                        err = ls_cfgp_err(p, kn, "registry",
                                          "unknown key \"%s\" (expected url, "
                                          "basic_auth_user_info, ca_location, "
                                          "certificate_location, key_location, "
                                          "key_password, "
                                          "max_lookups_per_second)",
                                          k ? k : "?");
                if (err)
                        return err;
        }
        return ls_cfgp_registry_check(p, map, &at);
}

static ls_err_t ls_cfgp_embedded(ls_cfgp_t *p, yaml_node_t *map) {
        yaml_node_t *kn, *vn;
        const char *k;
        long long v;
        ls_err_t err;

        if ((err = ls_cfgp_expect_map(p, map, "embedded_broker")))
                return err;
        p->conf->embedded = 1; /* asked for by the section's presence */
        LS_CFGP_FOREACH(p, map, k, kn, vn) {
                if (k && !strcmp(k, "partitions")) {
                        if ((err = ls_cfgp_int(p, vn,
                                               "embedded_broker.partitions", 1,
                                               1024, &v)))
                                return err;
                        p->conf->embedded_partitions = (int)v;
                } else {
                        return ls_cfgp_err(p, kn, "embedded_broker",
                                           "unknown key \"%s\" (expected "
                                           "partitions)",
                                           k ? k : "?");
                }
        }
        return LS_OK;
}

static ls_err_t ls_cfgp_metrics(ls_cfgp_t *p, yaml_node_t *map) {
        yaml_node_t *kn, *vn;
        const char *k;
        ls_err_t err;

        if ((err = ls_cfgp_expect_map(p, map, "metrics")))
                return err;
        LS_CFGP_FOREACH(p, map, k, kn, vn) {
                if (k && !strcmp(k, "listen")) {
                        const char *s = ls_cfgp_scalar(vn);
                        const char *colon = s ? strrchr(s, ':') : NULL;
                        if (!colon || !colon[1] ||
                            strspn(colon + 1, "0123456789") !=
                                    strlen(colon + 1))
                                return ls_cfgp_err(
                                        p, vn, "metrics.listen",
                                        "expected HOST:PORT with a numeric "
                                        "port, e.g. 127.0.0.1:9464, got "
                                        "\"%s\"",
                                        s ? s : "(not a scalar)");
                        err = ls_cfgp_string(p, vn, "metrics.listen",
                                             &p->conf->metrics_listen);
                } else {
                        err = ls_cfgp_err(p, kn, "metrics",
                                          "unknown key \"%s\" (expected "
                                          "listen)",
                                          k ? k : "?");
                }
                if (err)
                        return err;
        }
        return LS_OK;
}

static ls_err_t ls_cfgp_log(ls_cfgp_t *p, yaml_node_t *map) {
        yaml_node_t *kn, *vn;
        const char *k;
        ls_err_t err = LS_OK;

        if ((err = ls_cfgp_expect_map(p, map, "log")))
                return err;
        LS_CFGP_FOREACH(p, map, k, kn, vn) {
                const char *s = ls_cfgp_scalar(vn);
                if (k && !strcmp(k, "format")) {
                        if (ls_log_format_parse(s, &p->conf->log_format))
                                err = ls_cfgp_err(p, vn, "log.format",
                                                  "expected logfmt or json, "
                                                  "got \"%s\"",
                                                  s ? s : "(not a scalar)");
                } else if (k && !strcmp(k, "level")) {
                        if (ls_log_level_parse(s, &p->conf->log_level))
                                err = ls_cfgp_err(p, vn, "log.level",
                                                  "expected debug, info, warn "
                                                  "or error, got \"%s\"",
                                                  s ? s : "(not a scalar)");
                } else {
                        err = ls_cfgp_err(p, kn, "log",
                                          "unknown key \"%s\" (expected "
                                          "format, level)",
                                          k ? k : "?");
                }
                if (err)
                        return err;
        }
        return LS_OK;
}

static ls_err_t ls_cfgp_bool(ls_cfgp_t *p, const yaml_node_t *node,
                             const char *key, int *vp) {
        const char *s = ls_cfgp_scalar(node);

        if (s && (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on")))
                *vp = 1;
        else if (s &&
                 (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off")))
                *vp = 0;
        else
                return ls_cfgp_err(p, node, key,
                                   "expected true or false, got \"%s\"",
                                   s ? s : "(not a scalar)");
        return LS_OK;
}

/*
 * snapshot.dir values that read as "no directory" to YAML 1.1 or to a
 * person. They are refused rather than taken as a directory of that name:
 * the one way to run without durable state is `snapshot: off`.
 */
static int ls_cfgp_offish(const char *s) {
        static const char *const words[] = {"none", "off",    "no", "false",
                                            "null", "~",      "0",  "disabled",
                                            "n",    "disable"};
        size_t i;

        for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
                if (!strcasecmp(s, words[i]))
                        return 1;
        return 0;
}

/*
 * snapshot: off | {dir, interval, every_events, keep}. A mapping without
 * dir keeps the default directory (set after the whole file is read, see
 * ls_config_snapshot_default()).
 */
static ls_err_t ls_cfgp_snapshot(ls_cfgp_t *p, yaml_node_t *map) {
        const char *s = ls_cfgp_scalar(map);
        yaml_node_t *kn, *vn;
        const char *k;
        long long v;
        ls_err_t err;

        if (s && !strcasecmp(s, "off")) {
                ls_free(p->conf->snapshot_dir);
                p->conf->snapshot_dir = NULL;
                p->conf->snapshot_source = LS_SNAPSHOT_SRC_OFF;
                return LS_OK;
        }
        if (map->type != YAML_MAPPING_NODE) {
                char got[96];

                if (!s)
                        snprintf(got, sizeof(got), "a list");
                else if (!*s)
                        snprintf(got, sizeof(got), "an empty value");
                else
                        snprintf(got, sizeof(got), "\"%.60s%s\"", s,
                                 strlen(s) > 60 ? "..." : "");
                return ls_cfgp_err(p, map, "snapshot",
                                   "expected off (run without durable state) "
                                   "or a mapping such as {dir: PATH, "
                                   "interval: 30s}, got %s",
                                   got);
        }
        LS_CFGP_FOREACH(p, map, k, kn, vn) {
                if (k && !strcmp(k, "dir")) {
                        const char *d = ls_cfgp_scalar(vn);
                        if (d && ls_cfgp_offish(d))
                                return ls_cfgp_err(
                                        p, vn, "snapshot.dir",
                                        "\"%s\" is not a way to turn "
                                        "snapshots off: write `snapshot: off` "
                                        "to run without durable state, or "
                                        "name the directory as a path "
                                        "(./NAME)",
                                        d);
                        err = ls_cfgp_path(p, vn, "snapshot.dir",
                                           &p->conf->snapshot_dir);
                        if (!err)
                                p->conf->snapshot_source =
                                        LS_SNAPSHOT_SRC_CONFIG;
                } else if (k && !strcmp(k, "interval")) {
                        err = ls_cfgp_duration(p, vn, "snapshot.interval",
                                               &p->conf->snapshot_interval_ms);
                } else if (k && !strcmp(k, "every_events")) {
                        err = ls_cfgp_int(p, vn, "snapshot.every_events", 0,
                                          INT64_MAX, &v);
                        if (!err)
                                p->conf->snapshot_every_events = (uint64_t)v;
                } else if (k && !strcmp(k, "keep")) {
                        err = ls_cfgp_int(p, vn, "snapshot.keep", 1, 1000, &v);
                        if (!err)
                                p->conf->snapshot_keep = (int)v;
                } else if (k && !strcmp(k, "topic")) {
                        err = ls_cfgp_string(p, vn, "snapshot.topic",
                                             &p->conf->snapshot_topic);
                } else if (k && !strcmp(k, "allow_reset")) {
                        err = ls_cfgp_bool(p, vn, "snapshot.allow_reset",
                                           &p->conf->snapshot_allow_reset);
                } else {
                        err = ls_cfgp_err(p, kn, "snapshot",
                                          "unknown key \"%s\" (expected dir, "
                                          "topic, interval, every_events, "
                                          "keep, allow_reset)",
                                          k ? k : "?");
                }
                if (err)
                        return err;
        }
        return LS_OK;
}

ls_err_t ls_cfgp_root(ls_cfgp_t *p, yaml_node_t *root) {
        yaml_node_t *kn, *vn;
        const char *k;
        long long v;
        ls_err_t err = LS_OK;
        ls_config_t *c = p->conf;

        if (root->type != YAML_MAPPING_NODE)
                return ls_cfgp_err(p, root, "(top level)",
                                   "expected a mapping of keys%s", NULL);
        LS_CFGP_FOREACH(p, root, k, kn, vn) {
                if (!k)
                        return ls_cfgp_err(p, kn, "(top level)",
                                           "keys must be strings%s", NULL);
                if (!strcmp(k, "model"))
                        err = ls_cfgp_path(p, vn, k, &c->model_path);
                else if (!strcmp(k, "topics"))
                        err = ls_cfgp_topics(p, vn);
                else if (!strcmp(k, "group"))
                        err = ls_cfgp_string(p, vn, k, &c->group);
                else if (!strcmp(k, "format"))
                        err = ls_cfgp_format_map(p, vn);
                else if (!strcmp(k, "schemas"))
                        err = ls_cfgp_path(p, vn, k, &c->schema_dir);
                else if (!strcmp(k, "registry"))
                        err = ls_cfgp_registry(p, vn);
                else if (!strcmp(k, "idle_tick")) {
                        const char *tick = ls_cfgp_scalar(vn);
                        if (tick && !strcasecmp(tick, "off"))
                                c->idle_tick_ms = 0;
                        else
                                err = ls_cfgp_duration(p, vn, k,
                                                       &c->idle_tick_ms);
                } else if (!strcmp(k, "commit_interval"))
                        err = ls_cfgp_duration(p, vn, k,
                                               &c->commit_interval_ms);
                else if (!strcmp(k, "max_record_bytes")) {
                        err = ls_cfgp_int(p, vn, k, 64, 256LL * 1024 * 1024,
                                          &v);
                        if (!err)
                                c->max_record_bytes = (size_t)v;
                } else if (!strcmp(k, "max_leads")) {
                        const char *ml = ls_cfgp_scalar(vn);
                        if (ml && !strcmp(ml, "auto"))
                                c->max_leads = LS_MAX_LEADS_AUTO;
                        else if (ml && !strcmp(ml, "none"))
                                c->max_leads = 0;
                        else if (!ml || !*ml ||
                                 strspn(ml, "0123456789") != strlen(ml))
                                err = ls_cfgp_err(p, vn, k,
                                                  "expected a number of "
                                                  "leads, auto or none, got "
                                                  "\"%s\"",
                                                  ml ? ml : "");
                        else if (!(err = ls_cfgp_int(p, vn, k, 1,
                                                     (long long)UINT32_MAX,
                                                     &v)))
                                c->max_leads = v;
                } else if (!strcmp(k, "kafka"))
                        err = ls_cfgp_props(p, vn, k, &c->kafka);
                else if (!strcmp(k, "consumer"))
                        err = ls_cfgp_props(p, vn, k, &c->consumer);
                else if (!strcmp(k, "producer"))
                        err = ls_cfgp_props(p, vn, k, &c->producer);
                else if (!strcmp(k, "embedded_broker"))
                        err = ls_cfgp_embedded(p, vn);
                else if (!strcmp(k, "snapshot"))
                        err = ls_cfgp_snapshot(p, vn);
                else if (!strcmp(k, "merge_wait")) {
                        const char *mw = ls_cfgp_scalar(vn);
                        if (mw && !strcmp(mw, "0"))
                                c->merge_wait_ms = 0;
                        else
                                err = ls_cfgp_duration(p, vn, k,
                                                       &c->merge_wait_ms);
                } else if (!strcmp(k, "workers")) {
                        const char *wk = ls_cfgp_scalar(vn);
                        if (wk && !strcmp(wk, "auto"))
                                c->workers = LS_WORKERS_AUTO;
                        else if (!wk || !*wk ||
                                 strspn(wk, "0123456789") != strlen(wk))
                                err = ls_cfgp_err(p, vn, k,
                                                  "expected a number of "
                                                  "threads or auto, got "
                                                  "\"%s\"",
                                                  wk ? wk : "");
                        else if (!(err = ls_cfgp_int(p, vn, k, 1,
                                                     LS_WORKERS_MAX, &v)))
                                c->workers = (int)v;
                } else if (!strcmp(k, "transactional"))
                        err = ls_cfgp_bool(p, vn, k, &c->transactional);
                else if (!strcmp(k, "metrics"))
                        err = ls_cfgp_metrics(p, vn);
                else if (!strcmp(k, "log"))
                        err = ls_cfgp_log(p, vn);
                else if (!strcmp(k, "model_watch"))
                        err = ls_cfgp_bool(p, vn, k, &c->model_watch);
                else
                        err = ls_cfgp_err(p, kn, k,
                                          "unknown key (see docs/CONFIG.md)%s",
                                          NULL);
                if (err)
                        return err;
        }
        if (!c->model_path)
                return ls_cfgp_err(p, root, "model",
                                   "required key is missing%s", NULL);
        if (c->transactional &&
            !ls_props_get(&c->producer, "transactional.id") &&
            !ls_props_get(&c->kafka, "transactional.id"))
                return ls_cfgp_err(p, root, "transactional",
                                   "true needs producer.transactional.id%s",
                                   NULL);
        if ((c->input_format == LS_FORMAT_REGISTRY ||
             c->output_format == LS_FORMAT_REGISTRY) &&
            !c->registry_url)
                return ls_cfgp_err(p, root, "registry.url",
                                   "required when a format is registry%s",
                                   NULL);
        return LS_OK;
}
