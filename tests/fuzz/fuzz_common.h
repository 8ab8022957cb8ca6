/*
 * fuzz_common.h - the bounded driver shared by the fuzz targets of
 * tests/fuzz/ (fuzz_avro.c keeps its own).
 *
 * A target is a table of callbacks (fz_target_t): a context, one input,
 * generated seeds, a closing check. fz_main() replays the target's seed
 * corpus (tests/fuzz/corpus/<name>/, plus the generated seeds) and then
 * runs seeded random mutations of it (bit flips, interesting bytes,
 * truncation, insertion, deletion, varints, dictionary tokens, splices of
 * two inputs), each in an exactly-sized heap copy so that ASan sees any
 * read past the end. It is deterministic for a given seed and count.
 *
 *   fuzz_<t> [RUNS] [FILE|DIR ...]
 *       RUNS mutations (default: the target's, or $LS_FUZZ_RUNS), seed
 *       $LS_FUZZ_SEED; FILEs/DIRs are replayed as more corpus.
 *   fuzz_<t> --write-seeds DIR   writes the generated seeds as files
 *   fuzz_<t> --replay FILE...    runs only these inputs (a reproducer)
 *
 * When an input crashes (a sanitizer report, a failed check, a signal)
 * it is written to ./fuzz-crash-<target> first, for --replay.
 *
 * Built with -DLS_LIBFUZZER, a target's LLVMFuzzerTestOneInput() calls
 * fz_libfuzzer() instead and there is no main().
 *
 * The mutable globals are the crash reproducer's view of the current input
 * (a signal handler or the sanitizer's death callback needs it) and, in a
 * libFuzzer build, the target's context (libFuzzer passes none).
 */
#ifndef LS_FUZZ_COMMON_H
#define LS_FUZZ_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define FZ_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) ||                                        \
        __has_feature(undefined_behavior_sanitizer)
#define FZ_SANITIZED 1
#endif
#endif
#ifdef FZ_SANITIZED
#include <sanitizer/common_interface_defs.h>
#endif

#define FZ_MAX_INPUT (64 * 1024) /* mutations never grow an input past it */

/* A set of inputs (a corpus, generated seeds). */
typedef struct fz_input_s {
        uint8_t *data;
        size_t len;
} fz_input_t;

typedef struct fz_corpus_s {
        fz_input_t *in;
        size_t n, size;
} fz_corpus_t;

typedef struct fz_target_s {
        const char *name;        /* "fuzz_json": messages, crash file */
        const char *corpus;      /* tests/fuzz/corpus/<corpus>/ */
        unsigned long runs;      /* default mutation count */
        const char *const *dict; /* tokens mutations insert; NULL-ended */
        void *(*init)(void);     /* the context (aborts on failure) */
        /* One input; aborts (fz_die()) when a check fails. */
        void (*one)(void *ctx, const uint8_t *data, size_t len);
        /* Adds generated seeds (may be NULL). */
        void (*seeds)(void *ctx, fz_corpus_t *c);
        /* Prints the summary, aborts if both outcomes were not seen. */
        void (*done)(void *ctx, unsigned long inputs);
        void (*fini)(void *ctx);
} fz_target_t;

static const char *fz_cur_name = "fuzz";
static const uint8_t *volatile fz_cur_data;
static volatile size_t fz_cur_len;

static void fz_die(const char *what, const char *detail)
        __attribute__((noreturn));
static void fz_die(const char *what, const char *detail) {
        fprintf(stderr, "%s: FAIL: %s%s%s\n", fz_cur_name, what,
                detail ? ": " : "", detail ? detail : "");
        abort();
}

static inline void *fz_xmalloc(size_t n) {
        void *p = malloc(n ? n : 1);

        if (!p)
                fz_die("out of memory", NULL);
        return p;
}

