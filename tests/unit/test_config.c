/*
 * test_config.c - the configuration loader (ls_config.h): ${env:NAME} and
 * ${file:PATH} in every value at any depth (registry.url included), their
 * errors naming file:line:key without the value, the 64 KiB bound of a
 * file value, and the registry's basic auth / TLS keys: their checks,
 * --print-config masking and the secrets handed to the logger; the
 * registry's lookup limit. The
 * snapshot directory: its default ($STATE_DIRECTORY/snapshots, else
 * leadscore-state in the working directory, none with the embedded test
 * broker), `snapshot: off`, and the spellings refused as ambiguous.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "leadscore/ls_config.h"
#include "leadscore/ls_log.h"

#define SCHEMAS LS_SOURCE_DIR "/schemas"
#define SECRET "Wq7-s3cret-value"

typedef struct cfg_dir_s {
        char path[64];
} cfg_dir_t;

static void dir_make(cfg_dir_t *d) {
        snprintf(d->path, sizeof(d->path), "/tmp/ls-cfgtest-XXXXXX");
        assert_non_null(mkdtemp(d->path));
}

static void dir_write(const cfg_dir_t *d, const char *name, const char *text,
                      size_t len) {
        char path[128];
        FILE *fp;

        snprintf(path, sizeof(path), "%s/%s", d->path, name);
        fp = fopen(path, "wb");
        assert_non_null(fp);
        assert_int_equal(fwrite(text, 1, len, fp), len);
        fclose(fp);
}

static void dir_remove(const cfg_dir_t *d) {
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
        assert_int_equal(system(cmd), 0);
}

/* Loads "model: m.yaml\nschemas: ...\n" + @p rest from directory @p d. */
static ls_err_t load(const cfg_dir_t *d, const char *rest, ls_config_t **cp,
                     char *err, size_t err_size) {
        char yaml[4096];
        int n = snprintf(yaml, sizeof(yaml), "model: m.yaml\nschemas: %s\n%s",
                         SCHEMAS, rest);

        ls_err_t rc;

        *cp = NULL;
        err[0] = '\0';
        rc = ls_config_load_string(yaml, (size_t)n, "run.yaml", d->path, cp,
                                   err, err_size);
        if (rc) /* shown when an assertion about it fails */
                fprintf(stderr, "load: %s\n", err);
        return rc;
}

/* The --print-config text of @p conf (in @p out). */
static void print_config(const ls_config_t *conf, char *out, size_t size) {
        FILE *fp = fmemopen(out, size, "w");

        assert_non_null(fp);
        ls_config_print(conf, fp);
        fclose(fp);
        out[size - 1] = '\0';
}

