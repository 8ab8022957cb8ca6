/*
 * ls_config.c - loads the YAML configuration of `leadscore run`.
 *
 * The file is read into a libyaml document; each key is checked against
 * the table of known keys, so that a typo is an error naming the file,
 * the line and the key path (e.g. "run.yaml:7: topics.scorse: unknown
 * key"). Relative paths are resolved against the config file's directory.
 * A file without snapshot.dir gets the default snapshot directory (durable
 * state unless `snapshot: off`), see ls_config_snapshot_default().
 */
#include "leadscore/ls_config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include <librdkafka/rdkafka.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_model.h"
#include "leadscore/ls_url.h"

/* ---------------------------------------------------------------- props */

const char *ls_props_get(const ls_props_t *props, const char *name) {
        size_t i;

        for (i = 0; i < props->n; i++)
                if (!strcmp(props->names[i], name))
                        return props->values[i];
        return NULL;
}

ls_err_t ls_props_set(ls_props_t *props, const char *name, const char *value) {
        char **names, **values;
        char *n, *v;
        size_t i;

        v = ls_strdup(value);
        if (!v)
                return LS_ERR_NOMEM;
        for (i = 0; i < props->n; i++) {
                if (!strcmp(props->names[i], name)) {
                        ls_free(props->values[i]);
                        props->values[i] = v;
                        return LS_OK;
                }
        }
        n = ls_strdup(name);
        names = ls_realloc(props->names, (props->n + 1) * sizeof(*names));
        if (names)
                props->names = names;
        values = ls_realloc(props->values, (props->n + 1) * sizeof(*values));
        if (values)
                props->values = values;
        if (!n || !names || !values) {
                ls_free(n);
                ls_free(v);
                return LS_ERR_NOMEM;
        }
        props->names[props->n] = n;
        props->values[props->n] = v;
        props->n++;
        return LS_OK;
}

void ls_props_clear(ls_props_t *props) {
        size_t i;

        for (i = 0; i < props->n; i++) {
                ls_free(props->names[i]);
                ls_free(props->values[i]);
        }
        ls_free(props->names);
        ls_free(props->values);
        memset(props, 0, sizeof(*props));
}

int ls_props_is_secret(const char *name) {
        /* Case-insensitive substring search without GNU strcasestr. */
        static const char *const words[] = {"password", "secret",
                                            "sasl.oauthbearer", "ssl.key"};
        size_t i, j, nlen = strlen(name);

        for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
                size_t wlen = strlen(words[i]);
                for (j = 0; j + wlen <= nlen; j++)
                        if (!strncasecmp(name + j, words[i], wlen))
                                return 1;
        }
        return 0;
}

/* ------------------------------------------------------------- defaults */

static int ls_is_dir(const char *path) {
        struct stat st;

        return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *ls_config_default_dir(const char *name) {
        char exe[PATH_MAX], cand[PATH_MAX + 64];
        ssize_t n;
        char *slash;

        n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n > 0) {
                exe[n] = '\0';
                slash = strrchr(exe, '/');
                if (slash) {
                        *slash = '\0'; /* the executable's directory */
                        slash = strrchr(exe, '/');
                        if (slash) {
                                *slash = '\0'; /* its parent */
                                snprintf(cand, sizeof(cand), "%s/%s", exe,
                                         name);
                                if (ls_is_dir(cand))
                                        return ls_strdup(cand);
                                snprintf(cand, sizeof(cand),
                                         "%s/share/leadscore/%s", exe, name);
                                if (ls_is_dir(cand))
                                        return ls_strdup(cand);
                        }
                }
        }
        if (ls_is_dir(name))
                return ls_strdup(name);
        return NULL;
}

