#include <leakwatch/identity.h>

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <leakwatch/clock.h>

uint64_t lw_identity_random_u64(void)
{
    uint64_t x;
    if (getrandom(&x, sizeof(x), GRND_NONBLOCK) != (ssize_t)sizeof(x))
        x = lw_clock_mono_ms(lw_clock_system()) ^ lw_clock_wall_ms(lw_clock_system()) ^
            ((uint64_t)getpid() << 32);
    return x;
}

void lw_identity_new_env_id(char *out, size_t cap)
{
    unsigned char rnd[8];
    uint64_t x = lw_identity_random_u64();
    memcpy(rnd, &x, sizeof(rnd));
    out[0] = '\0';
    for (size_t i = 0, o = 0; i < sizeof(rnd) && o + 3 <= cap; i++, o += 2)
        snprintf(out + o, cap - o, "%02x", rnd[i]);
}

static void set_id(struct lw_identity *id, const char *s)
{
    snprintf(id->env_id, sizeof(id->env_id), "%s", s);
}

void lw_identity_init(struct lw_identity *id, const char *own_id, uint64_t now_ms)
{
    memset(id, 0, sizeof(*id));
    set_id(id, own_id);
    id->since_ms = now_ms;
}

bool lw_identity_instance_id_ok(const char *s)
{
    size_t n = strnlen(s, LW_INSTANCE_ID_MAX + 1);
    if (n == 0 || n > LW_INSTANCE_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return false;
    }
    return true;
}

enum lw_identity_outcome lw_identity_on_init_start(struct lw_identity *id, const char *instance_id)
{
    if (id->init_started || (instance_id != NULL && !lw_identity_instance_id_ok(instance_id)))
        return LW_IDENTITY_REFUSED;
    id->init_started = true;
    if (instance_id == NULL || id->restored || strcmp(id->env_id, instance_id) == 0)
        return LW_IDENTITY_KEPT;
    set_id(id, instance_id);
    id->from_platform = true;
    return LW_IDENTITY_CHANGED;
}

enum lw_identity_outcome lw_identity_on_restore(struct lw_identity *id, const char *instance_id,
                                                const char *new_own_id, uint64_t restore_ms)
{
    if (!id->restorable || id->restores > 0 ||
        (instance_id != NULL && !lw_identity_instance_id_ok(instance_id)))
        return LW_IDENTITY_REFUSED;
    bool platform = instance_id != NULL;
    set_id(id, platform ? instance_id : new_own_id);
    id->from_platform = platform;
    id->restored = true;
    id->restores++;
    id->since_ms = restore_ms;
    return LW_IDENTITY_CHANGED;
}