static void test_expand_every_value(void **state) {
        cfg_dir_t d;
        ls_config_t *c;
        char err[512], path[128];

        (void)state;
        dir_make(&d);
        dir_write(&d, "url.txt", "https://registry.test:8081\n", 27);
        dir_write(&d, "group.txt", "g-from-file", 11);
        setenv("LS_CFGT_TOPIC", "ev-from-env", 1);
        setenv("LS_CFGT_LEVEL", "debug", 1);
        setenv("LS_CFGT_CLIENT", "client-x", 1);
        setenv("LS_CFGT_PW", SECRET, 1);
        setenv("LS_CFGT_PARTS", "7", 1);
        setenv("LS_CFGT_LITERAL", "${env:LS_CFGT_TOPIC}", 1);
        assert_int_equal(
                load(&d,
                     "registry:\n"
                     "  url: ${file:url.txt}\n"
                     "topics: {events: \"${env:LS_CFGT_TOPIC}\", "
                     "scores: \"${env:LS_CFGT_LITERAL}\"}\n"
                     "group: ${file:group.txt}\n"
                     "log:\n"
                     "  level: ${env:LS_CFGT_LEVEL}\n"
                     "embedded_broker: {partitions: '${env:LS_CFGT_PARTS}'}\n"
                     "kafka:\n"
                     "  client.id: ${env:LS_CFGT_CLIENT}\n"
                     "  sasl.password: ${env:LS_CFGT_PW}\n"
                     "snapshot:\n"
                     "  dir: ${env:LS_CFGT_TOPIC}\n",
                     &c, err, sizeof(err)),
                LS_OK);
        /* one trailing newline dropped */
        assert_string_equal(c->registry_url, "https://registry.test:8081");
        assert_string_equal(c->topic_events, "ev-from-env");
        /* expanded once: what a variable holds is taken as it is */
        assert_string_equal(c->topic_scores, "${env:LS_CFGT_TOPIC}");
        assert_string_equal(c->group, "g-from-file");
        assert_int_equal(c->log_level, LS_LOG_DEBUG);
        assert_int_equal(c->embedded_partitions, 7);
        assert_string_equal(ls_props_get(&c->kafka, "client.id"), "client-x");
        assert_string_equal(ls_props_get(&c->kafka, "sasl.password"), SECRET);
        /* a path from a variable is resolved like a written one */
        snprintf(path, sizeof(path), "%s/ev-from-env", d.path);
        assert_string_equal(c->snapshot_dir, path);
        ls_config_destroy(c);

        /* A secret put under the wrong key is not quoted in the error:
         * what ${env:} / ${file:} gave is said to come from there. */
        assert_int_equal(load(&d, "commit_interval: ${env:LS_CFGT_PW}\n", &c,
                              err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_null(strstr(err, SECRET));
        assert_non_null(strstr(err, "commit_interval"));
        assert_non_null(strstr(err, "${env:} / ${file:}, not shown"));

        /* A YAML alias reaches the same node again: still expanded once,
         * so a value that looks like ${...} is neither expanded again nor
         * quoted in an error. */
        assert_int_equal(load(&d,
                              "group: &g \"${env:LS_CFGT_LITERAL}\"\n"
                              "kafka:\n"
                              "  client.id: *g\n",
                              &c, err, sizeof(err)),
                         LS_OK);
        assert_string_equal(c->group, "${env:LS_CFGT_TOPIC}");
        assert_string_equal(ls_props_get(&c->kafka, "client.id"),
                            "${env:LS_CFGT_TOPIC}");
        ls_config_destroy(c);
        dir_remove(&d);
}

static void test_expand_errors(void **state) {
        cfg_dir_t d;
        ls_config_t *c;
        char err[512], big[64 * 1024 + 2];

        (void)state;
        dir_make(&d);
        unsetenv("LS_CFGT_UNSET");
        assert_int_equal(load(&d, "registry:\n  url: ${env:LS_CFGT_UNSET}\n",
                              &c, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_string_equal(err, "run.yaml:4: registry.url: environment "
                                 "variable LS_CFGT_UNSET is not set");
        assert_null(c);

        assert_int_equal(load(&d, "topics:\n  alerts: ${file:nope.txt}\n", &c,
                              err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_non_null(strstr(err, "run.yaml:4: topics.alerts: cannot read "));
        assert_non_null(strstr(err, "/nope.txt"));

        assert_int_equal(load(&d, "group: ${vault:x}\n", &c, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_non_null(strstr(err, "run.yaml:3: group: expected ${env:NAME} "
                                    "or ${file:PATH}"));

        /* a file value is at most 64 KiB (+ one trailing newline) */
        memset(big, 'a', sizeof(big));
        big[64 * 1024] = '\n';
        dir_write(&d, "fits.txt", big, 64 * 1024 + 1);
        assert_int_equal(
                load(&d, "group: ${file:fits.txt}\n", &c, err, sizeof(err)),
                LS_OK);
        assert_int_equal(strlen(c->group), 64 * 1024);
        ls_config_destroy(c);
        dir_write(&d, "big.txt", big, 64 * 1024 + 2);
        assert_int_equal(
                load(&d, "group: ${file:big.txt}\n", &c, err, sizeof(err)),
                LS_ERR_INVALID);
        assert_non_null(strstr(err, "run.yaml:3: group: "));
        assert_non_null(strstr(err, "big.txt is larger than 64 KiB"));

        /* no value is ever quoted back: a secret in a file that is not
         * USER:PASSWORD stays out of the message */
        dir_write(&d, "ui.txt", SECRET, strlen(SECRET));
        assert_int_equal(load(&d,
                              "registry:\n"
                              "  url: https://r.test\n"
                              "  basic_auth_user_info: ${file:ui.txt}\n",
                              &c, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_non_null(strstr(err, "run.yaml:5: registry.basic_auth_user_"
                                    "info: expected USER:PASSWORD"));
        assert_null(strstr(err, SECRET));

        /* nested keys are named by their whole path */
        assert_int_equal(load(&d,
                              "consumer:\n  ssl.key.password: "
                              "${env:LS_CFGT_UNSET}\n",
                              &c, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_string_equal(err, "run.yaml:4: consumer.ssl.key.password: "
                                 "environment variable LS_CFGT_UNSET is not "
                                 "set");
        dir_remove(&d);
}

static void test_registry_keys(void **state) {
        cfg_dir_t d;
        ls_config_t *c;
        ls_registry_conf_t rc;
        ls_log_t *log;
        char err[512], text[4096], line[512], path[128];
        const char *kv[] = {"error",
                            "GET failed for svc:" SECRET " key k3y-" SECRET};

        (void)state;
        dir_make(&d);
        dir_write(&d, "ca.pem", "x", 1);
        dir_write(&d, "client.pem", "x", 1);
        dir_write(&d, "client.key", "x", 1);
        setenv("LS_CFGT_UI", "svc:" SECRET, 1);
        setenv("LS_CFGT_URL", "https://sr.test:8081", 1);
        dir_write(&d, "keypw", "k3y-" SECRET "\n", strlen(SECRET) + 5);
        assert_int_equal(load(&d,
                              "format: {input: registry}\n"
                              "registry:\n"
                              "  url: ${env:LS_CFGT_URL}\n"
                              "  basic_auth_user_info: ${env:LS_CFGT_UI}\n"
                              "  ca_location: ca.pem\n"
                              "  certificate_location: client.pem\n"
                              "  key_location: client.key\n"
                              "  key_password: ${file:keypw}\n",
                              &c, err, sizeof(err)),
                         LS_OK);
        ls_config_registry_conf(c, &rc);
        assert_string_equal(rc.url, "https://sr.test:8081");
        assert_string_equal(rc.user_info, "svc:" SECRET);
        snprintf(path, sizeof(path), "%s/ca.pem", d.path);
        assert_string_equal(rc.ca_location, path);
        snprintf(path, sizeof(path), "%s/client.key", d.path);
        assert_string_equal(rc.key_location, path);
        assert_string_equal(rc.key_password, "k3y-" SECRET);
        assert_int_equal(rc.max_lookups_per_second, 10);

        print_config(c, text, sizeof(text));
        assert_null(strstr(text, SECRET));
        assert_non_null(strstr(text, "registry.url = https://sr.test:8081\n"));
        assert_non_null(strstr(text, "registry.basic_auth_user_info = "
                                     "svc:********\n"));
        assert_non_null(strstr(text, "registry.key_password = ********\n"));
        assert_non_null(strstr(text, "registry.ca_location = "));
        assert_non_null(strstr(text, "registry.max_lookups_per_second = "
                                     "10\n"));

        log = ls_log_new(LS_LOG_LOGFMT, LS_LOG_INFO, stderr);
        assert_non_null(log);
        assert_int_equal(ls_config_log_secrets(c, log), LS_OK);
        ls_log_format_line(log, LS_LOG_ERROR, "fatal", "registry", kv, 2, line,
                           sizeof(line));
        assert_null(strstr(line, SECRET));
        assert_non_null(strstr(line, "svc:********"));
        ls_log_destroy(log);
        ls_config_destroy(c);

        /* the URL's password: masked in print and handed to the log */
        assert_int_equal(
                load(&d, "registry: {url: \"https://u:" SECRET "@sr.test\"}\n",
                     &c, err, sizeof(err)),
                LS_OK);
        print_config(c, text, sizeof(text));
        assert_null(strstr(text, SECRET));
        assert_non_null(strstr(text, "registry.url = https://u:********@"
                                     "sr.test\n"));
        log = ls_log_new(LS_LOG_LOGFMT, LS_LOG_INFO, stderr);
        assert_int_equal(ls_config_log_secrets(c, log), LS_OK);
        ls_log_format_line(log, LS_LOG_ERROR, "fatal", "x " SECRET, NULL, 0,
                           line, sizeof(line));
        assert_null(strstr(line, SECRET));
        ls_log_destroy(log);
        ls_config_destroy(c);

        /* the keys must fit together, each error naming line and key */
        assert_int_equal(load(&d,
                              "registry:\n  url: \"https://a:b@sr.test\"\n"
                              "  basic_auth_user_info: svc:" SECRET "\n",
                              &c, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_non_null(strstr(err, "registry.basic_auth_user_info: the URL "
                                    "has user:password@ too"));
        assert_null(strstr(err, SECRET));
        assert_int_equal(load(&d,
                              "registry:\n  url: http://sr.test\n"
                              "  ca_location: ca.pem\n",
                              &c, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_non_null(strstr(err, "run.yaml:4: registry.url: must be "
                                    "https://"));
        assert_int_equal(load(&d,
                              "registry:\n  url: https://sr.test\n"
                              "  ca_location: missing.pem\n",
                              &c, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_non_null(strstr(err, "run.yaml:5: registry.ca_location: "
                                    "cannot read "));
        assert_non_null(strstr(err, "missing.pem: No such file"));
        assert_int_equal(load(&d,
                              "registry:\n  url: https://sr.test\n"
                              "  key_location: client.key\n",
                              &c, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_non_null(strstr(err, "registry.key_location: needs "
                                    "registry.certificate_location"));
        assert_int_equal(load(&d, "registry:\n  basic_auth_user_info: a:b\n",
                              &c, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_non_null(strstr(err, "registry.url: required"));
        assert_int_equal(load(&d,
                              "registry:\n  url: https://sr.test\n"
                              "  user_info: a:b\n",
                              &c, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_non_null(strstr(err, "run.yaml:5: registry: unknown key "
                                    "\"user_info\""));
        dir_remove(&d);
}

/* registry.max_lookups_per_second: 10 unless set, 1 .. 1000000. */
static void test_registry_lookup_limit(void **state) {
        cfg_dir_t d;
        ls_config_t *c;
        ls_registry_conf_t rc;
        char err[512], text[4096];

        (void)state;
        dir_make(&d);
        assert_int_equal(load(&d,
                              "registry:\n  url: http://sr.test\n"
                              "  max_lookups_per_second: 5\n",
                              &c, err, sizeof(err)),
                         LS_OK);
        ls_config_registry_conf(c, &rc);
        assert_int_equal(rc.max_lookups_per_second, 5);
        print_config(c, text, sizeof(text));
        assert_non_null(strstr(text, "registry.max_lookups_per_second = "
                                     "5\n"));
        ls_config_destroy(c);

        assert_int_equal(load(&d,
                              "registry:\n  url: http://sr.test\n"
                              "  max_lookups_per_second: 0\n",
                              &c, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_string_equal(err, "run.yaml:5: registry.max_lookups_per_second:"
                                 " 0 is out of range [1, 1000000]");
        assert_int_equal(load(&d,
                              "registry:\n  url: http://sr.test\n"
                              "  max_lookups_per_second: fast\n",
                              &c, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_string_equal(err, "run.yaml:5: registry.max_lookups_per_second:"
                                 " expected an integer, got \"fast\"");
        assert_int_equal(load(&d, "registry: {max_lookups_per_second: 5}\n", &c,
                              err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_non_null(strstr(err, "registry.url: required"));
        dir_remove(&d);
}

static void test_workers(void **state) {
        cfg_dir_t d;
        ls_config_t *c;
        char err[512], text[4096];

        (void)state;
        dir_make(&d);
        assert_int_equal(load(&d, "", &c, err, sizeof(err)), LS_OK);
        assert_int_equal(c->workers, LS_WORKERS_AUTO);
        assert_true(ls_config_workers(c) >= 1);
        print_config(c, text, sizeof(text));
        assert_non_null(strstr(text, "workers = auto ("));
        ls_config_destroy(c);
        assert_int_equal(load(&d, "workers: 2\n", &c, err, sizeof(err)), LS_OK);
        assert_int_equal(ls_config_workers(c), 2);
        print_config(c, text, sizeof(text));
        assert_non_null(strstr(text, "workers = 2\n"));
        ls_config_destroy(c);
        assert_int_equal(load(&d, "workers: auto\n", &c, err, sizeof(err)),
                         LS_OK);
        assert_int_equal(c->workers, LS_WORKERS_AUTO);
        ls_config_destroy(c);
        assert_int_equal(load(&d, "workers: many\n", &c, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_string_equal(err, "run.yaml:3: workers: expected a number of "
                                 "threads or auto, got \"many\"");
        assert_int_equal(load(&d, "workers: 0\n", &c, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_string_equal(err, "run.yaml:3: workers: 0 is out of range "
                                 "[1, 256]");
        dir_remove(&d);
}

static void test_max_leads(void **state) {
        cfg_dir_t d;
        ls_config_t *c;
        char err[512], text[4096];

        (void)state;
        dir_make(&d);
        assert_int_equal(load(&d, "", &c, err, sizeof(err)), LS_OK);
        assert_true(c->max_leads == LS_MAX_LEADS_AUTO);
        print_config(c, text, sizeof(text));
        assert_non_null(strstr(text, "max_leads = auto\n"));
        ls_config_destroy(c);
        assert_int_equal(load(&d, "max_leads: none\n", &c, err, sizeof(err)),
                         LS_OK);
        assert_true(c->max_leads == 0);
        ls_config_destroy(c);
        assert_int_equal(load(&d, "max_leads: 250000\n", &c, err, sizeof(err)),
                         LS_OK);
        assert_true(c->max_leads == 250000);
        print_config(c, text, sizeof(text));
        assert_non_null(strstr(text, "max_leads = 250000\n"));
        ls_config_destroy(c);
        assert_int_equal(load(&d, "max_leads: lots\n", &c, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_string_equal(err, "run.yaml:3: max_leads: expected a number "
                                 "of leads, auto or none, got \"lots\"");
        assert_int_equal(load(&d, "max_leads: 0\n", &c, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_string_equal(err, "run.yaml:3: max_leads: 0 is out of range "
                                 "[1, 4294967295]");
        dir_remove(&d);
}

/* idle_tick: 5m by default (ticks on), a duration, or off. */
static void test_idle_tick(void **state) {
        cfg_dir_t d;
        ls_config_t *c;
        char err[512], text[4096];

        (void)state;
        dir_make(&d);
        assert_int_equal(load(&d, "", &c, err, sizeof(err)), LS_OK);
        assert_int_equal(c->idle_tick_ms, 300000);
        print_config(c, text, sizeof(text));
        assert_non_null(strstr(text, "idle_tick = 300000ms\n"));
        ls_config_destroy(c);
        assert_int_equal(load(&d, "idle_tick: 2s\n", &c, err, sizeof(err)),
                         LS_OK);
        assert_int_equal(c->idle_tick_ms, 2000);
        ls_config_destroy(c);
        assert_int_equal(load(&d, "idle_tick: OFF\n", &c, err, sizeof(err)),
                         LS_OK);
        assert_int_equal(c->idle_tick_ms, 0);
        print_config(c, text, sizeof(text));
        assert_non_null(strstr(text, "idle_tick = 0ms (off)\n"));
        ls_config_destroy(c);
        assert_int_equal(load(&d, "idle_tick: 0s\n", &c, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_non_null(strstr(err, "run.yaml:3: idle_tick: expected a "
                                    "duration > 0"));
        dir_remove(&d);
}

/* A config with bootstrap servers, so that the embedded broker is not
 * what decides the snapshot default. */
#define BOOT "kafka: {bootstrap.servers: \"k1:9092\"}\n"

static void test_snapshot_default(void **state) {
        cfg_dir_t d, wd;
        ls_config_t *c;
        char err[512], text[4096], oldcwd[4096], cwd[4096], want[4400];
        struct stat st;

        (void)state;
        dir_make(&d);
        dir_make(&wd);
        assert_non_null(getcwd(oldcwd, sizeof(oldcwd)));
        assert_int_equal(chdir(wd.path), 0);
        assert_non_null(getcwd(cwd, sizeof(cwd)));
        unsetenv("STATE_DIRECTORY");

        /* No snapshot section: leadscore-state in the working directory
         * (not the config's), absolute; loading makes nothing. */
        assert_int_equal(load(&d, BOOT, &c, err, sizeof(err)), LS_OK);
        snprintf(want, sizeof(want), "%s/leadscore-state", cwd);
        assert_string_equal(c->snapshot_dir, want);
        assert_int_equal(c->snapshot_source, LS_SNAPSHOT_SRC_WORKDIR);
        assert_int_equal(c->snapshot_interval_ms, 30000);
        assert_int_not_equal(stat(want, &st), 0);
        print_config(c, text, sizeof(text));
        snprintf(want, sizeof(want),
                 "  snapshot = dir:%s/leadscore-state interval:30000ms "
                 "every_events:0 keep:3 (default: leadscore-state in the "
                 "working directory)\n",
                 cwd);
        assert_non_null(strstr(text, want));
        /* `run` makes it, mode 0700, and accepts it when it exists */
        assert_int_equal(ls_config_snapshot_prepare(c, err, sizeof(err)),
                         LS_OK);
        assert_int_equal(stat(c->snapshot_dir, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 0077, 0);
        assert_int_equal(ls_config_snapshot_prepare(c, err, sizeof(err)),
                         LS_OK);
        assert_int_equal(rmdir(c->snapshot_dir), 0);
        /* a file in its place: an error naming it and the way out */
        dir_write(&wd, "leadscore-state", "x", 1);
        assert_int_equal(ls_config_snapshot_prepare(c, err, sizeof(err)),
                         LS_ERR_IO);
        assert_non_null(strstr(err, "run.yaml: snapshot directory "));
        assert_non_null(strstr(err, "/leadscore-state (default: "
                                    "leadscore-state in the working "
                                    "directory): not a directory; set "
                                    "snapshot.dir"));
        assert_non_null(strstr(err, "`snapshot: off`"));
        ls_config_destroy(c);

        /* A snapshot section without dir keeps the default directory. */
        assert_int_equal(load(&d, BOOT "snapshot: {interval: 5s, keep: 2}\n",
                              &c, err, sizeof(err)),
                         LS_OK);
        snprintf(want, sizeof(want), "%s/leadscore-state", cwd);
        assert_string_equal(c->snapshot_dir, want);
        assert_int_equal(c->snapshot_source, LS_SNAPSHOT_SRC_WORKDIR);
        assert_int_equal(c->snapshot_interval_ms, 5000);
        assert_int_equal(c->snapshot_keep, 2);
        ls_config_destroy(c);

        /* Under systemd: the first StateDirectory= path + /snapshots. */
        setenv("STATE_DIRECTORY", "/var/lib/leadscore/:/var/lib/other", 1);
        assert_int_equal(load(&d, BOOT, &c, err, sizeof(err)), LS_OK);
        assert_string_equal(c->snapshot_dir, "/var/lib/leadscore/snapshots");
        assert_int_equal(c->snapshot_source, LS_SNAPSHOT_SRC_STATE_DIRECTORY);
        print_config(c, text, sizeof(text));
        assert_non_null(strstr(text, "  snapshot = dir:/var/lib/leadscore/"
                                     "snapshots interval:30000ms "
                                     "every_events:0 keep:3 (default: "
                                     "$STATE_DIRECTORY/snapshots)\n"));
        ls_config_destroy(c);
        setenv("STATE_DIRECTORY", "", 1); /* empty: as if unset */
        assert_int_equal(load(&d, BOOT, &c, err, sizeof(err)), LS_OK);
        assert_int_equal(c->snapshot_source, LS_SNAPSHOT_SRC_WORKDIR);
        ls_config_destroy(c);
        unsetenv("STATE_DIRECTORY");

        /* snapshot.dir wins, and `run` leaves making it to the writer */
        assert_int_equal(
                load(&d, BOOT "snapshot: {dir: snaps}\n", &c, err, sizeof(err)),
                LS_OK);
        snprintf(want, sizeof(want), "%s/snaps", d.path);
        assert_string_equal(c->snapshot_dir, want);
        assert_int_equal(c->snapshot_source, LS_SNAPSHOT_SRC_CONFIG);
        print_config(c, text, sizeof(text));
        assert_non_null(strstr(text, "keep:3 (snapshot.dir)\n"));
        assert_int_equal(ls_config_snapshot_prepare(c, err, sizeof(err)),
                         LS_OK);
        assert_int_not_equal(stat(want, &st), 0);
        ls_config_destroy(c);

        /* snapshot.topic: no directory; not together with dir */
        assert_int_equal(load(&d, BOOT "snapshot: {topic: lead-snapshots}\n",
                              &c, err, sizeof(err)),
                         LS_OK);
        assert_null(c->snapshot_dir);
        assert_string_equal(c->snapshot_topic, "lead-snapshots");
        assert_int_equal(c->snapshot_source, LS_SNAPSHOT_SRC_TOPIC);
        print_config(c, text, sizeof(text));
        assert_non_null(strstr(text, "  snapshot = topic:lead-snapshots "));
        assert_non_null(strstr(text, "(snapshot.topic)\n"));
        ls_config_destroy(c);
        assert_int_equal(load(&d, BOOT "snapshot: {dir: s, topic: t}\n", &c,
                              err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_non_null(strstr(err, "set dir or topic, not both"));

        /* allow_reset: off unless said, a boolean, shown when on */
        assert_int_equal(load(&d,
                              BOOT "snapshot: {dir: snaps, allow_reset: "
                                   "true}\n",
                              &c, err, sizeof(err)),
                         LS_OK);
        assert_true(c->snapshot_allow_reset);
        print_config(c, text, sizeof(text));
        assert_non_null(strstr(text, "keep:3 allow_reset (snapshot.dir)\n"));
        ls_config_destroy(c);
        assert_int_equal(load(&d, BOOT "snapshot: {allow_reset: maybe}\n", &c,
                              err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_non_null(strstr(err, "snapshot.allow_reset"));

        /* The embedded test broker's topics end with the process: no
         * default directory, unless bootstrap servers are set too (then
         * the embedded broker is not used). */
        assert_int_equal(
                load(&d, "embedded_broker: {}\n", &c, err, sizeof(err)), LS_OK);
        assert_null(c->snapshot_dir);
        assert_int_equal(c->snapshot_source, LS_SNAPSHOT_SRC_EMBEDDED);
        print_config(c, text, sizeof(text));
        assert_non_null(strstr(text, "  snapshot = off (default with the "
                                     "embedded test broker"));
        ls_config_destroy(c);
        assert_int_equal(
                load(&d, "embedded_broker: {}\n" BOOT, &c, err, sizeof(err)),
                LS_OK);
        assert_int_equal(c->snapshot_source, LS_SNAPSHOT_SRC_WORKDIR);
        ls_config_destroy(c);

        /* A config without a file (demo) keeps no state. */
        c = ls_config_new_defaults();
        assert_non_null(c);
        assert_null(c->snapshot_dir);
        assert_int_equal(c->snapshot_source, LS_SNAPSHOT_SRC_NONE);
        ls_config_destroy(c);

        assert_int_equal(chdir(oldcwd), 0);
        dir_remove(&wd);
        dir_remove(&d);
}

static void test_snapshot_off(void **state) {
        cfg_dir_t d;
        ls_config_t *c;
        char err[512], text[4096], oldcwd[4096];
        struct stat st;

        (void)state;
        dir_make(&d);
        assert_non_null(getcwd(oldcwd, sizeof(oldcwd)));
        assert_int_equal(chdir(d.path), 0);
        assert_int_equal(load(&d, BOOT "snapshot: off\n", &c, err, sizeof(err)),
                         LS_OK);
        assert_null(c->snapshot_dir);
        assert_int_equal(c->snapshot_source, LS_SNAPSHOT_SRC_OFF);
        print_config(c, text, sizeof(text));
        assert_non_null(strstr(text, "  snapshot = off (snapshot: off)\n"));
        assert_int_equal(ls_config_snapshot_prepare(c, err, sizeof(err)),
                         LS_OK);
        assert_int_not_equal(stat("leadscore-state", &st), 0);
        ls_config_destroy(c);
        /* the same word as YAML writes it otherwise, and quoted */
        assert_int_equal(
                load(&d, BOOT "snapshot: \"Off\"\n", &c, err, sizeof(err)),
                LS_OK);
        assert_int_equal(c->snapshot_source, LS_SNAPSHOT_SRC_OFF);
        ls_config_destroy(c);
        /* with the embedded broker too */
        assert_int_equal(load(&d, "embedded_broker: {}\nsnapshot: off\n", &c,
                              err, sizeof(err)),
                         LS_OK);
        assert_int_equal(c->snapshot_source, LS_SNAPSHOT_SRC_OFF);
        ls_config_destroy(c);
        assert_int_equal(chdir(oldcwd), 0);
        dir_remove(&d);
}

static void test_snapshot_ambiguous(void **state) {
        static const char *const scalars[] = {"false", "no", "none",    "~",
                                              "null",  "0",  "disabled"};
        static const char *const dirs[] = {"none",  "off",  "\"off\"", "no",
                                           "false", "null", "~",       "NONE"};
        cfg_dir_t d;
        ls_config_t *c;
        char err[512], yaml[256], want[256];
        size_t i;

        (void)state;
        dir_make(&d);
        /* Lines 1 and 2 are model and schemas (load()). */
        for (i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++) {
                snprintf(yaml, sizeof(yaml), BOOT "snapshot: %s\n", scalars[i]);
                assert_int_equal(load(&d, yaml, &c, err, sizeof(err)),
                                 LS_ERR_INVALID);
                assert_null(c);
                snprintf(want, sizeof(want),
                         "run.yaml:4: snapshot: expected off (run without "
                         "durable state) or a mapping such as {dir: PATH, "
                         "interval: 30s}, got \"%s\"",
                         scalars[i]);
                assert_string_equal(err, want);
        }
        assert_int_equal(load(&d, BOOT "snapshot:\n", &c, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_non_null(strstr(err, "run.yaml:4: snapshot: expected off "));
        assert_non_null(strstr(err, "got an empty value"));
        assert_int_equal(
                load(&d, BOOT "snapshot: [off]\n", &c, err, sizeof(err)),
                LS_ERR_INVALID);
        assert_non_null(strstr(err, "run.yaml:4: snapshot: expected off "));
        assert_non_null(strstr(err, "got a list"));

        /* snapshot.dir never turns snapshots off, nor makes a directory
         * named like a "no" */
        for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
                snprintf(yaml, sizeof(yaml),
                         BOOT "snapshot:\n  interval: 1s\n  dir: %s\n",
                         dirs[i]);
                assert_int_equal(load(&d, yaml, &c, err, sizeof(err)),
                                 LS_ERR_INVALID);
                assert_null(c);
                assert_non_null(strstr(err, "run.yaml:6: snapshot.dir: \""));
                assert_non_null(strstr(err, "\" is not a way to turn "
                                            "snapshots off: write `snapshot: "
                                            "off` to run without durable "
                                            "state"));
        }
        assert_int_equal(
                load(&d, BOOT "snapshot: {dir: \"\"}\n", &c, err, sizeof(err)),
                LS_ERR_INVALID);
        assert_non_null(strstr(err, "run.yaml:4: snapshot.dir: expected a "
                                    "path"));
        /* a directory of such a name is still possible, as a path */
        assert_int_equal(load(&d, BOOT "snapshot: {dir: ./none}\n", &c, err,
                              sizeof(err)),
                         LS_OK);
        assert_int_equal(c->snapshot_source, LS_SNAPSHOT_SRC_CONFIG);
        ls_config_destroy(c);
        dir_remove(&d);
}

/* The config file is read up to 16 MiB: /dev/zero is refused. */
static void test_config_read_is_bounded(void **state) {
        ls_config_t *c = NULL;
        char err[512];

        (void)state;
        assert_int_equal(ls_config_load("/dev/zero", &c, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_null(c);
        assert_non_null(strstr(err, "/dev/zero: larger than 16 MiB"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_config_read_is_bounded),
                cmocka_unit_test(test_expand_every_value),
                cmocka_unit_test(test_expand_errors),
                cmocka_unit_test(test_registry_keys),
                cmocka_unit_test(test_registry_lookup_limit),
                cmocka_unit_test(test_max_leads),
                cmocka_unit_test(test_workers),
                cmocka_unit_test(test_idle_tick),
                cmocka_unit_test(test_snapshot_default),
                cmocka_unit_test(test_snapshot_off),
                cmocka_unit_test(test_snapshot_ambiguous),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