ls_config_t *ls_config_new_defaults(void) {
        ls_config_t *conf = ls_calloc(1, sizeof(*conf));

        if (!conf)
                return NULL;
        conf->path = ls_strdup("(defaults)");
        conf->topic_events = ls_strdup("lead-events");
        conf->topic_profiles = ls_strdup("lead-profiles");
        conf->topic_scores = ls_strdup("lead-scores");
        conf->topic_alerts = ls_strdup("lead-alerts");
        conf->topic_dead_letters = ls_strdup("lead-dead-letters");
        conf->group = ls_strdup("leadscore");
        conf->input_format = LS_FORMAT_JSON;
        conf->output_format = LS_FORMAT_JSON;
        conf->commit_interval_ms = 1000;
        conf->max_record_bytes = 1024 * 1024;
        conf->max_leads = LS_MAX_LEADS_AUTO;
        conf->embedded_partitions = 4;
        conf->snapshot_interval_ms = 30000;
        conf->snapshot_keep = 3;
        conf->merge_wait_ms = 1000;
        conf->registry_max_lookups_per_second = LS_REGISTRY_LOOKUPS_PER_SECOND;
        conf->log_format = LS_LOG_LOGFMT;
        conf->log_level = LS_LOG_INFO;
        if (!conf->path || !conf->topic_events || !conf->topic_profiles ||
            !conf->topic_scores || !conf->topic_alerts ||
            !conf->topic_dead_letters || !conf->group) {
                ls_config_destroy(conf);
                return NULL;
        }
        return conf;
}

void ls_config_destroy(ls_config_t *conf) {
        if (!conf)
                return;
        ls_free(conf->path);
        ls_free(conf->model_path);
        ls_free(conf->topic_events);
        ls_free(conf->topic_profiles);
        ls_free(conf->topic_scores);
        ls_free(conf->topic_alerts);
        ls_free(conf->topic_dead_letters);
        ls_free(conf->group);
        ls_free(conf->schema_dir);
        ls_free(conf->registry_url);
        ls_free(conf->registry_user_info);
        ls_free(conf->registry_ca_location);
        ls_free(conf->registry_certificate_location);
        ls_free(conf->registry_key_location);
        ls_free(conf->registry_key_password);
        ls_free(conf->snapshot_dir);
        ls_free(conf->snapshot_topic);
        ls_free(conf->metrics_listen);
        ls_props_clear(&conf->kafka);
        ls_props_clear(&conf->consumer);
        ls_props_clear(&conf->producer);
        ls_free(conf);
}

int ls_config_has_bootstrap(const ls_config_t *conf) {
        const char *v = ls_props_get(&conf->kafka, "bootstrap.servers");

        if (!v)
                v = ls_props_get(&conf->kafka, "metadata.broker.list");
        if (!v)
                v = ls_props_get(&conf->consumer, "bootstrap.servers");
        return v && *v;
}

/* --------------------------------------------------------------- parser */

typedef struct ls_cfgp_s {
        yaml_document_t *doc;
        const char *name;     /* file name for messages */
        const char *base_dir; /* for relative paths, may be NULL */
        ls_config_t *conf;
        char *errstr;
        size_t errstr_size;
        unsigned char *expanded; /* per node of doc: its ${...} was expanded
                                  * (a YAML alias reaches a node again) */
} ls_cfgp_t;

#define LS_CFGP_FROM_SECRET 2 /* p->expanded: replaced from env / file */
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

static ls_err_t ls_cfgp_err(ls_cfgp_t *p, const yaml_node_t *node,
                            const char *key, const char *fmt, const char *a) {
        char why[PATH_MAX + 256]; /* a path and a few words */

        snprintf(why, sizeof(why), fmt, a ? a : "");
        ls_cfgp_hide(p, node, why, sizeof(why));
        return ls_seterr(p->errstr, p->errstr_size, LS_ERR_INVALID,
                         "%s:%lu: %s: %s", p->name,
                         node ? (unsigned long)node->start_mark.line + 1 : 0UL,
                         key, why);
}