/* Writes the input being run to ./fuzz-crash-<name>; async-signal-safe. */
static void fz_save_current(void) {
        char path[128];
        const uint8_t *d = fz_cur_data;
        size_t len = fz_cur_len, off = 0;
        int fd;

        if (!d)
                return;
        snprintf(path, sizeof(path), "fuzz-crash-%s", fz_cur_name);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0)
                return;
        while (off < len) {
                ssize_t w = write(fd, d + off, len - off);
                if (w <= 0)
                        break;
                off += (size_t)w;
        }
        close(fd);
        fz_cur_data = NULL;
}

static void fz_on_signal(int sig) {
        fz_save_current();
        signal(sig, SIG_DFL);
        raise(sig);
}

static inline void fz_crash_hooks(const char *name) {
        fz_cur_name = name;
        signal(SIGABRT, fz_on_signal);
        signal(SIGSEGV, fz_on_signal);
        signal(SIGBUS, fz_on_signal);
        signal(SIGFPE, fz_on_signal);
#ifdef FZ_SANITIZED
        __sanitizer_set_death_callback(fz_save_current);
#endif
}

/* ---------------------------------------------------------------- corpus */

static inline void fz_corpus_add(fz_corpus_t *c, const void *data, size_t len) {
        if (len > FZ_MAX_INPUT)
                len = FZ_MAX_INPUT;
        if (c->n == c->size) {
                c->size = c->size ? 2 * c->size : 16;
                c->in = realloc(c->in, c->size * sizeof(*c->in));
                if (!c->in)
                        fz_die("out of memory", NULL);
        }
        c->in[c->n].data = fz_xmalloc(len);
        memcpy(c->in[c->n].data, data, len);
        c->in[c->n].len = len;
        c->n++;
}

static inline void fz_corpus_free(fz_corpus_t *c) {
        size_t i;

        for (i = 0; i < c->n; i++)
                free(c->in[i].data);
        free(c->in);
        memset(c, 0, sizeof(*c));
}

/* Adds one file. @returns 0, or -1 when it cannot be read. */
static inline int fz_corpus_add_file(fz_corpus_t *c, const char *path) {
        uint8_t *buf = fz_xmalloc(FZ_MAX_INPUT);
        size_t n = 0, r;
        FILE *fp = fopen(path, "rb");

        if (!fp) {
                free(buf);
                return -1;
        }
        while (n < FZ_MAX_INPUT &&
               (r = fread(buf + n, 1, FZ_MAX_INPUT - n, fp)) > 0)
                n += r;
        fclose(fp);
        fz_corpus_add(c, buf, n);
        free(buf);
        return 0;
}

static int fz_strcmp(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds every regular file of @p dir (by name, so runs are reproducible);
 * a missing directory adds nothing. @returns the number added. */
static inline size_t fz_corpus_add_dir(fz_corpus_t *c, const char *dir) {
        char **names = NULL, path[4096];
        size_t n = 0, size = 0, i, added = 0;
        struct dirent *de;
        struct stat st;
        DIR *d = opendir(dir);

        if (!d)
                return 0;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                if (n == size) {
                        size = size ? 2 * size : 32;
                        names = realloc(names, size * sizeof(*names));
                        if (!names)
                                fz_die("out of memory", NULL);
                }
                names[n++] = strdup(de->d_name);
        }
        closedir(d);
        if (n)
                qsort(names, n, sizeof(*names), fz_strcmp);
        for (i = 0; i < n; i++) {
                snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
                if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
                    fz_corpus_add_file(c, path) == 0)
                        added++;
                free(names[i]);
        }
        free(names);
        return added;
}

/* ------------------------------------------------------------- mutation */

static inline uint64_t fz_rng(uint64_t *s) {
        uint64_t x = *s;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return *s = x;
}

/* Replaces b[pos .. pos + del) by ins[0 .. n); @returns the new length,
 * or @p len unchanged when it would not fit in @p cap. */
