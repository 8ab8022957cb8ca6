/*
 * ls_config.c - the configuration of `leadscore run`: Kafka property
 * lists, the defaults, and loading a YAML file into an ls_config_t.
 *
 * The file is read into a libyaml document, then read in two passes:
 * ${env:} / ${file:} values are expanded (ls_config_expand.c), then each
 * key is checked against the table of known keys (ls_config_parse.c), so
 * that a typo is an error naming the file, the line and the key path
 * (e.g. "run.yaml:7: topics.scorse: unknown key"). Relative paths are
 * resolved against the config file's directory.
 * A file without snapshot.dir gets the default snapshot directory (durable
 * state unless `snapshot: off`), see ls_config_snapshot_default().
 * What --print-config shows and the secrets the log masks are in
 * ls_config_print.c.
 */
#define _GNU_SOURCE /* sched_getaffinity(), CPU_COUNT() */
#include "leadscore/ls_config.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_memlimit.h"
#include "ops/ls_config_int.h"

#define LS_CFG_MAX (16 << 20) /* the config file itself */

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

int ls_config_workers_auto(char *source, size_t source_size) {
        char quota_src[2400];
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        int q = ls_cpu_limit("", quota_src, sizeof(quota_src));
        cpu_set_t set;

        snprintf(source, source_size, "online cores");
        if (sched_getaffinity(0, sizeof(set), &set) == 0 &&
            CPU_COUNT(&set) > 0 && CPU_COUNT(&set) < n) {
                n = CPU_COUNT(&set);
                snprintf(source, source_size, "CPU affinity");
        }
        if (q > 0 && q < n) {
                n = q;
                snprintf(source, source_size, "cgroup quota %s", quota_src);
        }
        if (n < 1)
                return 1;
        return n > LS_WORKERS_MAX ? LS_WORKERS_MAX : (int)n;
}

int ls_config_workers(const ls_config_t *conf) {
        char source[2500];

        if (conf->workers != LS_WORKERS_AUTO)
                return conf->workers;
        return ls_config_workers_auto(source, sizeof(source));
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
        conf->idle_tick_ms = LS_IDLE_TICK_DEFAULT_MS;
        conf->max_record_bytes = 1024 * 1024;
        conf->max_leads = LS_MAX_LEADS_AUTO;
        conf->embedded_partitions = 4;
        conf->snapshot_interval_ms = 30000;
        conf->snapshot_keep = 3;
        conf->merge_wait_ms = 1000;
        conf->workers = LS_WORKERS_AUTO;
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

/* --------------------------------------------------- snapshot directory */

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

/* -------------------------------------------------------------- loading */

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