static const char *ls_cfgp_scalar(const yaml_node_t *node) {
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

static ls_err_t ls_cfgp_path(ls_cfgp_t *p, const yaml_node_t *node,
                             const char *key, char **dstp) {
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

/*
 * Indirect values. Before any key is interpreted, every scalar value of
 * the document (at any depth, keys excepted) that is as a whole
 * "${env:NAME}" becomes the environment variable NAME, and
 * "${file:PATH}" the contents of PATH (relative to the config's
 * directory, at most LS_CFG_FILE_MAX bytes, one trailing newline
 * dropped), so that secrets and per-deployment values can come from a
 * Kubernetes Secret or systemd credentials instead of the config file.
 * A value is expanded once: what it expands to is taken as it is.
 * Errors name the line and the key path, never the value.
 */
#define LS_CFG_FILE_MAX (64 * 1024)
#define LS_CFG_MAX (16 << 20) /* the config file itself */

/*
 * Replaces the value of scalar @p node by @p v (@p len bytes). The
 * document's strings belong to libyaml, which frees them with free():
 * the new one is allocated with malloc() to match.
 */
static ls_err_t ls_cfgp_replace(yaml_node_t *node, const char *v, size_t len) {
        yaml_char_t *copy = malloc(len + 1);

        if (!copy)
                return LS_ERR_NOMEM;
        memcpy(copy, v, len);
        copy[len] = '\0';
        free(node->data.scalar.value);
        node->data.scalar.value = copy;
        node->data.scalar.length = len;
        return LS_OK;
}

/* Reads "${file:PATH}" for @p node (key @p path) into its value. */
static ls_err_t ls_cfgp_expand_file(ls_cfgp_t *p, yaml_node_t *node,
                                    const char *path, const char *fname) {
        char *fpath = NULL;
        FILE *fp;
        ls_buf_t c;
        char chunk[4096];
        size_t r;
        ls_err_t err;
        yaml_node_t tmp = *node;

        tmp.data.scalar.value = (yaml_char_t *)fname;
        if ((err = ls_cfgp_path(p, &tmp, path, &fpath)))
                return err;
        ls_buf_init(&c);
        fp = fopen(fpath, "rb");
        if (!fp) {
                char why[PATH_MAX + 128];
                snprintf(why, sizeof(why), "cannot read %s: %s", fpath,
                         strerror(errno));
                err = ls_cfgp_err(p, node, path, "%s", why);
        }
        while (!err && (r = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
                /* the bound, one newline, one byte to see it is over */
                if (c.len + r > LS_CFG_FILE_MAX + 2)
                        r = LS_CFG_FILE_MAX + 2 - c.len;
                if (ls_buf_append(&c, chunk, r))
                        err = LS_ERR_NOMEM;
                else if (c.len == LS_CFG_FILE_MAX + 2)
                        break;
        }
        if (!err && ferror(fp))
                err = ls_cfgp_err(p, node, path, "cannot read %s", fpath);
        if (fp)
                fclose(fp);
        if (!err && c.len > 0 && c.data[c.len - 1] == '\n')
                c.len--;
        if (!err && c.len > LS_CFG_FILE_MAX) {
                char why[PATH_MAX + 64];
                snprintf(why, sizeof(why), "%s is larger than %d KiB", fpath,
                         LS_CFG_FILE_MAX / 1024);
                err = ls_cfgp_err(p, node, path, "%s", why);
        }
        if (!err && c.len && memchr(c.data, '\0', c.len))
                err = ls_cfgp_err(p, node, path, "%s contains a NUL byte",
                                  fpath);
        if (!err)
                err = ls_cfgp_replace(node, c.data ? c.data : "", c.len);
        ls_buf_free(&c);
        ls_free(fpath);
        return err;
}

/* Expands scalar @p node (key @p path) if it is ${env:..} or ${file:..}. */
static ls_err_t ls_cfgp_expand_scalar(ls_cfgp_t *p, yaml_node_t *node,
                                      const char *path) {
        const char *v = (const char *)node->data.scalar.value;
        size_t n = node->data.scalar.length;
        char *inner;
        ls_err_t err;

        size_t idx = (size_t)(node - p->doc->nodes.start);

        /* Once per node: an alias must not expand an expanded value. */
        if (p->expanded[idx])
                return LS_OK;
        p->expanded[idx] = 1;
        if (n < 4 || strncmp(v, "${", 2) || v[n - 1] != '}')
                return LS_OK;
        if (!(inner = ls_strndup(v + 2, n - 3)))
                return LS_ERR_NOMEM;
        if (!strncmp(inner, "env:", 4) && inner[4]) {
                const char *e = getenv(inner + 4);
                err = e ? ls_cfgp_replace(node, e, strlen(e))
                        : ls_cfgp_err(p, node, path,
                                      "environment variable %s is not set",
                                      inner + 4);
                if (!err)
                        p->expanded[idx] = LS_CFGP_FROM_SECRET;
        } else if (!strncmp(inner, "file:", 5) && inner[5]) {
                err = ls_cfgp_expand_file(p, node, path, inner + 5);
                if (!err)
                        p->expanded[idx] = LS_CFGP_FROM_SECRET;
        } else {
                err = ls_cfgp_err(p, node, path,
                                  "expected ${env:NAME} or ${file:PATH}, got "
                                  "\"${%s}\"",
                                  inner);
        }
        ls_free(inner);
        return err;
}

/* Expands every scalar value under @p node, whose key path is @p path. */
static ls_err_t ls_cfgp_expand(ls_cfgp_t *p, yaml_node_t *node,
                               const char *path, int depth) {
        char sub[512];
        ls_err_t err;

        if (depth > 32)
                return ls_cfgp_err(p, node, path, "nested too deeply%s", NULL);
        if (node->type == YAML_SCALAR_NODE)
                return ls_cfgp_expand_scalar(p, node, path);
        if (node->type == YAML_SEQUENCE_NODE) {
                yaml_node_item_t *it;
                for (it = node->data.sequence.items.start;
                     it < node->data.sequence.items.top; it++) {
                        yaml_node_t *item = yaml_document_get_node(p->doc, *it);
                        snprintf(sub, sizeof(sub), "%s[%d]", path,
                                 (int)(it - node->data.sequence.items.start));
                        if (item &&
                            (err = ls_cfgp_expand(p, item, sub, depth + 1)))
                                return err;
                }
                return LS_OK;
        }
        if (node->type == YAML_MAPPING_NODE) {
                yaml_node_pair_t *pr;
                for (pr = node->data.mapping.pairs.start;
                     pr < node->data.mapping.pairs.top; pr++) {
                        yaml_node_t *kn =
                                yaml_document_get_node(p->doc, pr->key);
                        yaml_node_t *vn =
                                yaml_document_get_node(p->doc, pr->value);
                        const char *k = kn ? ls_cfgp_scalar(kn) : NULL;
                        snprintf(sub, sizeof(sub), "%s%s%s", path,
                                 *path ? "." : "", k ? k : "?");
                        if (vn && (err = ls_cfgp_expand(p, vn, sub, depth + 1)))
                                return err;
                }
        }
        return LS_OK;
}

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

/*
 * The default snapshot directory, for a file without `snapshot: off` or
 * snapshot.dir: none when the embedded test broker will be used (its
 * topics end with the process, so state kept past it would resume at
 * offsets of records that no longer exist); else the first path of
 * systemd's $STATE_DIRECTORY + "/snapshots"; else
 * LS_SNAPSHOT_WORKDIR_NAME in the working directory. Made absolute now,
 * so that --print-config and the log show where state goes.
 */
static ls_err_t ls_config_snapshot_default(ls_config_t *c, char *errstr,
                                           size_t errstr_size) {
        const char *sd = getenv("STATE_DIRECTORY");
        char cwd[PATH_MAX];
        size_t n = 0;
        ls_buf_t b;

        if (c->snapshot_topic) {
                if (c->snapshot_source == LS_SNAPSHOT_SRC_CONFIG)
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "%s: snapshot: set dir or topic, "
                                         "not both",
                                         c->path);
                if (c->snapshot_source == LS_SNAPSHOT_SRC_NONE)
                        c->snapshot_source = LS_SNAPSHOT_SRC_TOPIC;
                return LS_OK;
        }
        if (c->snapshot_source != LS_SNAPSHOT_SRC_NONE)
                return LS_OK;
        if (c->embedded && !ls_config_has_bootstrap(c)) {
                c->snapshot_source = LS_SNAPSHOT_SRC_EMBEDDED;
                return LS_OK;
        }
        if (sd) {
                n = strcspn(sd, ":"); /* several StateDirectory= paths */
                while (n > 1 && sd[n - 1] == '/')
                        n--;
        }
        if ((!sd || n == 0 || sd[0] != '/') && !getcwd(cwd, sizeof(cwd)))
                return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                 "%s: snapshot.dir: not set, and the working "
                                 "directory its default is in is unknown "
                                 "(%s); set snapshot.dir, or write "
                                 "`snapshot: off` to run without durable "
                                 "state",
                                 c->path, strerror(errno));
        ls_buf_init(&b);
        if (sd && n > 0) {
                if ((sd[0] != '/' && ls_buf_appendf(&b, "%s/", cwd)) ||
                    ls_buf_appendf(&b, "%.*s/snapshots", (int)n, sd))
                        goto nomem;
                c->snapshot_source = LS_SNAPSHOT_SRC_STATE_DIRECTORY;
        } else {
                if (ls_buf_appendf(&b, "%s%s" LS_SNAPSHOT_WORKDIR_NAME, cwd,
                                   strcmp(cwd, "/") ? "/" : ""))
                        goto nomem;
                c->snapshot_source = LS_SNAPSHOT_SRC_WORKDIR;
        }
        ls_free(c->snapshot_dir);
        c->snapshot_dir = b.data; /* ownership of the buffer's memory moves */
        return LS_OK;
nomem:
        ls_buf_free(&b);
        return LS_ERR_NOMEM;
}

const char *ls_config_snapshot_source2str(const ls_config_t *conf) {
        switch (conf->snapshot_source) {
        case LS_SNAPSHOT_SRC_CONFIG:
                return "snapshot.dir";
        case LS_SNAPSHOT_SRC_STATE_DIRECTORY:
                return "default: $STATE_DIRECTORY/snapshots";
        case LS_SNAPSHOT_SRC_WORKDIR:
                return "default: " LS_SNAPSHOT_WORKDIR_NAME
                       " in the working directory";
        case LS_SNAPSHOT_SRC_OFF:
                return "snapshot: off";
        case LS_SNAPSHOT_SRC_TOPIC:
                return "snapshot.topic";
        case LS_SNAPSHOT_SRC_EMBEDDED:
                return "default with the embedded test broker, whose topics "
                       "end with the process";
        case LS_SNAPSHOT_SRC_NONE:
        default:
                return "no config file";
        }
}

ls_err_t ls_config_snapshot_prepare(const ls_config_t *conf, char *errstr,
                                    size_t errstr_size) {
        const char *dir = conf->snapshot_dir;
        const char *why = NULL;
        struct stat st;
        int e = 0;

        if (!dir || (conf->snapshot_source != LS_SNAPSHOT_SRC_STATE_DIRECTORY &&
                     conf->snapshot_source != LS_SNAPSHOT_SRC_WORKDIR))
                return LS_OK;
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
                why = "cannot create it";
                e = errno;
        } else if (stat(dir, &st) != 0) {
                why = "cannot read it";
                e = errno;
        } else if (!S_ISDIR(st.st_mode)) {
                why = "not a directory";
        } else if (access(dir, W_OK | X_OK) != 0) {
                why = "cannot write in it";
                e = errno;
        }
        if (!why)
                return LS_OK;
        return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                         "%s: snapshot directory %s (%s): %s%s%s; set "
                         "snapshot.dir to a writable directory, or write "
                         "`snapshot: off` to run without durable state",
                         conf->path, dir, ls_config_snapshot_source2str(conf),
                         why, e ? ": " : "", e ? strerror(e) : "");
}

