#include <leakwatch/identity.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <leakwatch/clock.h>

void lw_identity_new_env_id(char *out, size_t cap)
{
    unsigned char rnd[8];
    if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd)) {
        uint64_t x = lw_clock_wall_ms(lw_clock_system()) ^ ((uint64_t)getpid() << 32);
        memcpy(rnd, &x, sizeof(rnd));
    }
    out[0] = '\0';
    for (size_t i = 0, o = 0; i < sizeof(rnd) && o + 3 <= cap; i++, o += 2)
        snprintf(out + o, cap - o, "%02x", rnd[i]);
}
