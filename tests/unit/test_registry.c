/*
 * test_registry.c - the Schema Registry client against
 * tests/integration/registry_server.py on a free loopback port: schema
 * text by id, caches (positive, negative with expiry, per subject),
 * back-off after transport failures, configuration errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "leadscore/ls_registry.h"
#include "registry_fixture.h"

#define SCHEMAS LS_SOURCE_DIR "/schemas"

static void test_conf_errors(void **state) {
        ls_registry_conf_t conf = {0};
        char err[256];

        (void)state;
        assert_null(ls_registry_new(&conf, err, sizeof(err)));
        assert_non_null(strstr(err, "registry url: not set"));
        conf.url = "ftp://example";
        assert_null(ls_registry_new(&conf, err, sizeof(err)));
        assert_non_null(strstr(err, "ftp://example"));
}

static void test_get_and_caches(void **state) {
        static const char *const schemas[] = {"7=" SCHEMAS
                                              "/lead_profile.avsc"};
        registry_srv_t s;
        ls_registry_conf_t conf = {0};
        ls_registry_t *reg;
        const char *text, *text2;
        char err[256], url[72];
        int32_t id1, id2, id3;
        FILE *fp;
        char file[8192];
        size_t n;

        (void)state;
        assert_int_equal(registry_srv_start(&s, schemas, 1), 0);
        snprintf(url, sizeof(url), "%s/", s.url);
        conf.url = url; /* trailing '/' is fine */
        conf.negative_ttl_ms = 300;
        reg = ls_registry_new(&conf, err, sizeof(err));
        assert_non_null(reg);

        assert_int_equal(ls_registry_get_schema(reg, 7, &text, err,
                                                sizeof(err)), LS_OK);
        fp = fopen(SCHEMAS "/lead_profile.avsc", "rb");
        n = fread(file, 1, sizeof(file) - 1, fp);
        fclose(fp);
        file[n] = '\0';
        assert_string_equal(text, file);
        assert_int_equal(ls_registry_get_schema(reg, 7, &text2, err,
                                                sizeof(err)), LS_OK);
        assert_ptr_equal(text, text2);
        assert_int_equal(ls_registry_requests(reg), 1);

        /* negative cache, then expiry */
        assert_int_equal(ls_registry_get_schema(reg, 8, &text, err,
                                                sizeof(err)),
                         LS_ERR_NOT_FOUND);
        assert_string_equal(err, "schema id 8 not found in registry");
        assert_int_equal(ls_registry_get_schema(reg, 8, &text, err,
                                                sizeof(err)),
                         LS_ERR_NOT_FOUND);
        assert_int_equal(ls_registry_requests(reg), 2);
        usleep(400000);
        assert_int_equal(ls_registry_get_schema(reg, 8, &text, err,
                                                sizeof(err)),
                         LS_ERR_NOT_FOUND);
        assert_int_equal(ls_registry_requests(reg), 3);

        /* registration: once per subject and text */
        assert_int_equal(ls_registry_register(reg, "scores-value",
                                              "{\"type\":\"string\"}", &id1,
                                              err, sizeof(err)), LS_OK);
        assert_int_equal(ls_registry_register(reg, "scores-value",
                                              "{\"type\":\"string\"}", &id2,
                                              err, sizeof(err)), LS_OK);
        assert_int_equal(id1, id2);
        assert_int_equal(ls_registry_requests(reg), 4);
        assert_int_equal(ls_registry_register(reg, "alerts-value",
                                              "{\"type\":\"long\"}", &id3,
                                              err, sizeof(err)), LS_OK);
        assert_int_not_equal(id3, id1);
        assert_int_equal(ls_registry_requests(reg), 5);
        /* the registered schema is then served by id */
        assert_int_equal(ls_registry_get_schema(reg, id3, &text, err,
                                                sizeof(err)), LS_OK);
        assert_string_equal(text, "{\"type\":\"long\"}");
        /* the server refuses an invalid schema: an HTTP error */
        assert_int_equal(ls_registry_register(reg, "bad-value", "not json",
                                              &id1, err, sizeof(err)),
                         LS_ERR_IO);
        assert_non_null(strstr(err, "HTTP 422"));
        ls_registry_destroy(reg);
        registry_srv_stop(&s);
}

static void test_down_backoff(void **state) {
        ls_registry_conf_t conf = {0};
        ls_registry_t *reg;
        const char *text;
        char url[64], err[512];

        (void)state;
        assert_int_equal(registry_dead_url(url, sizeof(url)), 0);
        conf.url = url;
        conf.retry_backoff_ms = 300;
        reg = ls_registry_new(&conf, err, sizeof(err));
        assert_non_null(reg);
        assert_int_equal(ls_registry_get_schema(reg, 1, &text, err,
                                                sizeof(err)), LS_ERR_IO);
        assert_non_null(strstr(err, url));
        assert_int_equal(ls_registry_get_schema(reg, 1, &text, err,
                                                sizeof(err)), LS_ERR_IO);
        assert_non_null(strstr(err, "not retried for"));
        assert_int_equal(ls_registry_requests(reg), 1);
        usleep(350000);
        assert_int_equal(ls_registry_get_schema(reg, 1, &text, err,
                                                sizeof(err)), LS_ERR_IO);
        assert_int_equal(ls_registry_requests(reg), 2);
        ls_registry_destroy(reg);

        /* without back-off every call asks */
        conf.retry_backoff_ms = -1;
        reg = ls_registry_new(&conf, err, sizeof(err));
        assert_int_equal(ls_registry_get_schema(reg, 1, &text, err,
                                                sizeof(err)), LS_ERR_IO);
        assert_int_equal(ls_registry_get_schema(reg, 1, &text, err,
                                                sizeof(err)), LS_ERR_IO);
        assert_int_equal(ls_registry_requests(reg), 2);
        ls_registry_destroy(reg);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_conf_errors),
                cmocka_unit_test(test_get_and_caches),
                cmocka_unit_test(test_down_backoff),
        };
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
