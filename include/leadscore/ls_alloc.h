/*
 * ls_alloc.h - all allocation goes through this door.
 *
 * The wrappers behave like the libc functions they wrap (NULL on failure,
 * ls_free(NULL) is a no-op). Having one door lets the state store account
 * its memory and lets a build swap the allocator.
 */
#ifndef LS_ALLOC_H
#define LS_ALLOC_H

#include <stddef.h>

void *ls_malloc(size_t size);
void *ls_calloc(size_t nmemb, size_t size);
void *ls_realloc(void *ptr, size_t size);
char *ls_strdup(const char *s);
char *ls_strndup(const char *s, size_t n);
void ls_free(void *ptr);

#endif /* LS_ALLOC_H */
