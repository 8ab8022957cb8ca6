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

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "leadscore/ls_registry.h"

#define SCHEMAS LS_SOURCE_DIR "/schemas"

typedef struct srv_s {
        pid_t pid;
        int in_fd;
        char url[64];
} srv_t;

static void srv_start(srv_t *s) {
        int in_pipe[2], out_pipe[2], port = 0;
        char line[64];
        struct pollfd pfd;
        size_t n = 0;

        assert_int_equal(pipe(in_pipe), 0);
        assert_int_equal(pipe(out_pipe), 0);
        s->pid = fork();
        assert_true(s->pid >= 0);
        if (s->pid == 0) {
                dup2(in_pipe[0], 0);
                dup2(out_pipe[1], 1);
                close(in_pipe[1]);
                close(out_pipe[0]);
                execl("/usr/bin/python3", "python3",
                      LS_SOURCE_DIR "/tests/integration/registry_server.py",
                      "--schema", "7=" SCHEMAS "/lead_profile.avsc",
                      "--max-seconds", "100", (char *)NULL);
                _exit(127);
        }
        close(in_pipe[0]);
        close(out_pipe[1]);
        s->in_fd = in_pipe[1];
        pfd.fd = out_pipe[0];
        pfd.events = POLLIN;
        while (n < sizeof(line) - 1 && poll(&pfd, 1, 15000) == 1) {
                if (read(out_pipe[0], line + n, 1) != 1 || line[n] == '\n')
                        break;
                n++;
        }
        line[n] = '\0';
        close(out_pipe[0]);
        assert_int_equal(sscanf(line, "PORT %d", &port), 1);
        snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d/", port);
}

static void srv_stop(srv_t *s) {
        int status, i;

        close(s->in_fd);
        for (i = 0; i < 100; i++) {
                if (waitpid(s->pid, &status, WNOHANG) == s->pid)
                        return;
                usleep(50000);
        }
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &status, 0);
}

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
        srv_t s;
        ls_registry_conf_t conf = {0};
        ls_registry_t *reg;
        const char *text, *text2;
        char err[256];
        int32_t id1, id2, id3;
        FILE *fp;
        char file[8192];
        size_t n;

        (void)state;
        srv_start(&s);
        conf.url = s.url; /* trailing '/' is fine */
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
        srv_stop(&s);
}

static void test_down_backoff(void **state) {
        struct sockaddr_in sa;
        socklen_t sl = sizeof(sa);
        ls_registry_conf_t conf = {0};
        ls_registry_t *reg;
        const char *text;
        char url[64], err[512];
        int fd;

        (void)state;
        fd = socket(AF_INET, SOCK_STREAM, 0);
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        getsockname(fd, (struct sockaddr *)&sa, &sl);
        close(fd);
        snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(sa.sin_port));
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
