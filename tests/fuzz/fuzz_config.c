/*
 * fuzz_config.c - the configuration loader, ls_config_load_string(), on
 * YAML text; its relative paths and ${file:NAME} values resolve against a
 * private temporary directory of fixture files made at start:
 *   password  "Fx-secret-7c\n"             userinfo  "alice:Fx-secret-7c"
 *   url       "http://alice:Fx-secret-7c@127.0.0.1:1"
 *   badurl    "ftp://alice:Fx-secret-7c@127.0.0.1"
 *   empty     ""        nul  "a\0b"        big  65 KiB + 1 of 'x'
 * and ${env:} sees LS_FUZZ_SECRET="Ex-secret-3d", LS_FUZZ_URL (a URL with
 * that password) and LS_FUZZ_EMPTY="".
 *
 * So that fuzzing reads no arbitrary file and stays reproducible, an input
 * is skipped (counted, not run) when, in the document libyaml parses:
 *   - a value is ${file:PATH} with a '/' in PATH (only the fixtures);
 *   - a value is ${env:NAME} with NAME not starting with LS_FUZZ_;
 *   - a scalar contains "plugin": librdkafka loads plugin.library.paths
 *     (dlopen) as soon as the property is set, and the loader hands every
 *     kafka property to rd_kafka_conf_set() to check it.
 * STATE_DIRECTORY is unset, so the default snapshot directory is the
 * working directory's.
 *
 * Checks, besides no crash, leak or undefined behaviour:
 *   - an error names the file and line ("fuzz:N: ...");
 *   - no error shows a fixture secret under a secret key (a property whose
 *     name says password/secret/..., or key_password), nor as the password
 *     of registry.url (":SECRET@") or of its user info (":SECRET"). Under
 *     other keys a value that fails its check is quoted in the error, even
 *     one that came from ${file:} or ${env:}: that is how the loader
 *     reports, so it is not checked here;
 *   - an accepted config prints (--print-config) with every secret
 *     property, registry.key_password and the user info's password as
 *     "********", and registry.url without its password.
 *
 * Corpus: tests/fuzz/corpus/config/. Run: fuzz_config [RUNS] (see
 * fuzz_common.h; default 50000).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "fuzz_common.h"
#include "leadscore/ls_config.h"
#include "leadscore/ls_url.h"

#define FILE_SECRET "Fx-secret-7c"
#define ENV_SECRET "Ex-secret-3d"

typedef struct fc_s {
        char dir[64];
        unsigned long ok, bad, skipped;
} fc_t;

static const struct {
        const char *name, *text;
        size_t len;
} fc_files[] = {
        {"password", FILE_SECRET "\n", 0},
        {"userinfo", "alice:" FILE_SECRET, 0},
        {"url", "http://alice:" FILE_SECRET "@127.0.0.1:1", 0},
        {"badurl", "ftp://alice:" FILE_SECRET "@127.0.0.1", 0},
        {"empty", "", 0},
        {"nul", "a\0b", 3},
};

static void write_file(const char *dir, const char *name, const void *data,
                       size_t len) {
        char path[256];
        FILE *fp;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        if (!(fp = fopen(path, "wb")) || fwrite(data, 1, len, fp) != len ||
            fclose(fp))
                fz_die("cannot write fixture", path);
}

static fc_t *fc_cleanup_ctx;

static void fc_cleanup(void) {
        char path[256];
        size_t i;

        if (!fc_cleanup_ctx)
                return;
        for (i = 0; i < sizeof(fc_files) / sizeof(fc_files[0]); i++) {
                snprintf(path, sizeof(path), "%s/%s", fc_cleanup_ctx->dir,
                         fc_files[i].name);
                unlink(path);
        }
        snprintf(path, sizeof(path), "%s/big", fc_cleanup_ctx->dir);
        unlink(path);
        rmdir(fc_cleanup_ctx->dir);
        fc_cleanup_ctx = NULL;
}

static void *fc_init(void) {
        fc_t *fc = calloc(1, sizeof(*fc));
        char *big;
        size_t i;

        if (!fc)
                fz_die("out of memory", NULL);
        snprintf(fc->dir, sizeof(fc->dir), "/tmp/ls_fuzz_config_XXXXXX");
        if (!mkdtemp(fc->dir))
                fz_die("mkdtemp", strerror(errno));
        for (i = 0; i < sizeof(fc_files) / sizeof(fc_files[0]); i++)
                write_file(fc->dir, fc_files[i].name, fc_files[i].text,
                           fc_files[i].len ? fc_files[i].len
                                           : strlen(fc_files[i].text));
        big = fz_xmalloc(65 * 1024 + 1);
        memset(big, 'x', 65 * 1024 + 1);
        write_file(fc->dir, "big", big, 65 * 1024 + 1);
        free(big);
        setenv("LS_FUZZ_SECRET", ENV_SECRET, 1);
        setenv("LS_FUZZ_URL", "https://bob:" ENV_SECRET "@127.0.0.1:1", 1);
        setenv("LS_FUZZ_EMPTY", "", 1);
        unsetenv("STATE_DIRECTORY");
        fc_cleanup_ctx = fc;
        atexit(fc_cleanup);
        return fc;
}

static void fc_fini(void *ctx) {
        fc_cleanup();
        free(ctx);
}

/* @returns 1 when the input must not run (see the file's comment). */
static int fc_unsafe(const uint8_t *data, size_t len) {
        yaml_parser_t parser;
        yaml_document_t doc;
        yaml_node_t *n;
        int bad = 0;

        if (!yaml_parser_initialize(&parser))
                fz_die("out of memory", NULL);
        yaml_parser_set_input_string(&parser, data, len);
        if (!yaml_parser_load(&parser, &doc)) {
                yaml_parser_delete(&parser);
                return 0; /* the loader refuses it before expanding */
        }
        for (n = doc.nodes.start; n < doc.nodes.top && !bad; n++) {
                const char *s;
                size_t i, l;

                if (n->type != YAML_SCALAR_NODE)
                        continue;
                s = (const char *)n->data.scalar.value;
                l = n->data.scalar.length;
                for (i = 0; i + 6 <= l && !bad; i++)
                        bad = !strncasecmp(s + i, "plugin", 6);
                if (l < 4 || strncmp(s, "${", 2) || s[l - 1] != '}')
                        continue;
                if (!strncmp(s + 2, "file:", 5))
                        bad |= memchr(s, '/', l) != NULL;
                else if (!strncmp(s + 2, "env:", 4))
                        bad |= strncmp(s + 6, "LS_FUZZ_", 8) != 0;
        }
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        return bad;
}

