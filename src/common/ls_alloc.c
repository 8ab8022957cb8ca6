/*
 * ls_alloc.c - the allocation door (thin libc wrappers).
 */
#include "leadscore/ls_alloc.h"

#include <stdlib.h>
#include <string.h>

void *ls_malloc(size_t size) {
        return malloc(size ? size : 1);
}

void *ls_calloc(size_t nmemb, size_t size) {
        return calloc(nmemb ? nmemb : 1, size ? size : 1);
}

void *ls_realloc(void *ptr, size_t size) {
        return realloc(ptr, size ? size : 1);
}

char *ls_strndup(const char *s, size_t n) {
        char *d = ls_malloc(n + 1);

        if (!d)
                return NULL;
        memcpy(d, s, n);
        d[n] = '\0';
        return d;
}

char *ls_strdup(const char *s) {
        return ls_strndup(s, strlen(s));
}

void ls_free(void *ptr) {
        free(ptr);
}
