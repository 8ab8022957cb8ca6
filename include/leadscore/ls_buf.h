/*
 * ls_buf.h - a growable byte buffer for encoders and I/O.
 *
 * data is always NUL-terminated (not counted in len), so a text buffer
 * can be used as a C string.
 */
#ifndef LS_BUF_H
#define LS_BUF_H

#include <stddef.h>

#include "leadscore/ls_err.h"

typedef struct ls_buf_s {
        char *data;
        size_t len;
        size_t size;
} ls_buf_t;

void ls_buf_init(ls_buf_t *buf);
void ls_buf_reset(ls_buf_t *buf); /* len = 0, keeps the memory */
void ls_buf_free(ls_buf_t *buf);
/** Makes room for @p extra more bytes. @returns LS_OK or LS_ERR_NOMEM. */
ls_err_t ls_buf_reserve(ls_buf_t *buf, size_t extra);
ls_err_t ls_buf_append(ls_buf_t *buf, const void *data, size_t len);
ls_err_t ls_buf_appendf(ls_buf_t *buf, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

#endif /* LS_BUF_H */