/* @returns 1 if @p hay has ":" SECRET followed by @p after (or not). */
static int has_password(const char *hay, const char *secret,
                        const char *after) {
        char pat[64];

        snprintf(pat, sizeof(pat), ":%s%s", secret, after);
        return strstr(hay, pat) != NULL;
}

/* @p in (the input) holding @p s as it is: not a leak from a fixture. */
static int in_input(const uint8_t *in, size_t len, const char *s) {
        size_t n = strlen(s), i;

        for (i = 0; i + n <= len; i++)
                if (!memcmp(in + i, s, n))
                        return 1;
        return 0;
}

static void check_error(const char *err, const uint8_t *in, size_t len) {
        static const char *const secrets[] = {FILE_SECRET, ENV_SECRET};
        char key[512];
        const char *p;
        size_t i, n;

        if (strncmp(err, "fuzz:", 5))
                fz_die("an error without the file name", err);
        /* the key path: "fuzz:LINE: KEY: why" */
        p = strchr(err + 5, ':');
        key[0] = '\0';
        if (p && p[1] == ' ') {
                n = strcspn(p + 2, ":");
                snprintf(key, sizeof(key), "%.*s", (int)n, p + 2);
        }
        for (i = 0; i < 2; i++) {
                if (!strstr(err, secrets[i]) || in_input(in, len, secrets[i]))
                        continue;
                if (ls_props_is_secret(key) ||
                    (strstr(key, "registry.url") &&
                     has_password(err, secrets[i], "@")) ||
                    (strstr(key, "basic_auth_user_info") &&
                     has_password(err, secrets[i], "")))
                        fz_die("a secret in an error", err);
        }
}

/* @returns 1 if @p text has the line "  KEY = VALUE" (VALUE may hold
 * newlines, so lines are matched whole, never split). */
static int has_line(const char *text, const char *key, const char *value) {
        char *line;
        size_t n = strlen(key) + strlen(value) + 8;
        int found;

        line = fz_xmalloc(n);
        snprintf(line, n, "\n  %s = %s\n", key, value);
        found = strstr(text, line) != NULL;
        free(line);
        return found;
}

static void check_props(const char *text, const ls_props_t *props,
                        const char *section) {
        char key[512];
        size_t i;

        for (i = 0; i < props->n; i++) {
                if (!ls_props_is_secret(props->names[i]))
                        continue;
                snprintf(key, sizeof(key), "%s.%s", section, props->names[i]);
                if (!has_line(text, key, "********") ||
                    (strcmp(props->values[i], "********") &&
                     has_line(text, key, props->values[i])))
                        fz_die("a secret property printed", key);
        }
}

/*
 * --print-config masks every secret: each secret property, the key
 * password and the user info's password show as "********", and the
 * registry URL never shows with its password. Values may hold newlines,
 * so the expected lines are looked for whole.
 */
