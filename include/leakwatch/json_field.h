/*
 * Reading the members of a parsed JSON object (cJSON) into plain fields, the same way in every
 * parser: the Extensions API answers, Telemetry API events and the report's log lines all come
 * from outside, so a member of the wrong type is absent, never a guess.
 */
#ifndef LEAKWATCH_JSON_FIELD_H
#define LEAKWATCH_JSON_FIELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Copies the string member key of obj into dst (cap > 0), NUL-terminated and cut at a UTF-8
 * character boundary; dst is "" and the result false when the member is absent or no string. */
bool lw_json_string(const cJSON *obj, const char *key, char *dst, size_t cap);

/* The finite number member key of obj; false (and *out untouched) otherwise. */
bool lw_json_number(const cJSON *obj, const char *key, double *out);

/* The same for a member already found (NULL: absent). */
bool lw_json_item_string(const cJSON *item, char *dst, size_t cap);
bool lw_json_item_number(const cJSON *item, double *out);

/*
 * Finds several members of obj in one pass over it: found[k] is the member named names[k] (the
 * first of that name, as cJSON_GetObjectItemCaseSensitive() finds it), NULL when there is none
 * or obj is no object. Looking each up on its own walks the object once per name: for the dozen
 * names of a Telemetry API record, most of the cost of reading a batch.
 */
void lw_json_members(const cJSON *obj, const char *const *names, size_t n, const cJSON **found);

/*
 * A non-negative integral member that a double holds exactly (at most 2^53). Returns 1 and sets
 * *out when present and valid, 0 when absent, -1 when present but not such a count (negative,
 * fractional, not a number, too large).
 */
int lw_json_count(const cJSON *obj, const char *key, uint64_t *out);

#endif
