/*
 * ls_model_int.h - internals shared by the model loader (ls_model.c), the
 * condition matcher (ls_match.c) and the duration parser (ls_duration.c).
 * Not part of the public API.
 */
#ifndef LS_MODEL_INT_H
#define LS_MODEL_INT_H

#include <stddef.h>
#include <stdint.h>

#include "leadscore/ls_model.h"

/**
 * Releases what @p cond owns (field, values, compiled regex) and zeroes
 * it. Safe on a zeroed or partly filled condition.
 */
void ls_cond_clear(ls_cond_t *cond);

/** Releases what suppression rule @p s owns. */
void ls_suppress_clear(ls_suppress_t *s);

/**
 * @returns 1 if @p key is in @p list, compared case-insensitively
 *          (list items are lowercase and sorted), 0 otherwise.
 */
int ls_list_contains(const ls_list_t *list, const char *key);

/**
 * Formats @p ms in the largest unit that divides it evenly ("90d",
 * "1500ms") into @p buf (always NUL-terminated when size > 0).
 */
void ls_duration_format(int64_t ms, char *buf, size_t size);

#endif /* LS_MODEL_INT_H */