static void check_print(const ls_config_t *conf) {
        char *text = NULL, masked[1024];
        size_t size = 0, off, len;
        FILE *fp = open_memstream(&text, &size);

        if (!fp)
                fz_die("open_memstream", NULL);
        fputc('\n', fp); /* every line starts after a newline */
        ls_config_print(conf, fp);
        fclose(fp);
        check_props(text, &conf->kafka, "kafka");
        check_props(text, &conf->consumer, "consumer");
        check_props(text, &conf->producer, "producer");
        if (conf->registry_key_password &&
            !has_line(text, "registry.key_password", "********"))
                fz_die("registry.key_password printed", NULL);
        if (conf->registry_user_info) {
                snprintf(masked, sizeof(masked), "%.*s:********",
                         (int)strcspn(conf->registry_user_info, ":"),
                         conf->registry_user_info);
                if (!has_line(text, "registry.basic_auth_user_info", masked))
                        fz_die("the user info's password printed", NULL);
        }
        if (conf->registry_url &&
            ls_url_password(conf->registry_url, &off, &len) && len &&
            has_line(text, "registry.url", conf->registry_url))
                fz_die("registry.url printed with its password", NULL);
        free(text);
}

static void fc_one(void *ctx, const uint8_t *data, size_t len) {
        fc_t *fc = ctx;
        ls_config_t *conf = NULL;
        char err[2048];

        if (fc_unsafe(data, len)) {
                fc->skipped++;
                return;
        }
        err[0] = '\0';
        if (ls_config_load_string((const char *)data, len, "fuzz", fc->dir,
                                  &conf, err, sizeof(err)) == LS_OK) {
                fc->ok++;
                check_print(conf);
                ls_config_destroy(conf);
        } else {
                fc->bad++;
                check_error(err, data, len);
        }
}

static void fc_done(void *ctx, unsigned long inputs) {
        fc_t *fc = ctx;

        printf("fuzz_config: %lu accepted, %lu rejected, %lu skipped "
               "(a file outside the fixtures, another variable, a plugin)\n",
               fc->ok, fc->bad, fc->skipped);
        if (!fc->ok || !fc->bad)
                fz_die("mutations did not exercise both outcomes", NULL);
}

static const char *const fc_dict[] = {"model: ",
                                      "topics:",
                                      "events: ",
                                      "profiles: ",
                                      "scores: ",
                                      "alerts: ",
                                      "dead_letters: ",
                                      "group: ",
                                      "format:",
                                      "input: ",
                                      "output: ",
                                      "json",
                                      "avro",
                                      "registry",
                                      "schemas: ",
                                      "registry:",
                                      "url: ",
                                      "basic_auth_user_info: ",
                                      "ca_location: ",
                                      "certificate_location: ",
                                      "key_location: ",
                                      "key_password: ",
                                      "idle_tick: ",
                                      "commit_interval: ",
                                      "max_record_bytes: ",
                                      "kafka:",
                                      "consumer:",
                                      "producer:",
                                      "embedded_broker:",
                                      "partitions: ",
                                      "snapshot:",
                                      "off",
                                      "dir: ",
                                      "interval: ",
                                      "every_events: ",
                                      "keep: ",
                                      "allow_reset: ",
                                      "merge_wait: ",
                                      "transactional: ",
                                      "metrics:",
                                      "listen: ",
                                      "log:",
                                      "level: ",
                                      "logfmt",
                                      "debug",
                                      "model_watch: ",
                                      "true",
                                      "false",
                                      "${file:password}",
                                      "${file:userinfo}",
                                      "${file:url}",
                                      "${file:badurl}",
                                      "${file:empty}",
                                      "${file:nul}",
                                      "${file:big}",
                                      "${file:none}",
                                      "${env:LS_FUZZ_SECRET}",
                                      "${env:LS_FUZZ_URL}",
                                      "${env:LS_FUZZ_EMPTY}",
                                      "${env:LS_FUZZ_UNSET}",
                                      "${env:}",
                                      "${}",
                                      "http://",
                                      "https://",
                                      "u:p@",
                                      "@",
                                      "sasl.password: ",
                                      "ssl.key.password: ",
                                      "bootstrap.servers: ",
                                      "transactional.id: ",
                                      "security.protocol: ",
                                      "127.0.0.1:0",
                                      "[::1]:9",
                                      "1ms",
                                      "0",
                                      "-1",
                                      "64",
                                      "268435457",
                                      "&a ",
                                      "*a",
                                      "<<: *a",
                                      "!!binary ",
                                      "---\n",
                                      "{}",
                                      "[]",
                                      "\n  ",
                                      NULL};

static const fz_target_t fc_target = {
        "fuzz_config", "config", 50000,   fc_dict, fc_init,
        fc_one,        NULL,     fc_done, fc_fini,
};

FZ_ENTRY(fc_target)