static ls_err_t ls_cfgp_root(ls_cfgp_t *p, yaml_node_t *root) {
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
                else if (!strcmp(k, "idle_tick"))
                        err = ls_cfgp_duration(p, vn, k, &c->idle_tick_ms);
                else if (!strcmp(k, "commit_interval"))
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

ls_err_t ls_config_load_string(const char *yaml, size_t len, const char *name,
                               const char *base_dir, ls_config_t **confp,
                               char *errstr, size_t errstr_size) {
        yaml_parser_t parser;
        yaml_document_t doc;
        yaml_node_t *root;
        ls_cfgp_t p;
        ls_config_t *conf;
        ls_err_t err;

        conf = ls_config_new_defaults();
        if (!conf)
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "%s: out of memory", name);
        ls_free(conf->path);
        conf->path = ls_strdup(name);

        if (!yaml_parser_initialize(&parser)) {
                ls_config_destroy(conf);
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "%s: out of memory", name);
        }
        yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
        if (!yaml_parser_load(&parser, &doc)) {
                err = ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                "%s:%lu: YAML error: %s %s", name,
                                (unsigned long)parser.problem_mark.line + 1,
                                parser.problem ? parser.problem : "",
                                parser.context ? parser.context : "");
                yaml_parser_delete(&parser);
                ls_config_destroy(conf);
                return err;
        }
        memset(&p, 0, sizeof(p));
        p.doc = &doc;
        p.name = name;
        p.base_dir = base_dir;
        p.conf = conf;
        p.errstr = errstr;
        p.errstr_size = errstr_size;

        root = yaml_document_get_root_node(&doc);
        if (!root)
                err = ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                "%s:1: the file is empty (at least `model:` is "
                                "required)",
                                name);
        else if (!(p.expanded = ls_calloc(
                           (size_t)(doc.nodes.top - doc.nodes.start) + 1, 1)))
                err = LS_ERR_NOMEM;
        else if (!(err = ls_cfgp_expand(&p, root, "", 0)))
                err = ls_cfgp_root(&p, root);
        ls_free(p.expanded);
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);

        if (!err)
                err = ls_config_snapshot_default(conf, errstr, errstr_size);
        /* schemas: not set = the copies built into the program
         * (ls_codec_schema_text()), wherever it runs from. */
        if (err == LS_ERR_NOMEM)
                ls_seterr(errstr, errstr_size, err, "%s: out of memory", name);
        if (err) {
                ls_config_destroy(conf);
                return err;
        }
        *confp = conf;
        return LS_OK;
}