static inline size_t fz_splice_in(uint8_t *b, size_t len, size_t cap,
                                  size_t pos, size_t del, const void *ins,
                                  size_t n) {
        if (pos > len)
                pos = len;
        if (del > len - pos)
                del = len - pos;
        if (len - del + n > cap)
                return len;
        memmove(b + pos + n, b + pos + del, len - pos - del);
        memcpy(b + pos, ins, n);
        return len - del + n;
}

/*
 * Applies 1 to 4 random edits to b[0..len) (capacity @p cap): bit flips,
 * interesting bytes, truncation, random insertion, deletion, a varint
 * (Avro lengths), a run of 0x80 bytes, a dictionary token inserted or
 * overwriting, a copy of a chunk of the input, or a piece of another
 * corpus input. @returns the new length.
 */
static inline size_t fz_mutate(uint64_t *rng, uint8_t *b, size_t len,
                               size_t cap, const fz_corpus_t *c,
                               const char *const *dict) {
        static const uint8_t vals[] = {0x00, 0x01, 0x02, 0x7f, 0x80, 0xff, 0xfe,
                                       0x7e, 0x03, 0x04, '"',  '\\', '{',  '}',
                                       ':',  ',',  '\n', '-',  '0',  '9',  ' ',
                                       '[',  ']',  '&',  '*',  '$'};
        int rounds = 1 + (int)(fz_rng(rng) % 4);
        size_t ndict = 0, pos, n, i;

        while (dict && dict[ndict])
                ndict++;
        while (rounds--) {
                uint64_t r = fz_rng(rng);

                pos = len ? (size_t)(r >> 16) % (len + 1) : 0;
                switch (r % 12) {
                case 0: /* bit flip */
                        if (pos < len)
                                b[pos] ^= (uint8_t)(1u << ((r >> 8) % 8));
                        break;
                case 1: /* interesting byte */
                        if (pos < len)
                                b[pos] = vals[(r >> 8) % sizeof(vals)];
                        break;
                case 2: /* truncate */
                        if ((r >> 8) % 4 == 0)
                                len = pos;
                        break;
                case 3: { /* insert random bytes */
                        uint8_t tmp[8];

                        n = 1 + (size_t)((r >> 8) % 8);
                        for (i = 0; i < n; i++)
                                tmp[i] = (uint8_t)fz_rng(rng);
                        len = fz_splice_in(b, len, cap, pos, 0, tmp, n);
                        break;
                }
                case 4: /* delete a range */
                        len = fz_splice_in(b, len, cap, pos,
                                           1 + (size_t)((r >> 8) % 16), "", 0);
                        break;
                case 5: { /* a varint over one byte: odd lengths */
                        uint8_t vb[10];
                        uint64_t u = fz_rng(rng) >> ((r >> 8) % 64);

                        n = 0;
                        while (u >= 0x80 && n < 9) {
                                vb[n++] = (uint8_t)(u | 0x80);
                                u >>= 7;
                        }
                        vb[n++] = (uint8_t)(u & 0x7f);
                        len = fz_splice_in(b, len, cap, pos, 1, vb, n);
                        break;
                }
                case 6: /* overlong varint run */
                        n = 1 + (size_t)((r >> 8) % 12);
                        for (i = 0; i < n && pos + i < len; i++)
                                b[pos + i] = 0x80 | (uint8_t)(r >> (i % 8));
                        break;
                case 7: /* dictionary token, inserted */
                case 8: /* dictionary token, overwriting */
                        if (ndict) {
                                const char *t = dict[(r >> 8) % ndict];

                                n = strlen(t);
                                len = fz_splice_in(b, len, cap, pos,
                                                   r % 12 == 8 ? n : 0, t, n);
                        }
                        break;
                case 9: { /* copy a chunk of the input elsewhere */
                        size_t from, cn;

                        if (!len)
                                break;
                        from = (size_t)(fz_rng(rng) % len);
                        cn = 1 + (size_t)((r >> 8) % 64);
                        if (cn > len - from)
                                cn = len - from;
                        if (len + cn <= cap) {
                                uint8_t *tmp = fz_xmalloc(cn);
                                memcpy(tmp, b + from, cn);
                                len = fz_splice_in(b, len, cap, pos, 0, tmp,
                                                   cn);
                                free(tmp);
                        }
                        break;
                }
                case 10: { /* a piece of another input */
                        const fz_input_t *o;
                        size_t from, cn;

                        if (!c || !c->n)
                                break;
                        o = &c->in[fz_rng(rng) % c->n];
                        if (!o->len)
                                break;
                        from = (size_t)(fz_rng(rng) % o->len);
                        cn = 1 + (size_t)((r >> 8) % 256);
                        if (cn > o->len - from)
                                cn = o->len - from;
                        len = fz_splice_in(b, len, cap, pos,
                                           (r >> 20) % 2 ? cn : 0,
                                           o->data + from, cn);
                        break;
                }
                default: /* a decimal digit run: numbers at their limits */
                        if (pos < len) {
                                static const char *const nums[] = {
                                        "0",
                                        "-1",
                                        "2147483648",
                                        "9223372036854775807",
                                        "-9223372036854775808",
                                        "18446744073709551616",
                                        "1e308",
                                        "99999999999999999999",
                                        "0.5",
                                        "253402300800000",
                                        "-0"};
                                const char *t = nums[(r >> 8) % 11];
                                size_t end = pos;

                                while (end < len && b[end] >= '0' &&
                                       b[end] <= '9')
                                        end++;
                                len = fz_splice_in(b, len, cap, pos, end - pos,
                                                   t, strlen(t));
                        }
                        break;
                }
        }
        return len;
}

