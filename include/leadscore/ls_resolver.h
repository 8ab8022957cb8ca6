/*
 * ls_resolver.h - where the codec gets the schemas of the registry
 * format: an interface, so that the codec knows no transport.
 *
 * The codec asks for a writer schema by id when a registry-framed input
 * names one it has not prepared yet, and registers its output schemas
 * once per topic. io provides the Confluent Schema Registry client behind
 * this interface (ls_registry_resolver() in ls_registry.h); the codec's
 * unit tests provide a table in memory.
 *
 * Threading: a resolver is used by the thread that uses its codec.
 */
#ifndef LS_RESOLVER_H
#define LS_RESOLVER_H

#include <stddef.h>
#include <stdint.h>

#include "leadscore/ls_err.h"

typedef struct ls_resolver_s {
        void *opaque; /* passed to every callback */
        /**
         * The text of writer schema @p id.
         * @returns LS_OK with *textp (owned by the resolver, valid until
         *          destroy); LS_ERR_NOT_FOUND for an id it does not know
         *          or did not look up (errstr says which and why: the
         *          input is then dead-lettered as `schema`); LS_ERR_IO
         *          when it cannot be reached, LS_ERR_INVALID for a bad
         *          answer (errstr says why).
         */
        ls_err_t (*get_schema)(void *opaque, int32_t id, const char **textp,
                               char *errstr, size_t errstr_size);
        /**
         * Registers @p schema_text under @p subject.
         * @returns LS_OK with its id in *idp, or an error with errstr.
         */
        ls_err_t (*register_schema)(void *opaque, const char *subject,
                                    const char *schema_text, int32_t *idp,
                                    char *errstr, size_t errstr_size);
        /** Frees @p opaque; NULL when there is nothing to free. */
        void (*destroy)(void *opaque);
} ls_resolver_t;

#endif /* LS_RESOLVER_H */
