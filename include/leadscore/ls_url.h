/*
 * ls_url.h - the one piece of URL parsing leadscore needs: where the
 * password of a user:password@ part is, so that it is masked wherever a
 * URL is shown (config printing, registry errors).
 */
#ifndef LS_URL_H
#define LS_URL_H

#include <stddef.h>

/**
 * Finds the password of a user:password@ part of @p url's authority.
 * @returns 1 with url[*off .. *off + *len) the password (maybe empty), or
 *          0 when the URL has none. Pure; any thread.
 */
int ls_url_password(const char *url, size_t *off, size_t *len);

#endif /* LS_URL_H */