/* ---------------------------------------------------------------- drive */

static inline double fz_now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs one input in an exactly-sized heap copy; @returns its seconds. */
static inline double fz_run_one(const fz_target_t *t, void *ctx,
                                const uint8_t *data, size_t len) {
        uint8_t *copy = fz_xmalloc(len);
        double t0;

        memcpy(copy, data, len);
        fz_cur_data = copy;
        fz_cur_len = len;
        t0 = fz_now();
        t->one(ctx, copy, len);
        t0 = fz_now() - t0;
        fz_cur_data = NULL;
        free(copy);
        return t0;
}

static inline void fz_write_seeds(const fz_target_t *t, void *ctx,
                                  const char *dir) {
        fz_corpus_t c = {0};
        char path[4096];
        size_t i;

        if (t->seeds)
                t->seeds(ctx, &c);
        mkdir(dir, 0755);
        for (i = 0; i < c.n; i++) {
                FILE *fp;

                snprintf(path, sizeof(path), "%s/gen-%02zu.bin", dir, i);
                if (!(fp = fopen(path, "wb")) ||
                    fwrite(c.in[i].data, 1, c.in[i].len, fp) != c.in[i].len ||
                    fclose(fp))
                        fz_die("cannot write", path);
        }
        printf("%s: %zu seeds written to %s\n", t->name, c.n, dir);
        fz_corpus_free(&c);
}

/*
 * The bounded driver: replays the corpus (tests/fuzz/corpus/<corpus>/,
 * generated seeds, and FILE/DIR arguments), then RUNS mutations of it.
 */
