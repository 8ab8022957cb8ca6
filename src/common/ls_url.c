/*
 * ls_url.c - the password of a URL's user:password@ part (see ls_url.h):
 * the authority ends at the first '/', '?' or '#' after "scheme://", and
 * the password runs from the first ':' of the user info to the '@'.
 */
#include "leadscore/ls_url.h"

#include <string.h>

int ls_url_password(const char *url, size_t *off, size_t *len) {
        const char *auth = strstr(url, "://");
        const char *at, *colon;
        size_t end;

        auth = auth ? auth + 3 : url;
        end = strcspn(auth, "/?#");
        at = memchr(auth, '@', end);
        colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (!colon)
                return 0;
        *off = (size_t)(colon + 1 - url);
        *len = (size_t)(at - colon - 1);
        return 1;
}
