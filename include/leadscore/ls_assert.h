/*
 * ls_assert.h - invariants checked in debug builds.
 *
 * LS_ASSERT(cond, fmt, ...) aborts with the file, line, the condition and
 * a message when cond is false, unless NDEBUG is defined (Release
 * builds), where it compiles to nothing and cond is not evaluated: put no
 * side effect in it.
 */
#ifndef LS_ASSERT_H
#define LS_ASSERT_H

#include <stdio.h>
#include <stdlib.h>

#ifndef NDEBUG
#define LS_ASSERT(cond, ...)                                                   \
        do {                                                                   \
                if (!(cond)) {                                                 \
                        fprintf(stderr,                                        \
                                "%s:%d: invariant %s broken: ", __FILE__,      \
                                __LINE__, #cond);                              \
                        fprintf(stderr, __VA_ARGS__);                          \
                        fputc('\n', stderr);                                   \
                        abort();                                               \
                }                                                              \
        } while (0)
#else
#define LS_ASSERT(cond, ...) ((void)0)
#endif

#endif /* LS_ASSERT_H */
