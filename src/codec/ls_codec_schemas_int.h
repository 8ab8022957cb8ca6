/*
 * ls_codec_schemas_int.h - the schemas built into the program (internal to
 * the codec module).
 *
 * The build turns every .avsc file of schemas/ into a C string of a
 * generated source (ls_codec_schemas.c in the build directory, written by
 * the top CMakeLists.txt and rewritten when a schema changes), so that the
 * program needs no schema files at run time. Each text is the file's bytes,
 * unchanged: it is what gets registered and written into Avro files.
 * ls_codec_schema_text() is the one reader of this table.
 */
#ifndef LS_CODEC_SCHEMAS_INT_H
#define LS_CODEC_SCHEMAS_INT_H

#include <stddef.h>

typedef struct ls_codec_builtin_schema_s {
        const char *file; /* its name in schemas/, e.g. "lead_event.avsc" */
        const char *text; /* the file's contents, NUL-terminated */
} ls_codec_builtin_schema_t;

extern const ls_codec_builtin_schema_t ls_codec_builtin_schemas[];
extern const size_t ls_codec_builtin_schemas_cnt;

#endif /* LS_CODEC_SCHEMAS_INT_H */
