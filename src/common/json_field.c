#include <leakwatch/json_field.h>

#include <math.h>
#include <string.h>

#include <leakwatch/text.h>

/* Largest integer a double holds exactly: above it a count is not trusted. */
#define MAX_EXACT_U64 9007199254740992.0

bool lw_json_item_string(const cJSON *item, char *dst, size_t cap)
{
    dst[0] = '\0';
    const char *s = cJSON_GetStringValue(item);
    if (s == NULL)
        return false;
    size_t n = lw_text_utf8_cut(s, strlen(s), cap - 1);
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

bool lw_json_string(const cJSON *obj, const char *key, char *dst, size_t cap)
{
    return lw_json_item_string(cJSON_GetObjectItemCaseSensitive(obj, key), dst, cap);
}

bool lw_json_item_number(const cJSON *item, double *out)
{
    if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble))
        return false;
    *out = item->valuedouble;
    return true;
}

bool lw_json_number(const cJSON *obj, const char *key, double *out)
{
    return lw_json_item_number(cJSON_GetObjectItemCaseSensitive(obj, key), out);
}

void lw_json_members(const cJSON *obj, const char *const *names, size_t n, const cJSON **found)
{
    for (size_t k = 0; k < n; k++)
        found[k] = NULL;
    if (!cJSON_IsObject(obj))
        return;
    for (const cJSON *c = obj->child; c != NULL; c = c->next) {
        if (c->string == NULL)
            break; /* where cJSON's own lookup stops too */
        for (size_t k = 0; k < n; k++) {
            if (found[k] == NULL && c->string[0] == names[k][0] &&
                strcmp(c->string, names[k]) == 0) {
                found[k] = c;
                break;
            }
        }
    }
}

int lw_json_count(const cJSON *obj, const char *key, uint64_t *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (item == NULL)
        return 0;
    if (!cJSON_IsNumber(item))
        return -1;
    double v = item->valuedouble;
    if (!isfinite(v) || v < 0 || v > MAX_EXACT_U64 || floor(v) != v)
        return -1;
    *out = (uint64_t)v;
    return 1;
}