ls_err_t ls_config_load(const char *path, ls_config_t **confp, char *errstr,
                        size_t errstr_size) {
        FILE *fp;
        ls_buf_t b;
        char chunk[8192], *dir, *slash;
        size_t n;
        ls_err_t err;

        fp = fopen(path, "rb");
        if (!fp)
                return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                 "%s: cannot open: %s", path, strerror(errno));
        ls_buf_init(&b);
        while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
                if (b.len + n > LS_CFG_MAX) {
                        fclose(fp);
                        ls_buf_free(&b);
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "%s: larger than %d MiB: not a "
                                         "config file",
                                         path, LS_CFG_MAX >> 20);
                }
                if (ls_buf_append(&b, chunk, n)) {
                        fclose(fp);
                        ls_buf_free(&b);
                        return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                         "%s: out of memory", path);
                }
        }
        if (ferror(fp)) {
                err = ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                "%s: read error: %s", path, strerror(errno));
                fclose(fp);
                ls_buf_free(&b);
                return err;
        }
        fclose(fp);

        dir = ls_strdup(path);
        if (!dir) {
                ls_buf_free(&b);
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "%s: out of memory", path);
        }
        slash = strrchr(dir, '/');
        if (slash == dir)
                dir[1] = '\0';
        else if (slash)
                *slash = '\0';
        else
                strcpy(dir, ".");
        err = ls_config_load_string(b.data ? b.data : "", b.len, path, dir,
                                    confp, errstr, errstr_size);
        ls_free(dir);
        ls_buf_free(&b);
        return err;
}

