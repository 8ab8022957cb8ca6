/*
 * registry_fixture.h - for the unit tests that talk to a Schema Registry:
 * tests/integration/registry_server.py started as a child on a free
 * loopback port (stopped by closing its stdin), optionally requiring
 * basic auth and serving HTTPS, and a loopback port that nobody listens
 * on.
 *
 * Every tests/unit/test_*.c is its own executable, so these are static
 * functions of a header, included by test_codec.c and test_registry.c.
 */
#ifndef LS_TEST_REGISTRY_FIXTURE_H
#define LS_TEST_REGISTRY_FIXTURE_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define REGISTRY_FIXTURE_MAX_SCHEMAS 8

typedef struct registry_srv_s {
        pid_t pid;
        int in_fd; /* its stdin: closing it stops the server */
        int port;
        char url[64]; /* http://127.0.0.1:<port>, no trailing '/' */
} registry_srv_t;

/*
 * Starts the server with the @p n arguments @p args (at most
 * 2 * REGISTRY_FIXTURE_MAX_SCHEMAS, e.g. "--schema", "7=FILE",
 * "--basic-auth", "u:pw", "--tls-cert", ...) and waits up to 15 s for
 * its "PORT n" line. s->url is https:// when @p args has --tls-cert.
 * @returns 0, or -1 when it could not be started or did not say its port.
 */
static inline int registry_srv_start_args(registry_srv_t *s,
                                          const char *const *args, int n) {
        const char *argv[2 * REGISTRY_FIXTURE_MAX_SCHEMAS + 6];
        int in_pipe[2], out_pipe[2], a = 0, i, https = 0;
        char line[64];
        struct pollfd pfd;
        size_t len = 0;

        memset(s, 0, sizeof(*s));
        if (n > 2 * REGISTRY_FIXTURE_MAX_SCHEMAS)
                return -1;
        argv[a++] = "python3";
        argv[a++] = LS_SOURCE_DIR "/tests/integration/registry_server.py";
        for (i = 0; i < n; i++) {
                argv[a++] = args[i];
                https |= !strcmp(args[i], "--tls-cert");
        }
        argv[a++] = "--max-seconds";
        argv[a++] = "100";
        argv[a] = NULL;
        if (pipe(in_pipe) || pipe(out_pipe))
                return -1;
        s->pid = fork();
        if (s->pid < 0)
                return -1;
        if (s->pid == 0) {
                dup2(in_pipe[0], 0);
                dup2(out_pipe[1], 1);
                close(in_pipe[1]);
                close(out_pipe[0]);
                execv("/usr/bin/python3", (char *const *)argv);
                _exit(127);
        }
        close(in_pipe[0]);
        close(out_pipe[1]);
        s->in_fd = in_pipe[1];
        pfd.fd = out_pipe[0];
        pfd.events = POLLIN;
        while (len < sizeof(line) - 1 && poll(&pfd, 1, 15000) == 1) {
                if (read(out_pipe[0], line + len, 1) != 1 || line[len] == '\n')
                        break;
                len++;
        }
        line[len] = '\0';
        close(out_pipe[0]);
        if (sscanf(line, "PORT %d", &s->port) != 1)
                return -1;
        snprintf(s->url, sizeof(s->url), "%s://127.0.0.1:%d",
                 https ? "https" : "http", s->port);
        return 0;
}

/*
 * Starts the server with one "@p opt SPEC" argument pair per @p schemas
 * (at most REGISTRY_FIXTURE_MAX_SCHEMAS; @p opt is "--schema" for ID=FILE
 * or "--schema-range" for LO-HI=FILE); see registry_srv_start_args().
 */
static inline int registry_srv_start_opt(registry_srv_t *s, const char *opt,
                                         const char *const *schemas, int n) {
        const char *args[2 * REGISTRY_FIXTURE_MAX_SCHEMAS];
        int i;

        if (n > REGISTRY_FIXTURE_MAX_SCHEMAS)
                return -1;
        for (i = 0; i < n; i++) {
                args[2 * i] = opt;
                args[2 * i + 1] = schemas[i];
        }
        return registry_srv_start_args(s, args, 2 * n);
}

/* registry_srv_start_opt() with "--schema ID=FILE" arguments. */
static inline int registry_srv_start(registry_srv_t *s,
                                     const char *const *schemas, int n) {
        return registry_srv_start_opt(s, "--schema", schemas, n);
}

/* Stops the server: closes its stdin, waits up to 5 s, then kills it. */
static inline void registry_srv_stop(registry_srv_t *s) {
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

/*
 * Writes to @p url "http://127.0.0.1:<port>" for a loopback port nobody
 * listens on (bound, read back, closed).
 * @returns 0 or -1.
 */
static inline int registry_dead_url(char *url, size_t size) {
        struct sockaddr_in sa;
        socklen_t sl = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM, 0), rc;

        if (fd < 0)
                return -1;
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
             getsockname(fd, (struct sockaddr *)&sa, &sl);
        close(fd);
        if (rc)
                return -1;
        snprintf(url, size, "http://127.0.0.1:%d", ntohs(sa.sin_port));
        return 0;
}

#endif /* LS_TEST_REGISTRY_FIXTURE_H */
