/*
 * An environment made of fuzz data for the configuration targets: lines of NAME=VALUE (the
 * first '=' splits; a line without one is a name with an empty value; a NUL ends a value as it
 * would in a real environment). The first definition of a name wins, as with getenv(3).
 */
#ifndef LEAKWATCH_FUZZ_ENV_H
#define LEAKWATCH_FUZZ_ENV_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ENV_MAX 64

struct fuzz_env {
    char *text; /* the input, with '\n' and '=' replaced by NULs */
    size_t n;
    const char *names[FUZZ_ENV_MAX];
    const char *values[FUZZ_ENV_MAX];
};

static void fuzz_env_parse(struct fuzz_env *env, const uint8_t *data, size_t size)
{
    env->n = 0;
    env->text = malloc(size + 1);
    if (env->text == NULL)
        abort();
    memcpy(env->text, data, size);
    env->text[size] = '\0';
    char *p = env->text;
    char *end = env->text + size;
    while (p < end && env->n < FUZZ_ENV_MAX) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *line_end = nl != NULL ? nl : end;
        *line_end = '\0';
        char *eq = memchr(p, '=', (size_t)(line_end - p));
        if (eq != NULL)
            *eq = '\0';
        env->names[env->n] = p;
        env->values[env->n] = eq != NULL ? eq + 1 : line_end;
        env->n++;
        p = line_end + 1;
    }
}

/* Adds name=value unless name is already defined (the strings must outlive env). */
static inline void fuzz_env_set(struct fuzz_env *env, const char *name, const char *value)
{
    for (size_t i = 0; i < env->n; i++) {
        if (strcmp(env->names[i], name) == 0)
            return;
    }
    if (env->n == FUZZ_ENV_MAX)
        abort();
    env->names[env->n] = name;
    env->values[env->n] = value;
    env->n++;
}

static inline const char *fuzz_env_get(void *ctx, const char *name)
{
    const struct fuzz_env *env = ctx;
    for (size_t i = 0; i < env->n; i++) {
        if (strcmp(env->names[i], name) == 0)
            return env->values[i];
    }
    return NULL;
}

static void fuzz_env_free(struct fuzz_env *env)
{
    free(env->text);
    env->text = NULL;
}

#endif
