/*
 * test_config.c - the configuration loader (ls_config.h): ${env:NAME} and
 * ${file:PATH} in every value at any depth (registry.url included), their
 * errors naming file:line:key without the value, the 64 KiB bound of a
 * file value, and the registry's basic auth / TLS keys: their checks,
 * --print-config masking and the secrets handed to the logger.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void dir_write(const cfg_dir_t *d, const char *name,
                      const char *text, size_t len) {
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

        /* A YAML alias reaches the same node again: still expanded once,
         * so a value that looks like ${...} is neither expanded again nor
         * quoted in an error. */
        assert_int_equal(
                load(&d,
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

        assert_int_equal(load(&d, "topics:\n  alerts: ${file:nope.txt}\n",
                              &c, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_non_null(strstr(err, "run.yaml:4: topics.alerts: cannot read "));
        assert_non_null(strstr(err, "/nope.txt"));

        assert_int_equal(load(&d, "group: ${vault:x}\n", &c, err,
                              sizeof(err)),
                         LS_ERR_INVALID);
        assert_non_null(strstr(err, "run.yaml:3: group: expected ${env:NAME} "
                                    "or ${file:PATH}"));

        /* a file value is at most 64 KiB (+ one trailing newline) */
        memset(big, 'a', sizeof(big));
        big[64 * 1024] = '\n';
        dir_write(&d, "fits.txt", big, 64 * 1024 + 1);
        assert_int_equal(load(&d, "group: ${file:fits.txt}\n", &c, err,
                              sizeof(err)),
                         LS_OK);
        assert_int_equal(strlen(c->group), 64 * 1024);
        ls_config_destroy(c);
        dir_write(&d, "big.txt", big, 64 * 1024 + 2);
        assert_int_equal(load(&d, "group: ${file:big.txt}\n", &c, err,
                              sizeof(err)),
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
        assert_int_equal(load(&d, "consumer:\n  ssl.key.password: "
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
        const char *kv[] = {"error", "GET failed for svc:" SECRET
                                     " key k3y-" SECRET};

        (void)state;
        dir_make(&d);
        dir_write(&d, "ca.pem", "x", 1);
        dir_write(&d, "client.pem", "x", 1);
        dir_write(&d, "client.key", "x", 1);
        setenv("LS_CFGT_UI", "svc:" SECRET, 1);
        setenv("LS_CFGT_URL", "https://sr.test:8081", 1);
        dir_write(&d, "keypw", "k3y-" SECRET "\n", strlen(SECRET) + 5);
        assert_int_equal(
                load(&d,
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

        print_config(c, text, sizeof(text));
        assert_null(strstr(text, SECRET));
        assert_non_null(strstr(text, "registry.url = https://sr.test:8081\n"));
        assert_non_null(strstr(text, "registry.basic_auth_user_info = "
                                     "svc:********\n"));
        assert_non_null(strstr(text, "registry.key_password = ********\n"));
        assert_non_null(strstr(text, "registry.ca_location = "));

        log = ls_log_new(LS_LOG_LOGFMT, LS_LOG_INFO, stderr);
        assert_non_null(log);
        assert_int_equal(ls_config_log_secrets(c, log), LS_OK);
        ls_log_format_line(log, LS_LOG_ERROR, "fatal", "registry", kv, 2,
                           line, sizeof(line));
        assert_null(strstr(line, SECRET));
        assert_non_null(strstr(line, "svc:********"));
        ls_log_destroy(log);
        ls_config_destroy(c);

        /* the URL's password: masked in print and handed to the log */
        assert_int_equal(load(&d, "registry: {url: \"https://u:" SECRET
                                  "@sr.test\"}\n",
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
        assert_int_equal(load(&d, "registry:\n  url: \"https://a:b@sr.test\"\n"
                                  "  basic_auth_user_info: svc:" SECRET "\n",
                              &c, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_non_null(strstr(err, "registry.basic_auth_user_info: the URL "
                                    "has user:password@ too"));
        assert_null(strstr(err, SECRET));
        assert_int_equal(load(&d, "registry:\n  url: http://sr.test\n"
                                  "  ca_location: ca.pem\n",
                              &c, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_non_null(strstr(err, "run.yaml:4: registry.url: must be "
                                    "https://"));
        assert_int_equal(load(&d, "registry:\n  url: https://sr.test\n"
                                  "  ca_location: missing.pem\n",
                              &c, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_non_null(strstr(err, "run.yaml:5: registry.ca_location: "
                                    "cannot read "));
        assert_non_null(strstr(err, "missing.pem: No such file"));
        assert_int_equal(load(&d, "registry:\n  url: https://sr.test\n"
                                  "  key_location: client.key\n",
                              &c, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_non_null(strstr(err, "registry.key_location: needs "
                                    "registry.certificate_location"));
        assert_int_equal(load(&d, "registry:\n  basic_auth_user_info: a:b\n",
                              &c, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_non_null(strstr(err, "registry.url: required"));
        assert_int_equal(load(&d, "registry:\n  url: https://sr.test\n"
                                  "  user_info: a:b\n",
                              &c, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_non_null(strstr(err, "run.yaml:5: registry: unknown key "
                                    "\"user_info\""));
        dir_remove(&d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_expand_every_value),
                cmocka_unit_test(test_expand_errors),
                cmocka_unit_test(test_registry_keys),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
