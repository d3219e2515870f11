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

bool lw_identity_on_init_start(struct lw_identity *id, const char *instance_id)
{
    if (instance_id == NULL || instance_id[0] == '\0' || id->restored ||
        strcmp(id->env_id, instance_id) == 0)
        return false;
    set_id(id, instance_id);
    id->from_platform = true;
    return true;
}

void lw_identity_on_restore(struct lw_identity *id, const char *instance_id, const char *new_own_id,
                            uint64_t restore_ms)
{
    bool platform = instance_id != NULL && instance_id[0] != '\0';
    set_id(id, platform ? instance_id : new_own_id);
    id->from_platform = platform;
    id->restored = true;
    id->restores++;
    id->since_ms = restore_ms;
}