static void ls_config_print_props(const ls_props_t *props, const char *section,
                                  FILE *fp) {
        size_t i;

        for (i = 0; i < props->n; i++)
                fprintf(fp, "  %s.%s = %s\n", section, props->names[i],
                        ls_props_is_secret(props->names[i]) ? "********"
                                                            : props->values[i]);
}

void ls_config_print(const ls_config_t *conf, FILE *fp) {
        fprintf(fp, "config %s:\n", conf->path);
        fprintf(fp, "  model = %s\n",
                conf->model_path ? conf->model_path : "(none)");
        fprintf(fp,
                "  topics = events:%s profiles:%s scores:%s alerts:%s "
                "dead_letters:%s\n",
                conf->topic_events, conf->topic_profiles, conf->topic_scores,
                conf->topic_alerts, conf->topic_dead_letters);
        fprintf(fp, "  group = %s\n", conf->group);
        fprintf(fp, "  format = input:%s output:%s\n",
                ls_format2str(conf->input_format),
                ls_format2str(conf->output_format));
        fprintf(fp, "  schemas = %s\n",
                conf->schema_dir ? conf->schema_dir : "(built in)");
        if (conf->registry_url) {
                /* user:password@ in the URL: the password is a secret */
                const char *u = conf->registry_url;
                size_t off, len;

                if (ls_url_password(u, &off, &len))
                        fprintf(fp, "  registry.url = %.*s********%s\n",
                                (int)off, u, u + off + len);
                else
                        fprintf(fp, "  registry.url = %s\n", u);
        }
        if (conf->registry_user_info)
                fprintf(fp, "  registry.basic_auth_user_info = %.*s:********\n",
                        (int)strcspn(conf->registry_user_info, ":"),
                        conf->registry_user_info);
        if (conf->registry_ca_location)
                fprintf(fp, "  registry.ca_location = %s\n",
                        conf->registry_ca_location);
        if (conf->registry_certificate_location)
                fprintf(fp, "  registry.certificate_location = %s\n",
                        conf->registry_certificate_location);
        if (conf->registry_key_location)
                fprintf(fp, "  registry.key_location = %s\n",
                        conf->registry_key_location);
        if (conf->registry_key_password)
                fprintf(fp, "  registry.key_password = ********\n");
        if (conf->registry_url)
                fprintf(fp, "  registry.max_lookups_per_second = %ld\n",
                        conf->registry_max_lookups_per_second);
        fprintf(fp, "  idle_tick = %lldms%s\n", (long long)conf->idle_tick_ms,
                conf->idle_tick_ms ? "" : " (off)");
        fprintf(fp, "  commit_interval = %lldms\n",
                (long long)conf->commit_interval_ms);
        fprintf(fp, "  max_record_bytes = %zu\n", conf->max_record_bytes);
        if (conf->max_leads == LS_MAX_LEADS_AUTO)
                fprintf(fp, "  max_leads = auto\n");
        else if (conf->max_leads == 0)
                fprintf(fp, "  max_leads = none\n");
        else
                fprintf(fp, "  max_leads = %lld\n", (long long)conf->max_leads);
        if (conf->snapshot_dir || conf->snapshot_topic) {
                fprintf(fp,
                        "  snapshot = %s:%s interval:%lldms every_events:%llu",
                        conf->snapshot_dir ? "dir" : "topic",
                        conf->snapshot_dir ? conf->snapshot_dir
                                           : conf->snapshot_topic,
                        (long long)conf->snapshot_interval_ms,
                        (unsigned long long)conf->snapshot_every_events);
                if (conf->snapshot_dir)
                        fprintf(fp, " keep:%d", conf->snapshot_keep);
                fprintf(fp, "%s (%s)\n",
                        conf->snapshot_allow_reset ? " allow_reset" : "",
                        ls_config_snapshot_source2str(conf));
        } else {
                fprintf(fp, "  snapshot = off (%s)\n",
                        ls_config_snapshot_source2str(conf));
        }
        fprintf(fp, "  merge_wait = %lldms\n", (long long)conf->merge_wait_ms);
        fprintf(fp, "  transactional = %s\n",
                conf->transactional ? "true" : "false");
        fprintf(fp, "  metrics.listen = %s\n",
                conf->metrics_listen ? conf->metrics_listen : "(off)");
        fprintf(fp, "  log = format:%s level:%s\n",
                ls_log_format2str(conf->log_format),
                ls_log_level2str(conf->log_level));
        fprintf(fp, "  model_watch = %s\n",
                conf->model_watch ? "true" : "false");
        ls_config_print_props(&conf->kafka, "kafka", fp);
        ls_config_print_props(&conf->consumer, "consumer", fp);
        ls_config_print_props(&conf->producer, "producer", fp);
}

