/*
 * ls_buf.c - growable byte buffer.
 */
#include "leadscore/ls_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "leadscore/ls_alloc.h"

void ls_buf_init(ls_buf_t *buf) {
        buf->data = NULL;
        buf->len = 0;
        buf->size = 0;
}

void ls_buf_reset(ls_buf_t *buf) {
        buf->len = 0;
        if (buf->data)
                buf->data[0] = '\0';
}

void ls_buf_free(ls_buf_t *buf) {
        ls_free(buf->data);
        ls_buf_init(buf);
}

ls_err_t ls_buf_reserve(ls_buf_t *buf, size_t extra) {
        size_t need = buf->len + extra + 1;
        size_t size;
        char *data;

        if (need <= buf->size)
                return LS_OK;
        size = buf->size ? buf->size : 256;
        while (size < need)
                size *= 2;
        data = ls_realloc(buf->data, size);
        if (!data)
                return LS_ERR_NOMEM;
        buf->data = data;
        buf->size = size;
        return LS_OK;
}

ls_err_t ls_buf_append(ls_buf_t *buf, const void *data, size_t len) {
        if (ls_buf_reserve(buf, len) != LS_OK)
                return LS_ERR_NOMEM;
        if (len)
                memcpy(buf->data + buf->len, data, len);
        buf->len += len;
        buf->data[buf->len] = '\0';
        return LS_OK;
}

ls_err_t ls_buf_appendf(ls_buf_t *buf, const char *fmt, ...) {
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
                return LS_ERR_INVALID;
        if (ls_buf_reserve(buf, (size_t)n) != LS_OK)
                return LS_ERR_NOMEM;
        va_start(ap, fmt);
        vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        buf->len += (size_t)n;
        return LS_OK;
}