static inline int fz_main(const fz_target_t *t, int argc, char **argv) {
        unsigned long runs = t->runs, it, inputs = 0;
        uint64_t rng = 0x9e3779b97f4a7c15ULL;
        const char *env;
        double slowest = 0, t0, dt;
        size_t ncorpus, i;
        fz_corpus_t c = {0};
        uint8_t *buf;
        char dir[4096];
        void *ctx;
        int a = 1;

        fz_crash_hooks(t->name);
        ctx = t->init();
        if (argc > 2 && !strcmp(argv[1], "--write-seeds")) {
                fz_write_seeds(t, ctx, argv[2]);
                t->fini(ctx);
                return 0;
        }
        if (argc > 1 && !strcmp(argv[1], "--replay")) {
                for (a = 2; a < argc; a++) {
                        if (fz_corpus_add_file(&c, argv[a]))
                                fz_die("cannot read", argv[a]);
                        fz_run_one(t, ctx, c.in[c.n - 1].data,
                                   c.in[c.n - 1].len);
                        printf("%s: %s: ok\n", t->name, argv[a]);
                }
                fz_corpus_free(&c);
                t->fini(ctx);
                return 0;
        }
        if ((env = getenv("LS_FUZZ_RUNS")) && *env)
                runs = strtoul(env, NULL, 10);
        if (argc > 1 && argv[1][0] >= '0' && argv[1][0] <= '9')
                runs = strtoul(argv[a++], NULL, 10);
        if ((env = getenv("LS_FUZZ_SEED")) && *env)
                rng ^= strtoull(env, NULL, 0) * 0x2545f4914f6cdd1dULL;
        snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", LS_SOURCE_DIR,
                 t->corpus);
        if (!fz_corpus_add_dir(&c, dir))
                fz_die("no seed corpus in", dir);
        if (t->seeds)
                t->seeds(ctx, &c);
        for (; a < argc; a++) {
                struct stat st;

                if (stat(argv[a], &st) == 0 && S_ISDIR(st.st_mode))
                        fz_corpus_add_dir(&c, argv[a]);
                else if (fz_corpus_add_file(&c, argv[a]))
                        fz_die("cannot read", argv[a]);
        }
        ncorpus = c.n;
        t0 = fz_now();
        for (i = 0; i < ncorpus; i++, inputs++)
                if ((dt = fz_run_one(t, ctx, c.in[i].data, c.in[i].len)) >
                    slowest)
                        slowest = dt;
        buf = fz_xmalloc(FZ_MAX_INPUT);
        for (it = 0; it < runs; it++, inputs++) {
                const fz_input_t *s = &c.in[fz_rng(&rng) % ncorpus];
                size_t len;

                memcpy(buf, s->data, s->len);
                len = fz_mutate(&rng, buf, s->len, FZ_MAX_INPUT, &c, t->dict);
                if ((dt = fz_run_one(t, ctx, buf, len)) > slowest)
                        slowest = dt;
        }
        free(buf);
        printf("%s: %lu inputs (%zu corpus + %lu mutations) in %.1f s, "
               "slowest %.1f ms\n",
               t->name, inputs, ncorpus, runs, fz_now() - t0, slowest * 1000);
        t->done(ctx, inputs);
        fz_corpus_free(&c);
        t->fini(ctx);
        return 0;
}

#ifdef LS_LIBFUZZER
/* libFuzzer: one input on a context made at the first call and freed at
 * exit (before LeakSanitizer's own exit check, registered earlier). */
static const fz_target_t *fz_lf_target;
static void *fz_lf_ctx;

static void fz_lf_fini(void) {
        fz_lf_target->fini(fz_lf_ctx);
}

static inline int fz_libfuzzer(const fz_target_t *t, const uint8_t *data,
                               size_t len) {
        if (!fz_lf_ctx) {
                fz_cur_name = t->name;
                fz_lf_target = t;
                fz_lf_ctx = t->init();
                atexit(fz_lf_fini);
        }
        t->one(fz_lf_ctx, data, len);
        return 0;
}
#endif

/* The entry point of the target @p t: libFuzzer's, or the driver's. */
#ifdef LS_LIBFUZZER
#define FZ_ENTRY(t)                                                            \
        int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);          \
        int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {         \
                return fz_libfuzzer(&(t), data, size);                         \
        }
#else
#define FZ_ENTRY(t)                                                            \
        int main(int argc, char **argv) {                                      \
                return fz_main(&(t), argc, argv);                              \
        }
#endif

#endif /* LS_FUZZ_COMMON_H */