void ls_config_registry_conf(const ls_config_t *conf, ls_registry_conf_t *rc) {
        memset(rc, 0, sizeof(*rc));
        rc->url = conf->registry_url;
        rc->user_info = conf->registry_user_info;
        rc->ca_location = conf->registry_ca_location;
        rc->certificate_location = conf->registry_certificate_location;
        rc->key_location = conf->registry_key_location;
        rc->key_password = conf->registry_key_password;
        rc->max_lookups_per_second = conf->registry_max_lookups_per_second;
}

ls_err_t ls_config_log_secrets(const ls_config_t *conf, ls_log_t *log) {
        const ls_props_t *sets[3] = {&conf->kafka, &conf->consumer,
                                     &conf->producer};
        const char *u = conf->registry_url;
        size_t i, j, off, len;

        for (i = 0; i < 3; i++)
                for (j = 0; j < sets[i]->n; j++)
                        if (ls_props_is_secret(sets[i]->names[j]) &&
                            ls_log_add_secret(log, sets[i]->values[j]))
                                return LS_ERR_NOMEM;
        if (u && ls_url_password(u, &off, &len) && len > 0) {
                /* user:password@ in the URL */
                char *pw = ls_strndup(u + off, len);
                ls_err_t err = pw ? ls_log_add_secret(log, pw) : LS_ERR_NOMEM;

                ls_free(pw);
                if (err)
                        return err;
        }
        if (conf->registry_user_info &&
            ls_log_add_secret(log, strchr(conf->registry_user_info, ':') + 1))
                return LS_ERR_NOMEM;
        if (conf->registry_key_password &&
            ls_log_add_secret(log, conf->registry_key_password))
                return LS_ERR_NOMEM;
        return LS_OK;
}
