/* hwm_probe: how exact is the kernel's VmHWM, with no extension involved? The process resets
 * its own high-water mark (5 to /proc/self/clear_refs), reads its VmRSS, touches and unmaps a
 * region, and reads its VmHWM, which should have risen by exactly the region. Prints by how
 * many pages it fell short (negative: over) over many tries. Run it as is and pinned to one CPU
 * (taskset -c 0) to see the kernel's per-CPU counter batching at work.
 *
 *   build/bench-tools/hwm_probe [bytes (default 1 MiB)] [tries (default 200)] */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* A "Key:   123 kB" field of /proc/self/status, in kB; -1 when missing. */
static long status_kb(const char *key)
{
    char buf[8192];
    int fd = open("/proc/self/status", O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    const char *p = strstr(buf, key);
    return p != NULL ? strtol(p + strlen(key), NULL, 10) : -1;
}

int main(int argc, char **argv)
{
    size_t bytes = argc > 1 ? strtoull(argv[1], NULL, 10) : 1u << 20;
    long tries = argc > 2 ? strtol(argv[2], NULL, 10) : 200;
    long page = sysconf(_SC_PAGESIZE);
    if (bytes == 0 || tries <= 0 || tries > 1000000 || page <= 0)
        return 2;
    long least = 0, most = 0, sum = 0;
    for (long i = 0; i < tries; i++) {
        int fd = open("/proc/self/clear_refs", O_WRONLY);
        if (fd < 0 || write(fd, "5", 1) != 1) {
            perror("clear_refs");
            return 1;
        }
        close(fd);
        long before_kb = status_kb("VmRSS:");
        char *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            return 1;
        memset(m, 1, bytes);
        munmap(m, bytes);
        long hwm_kb = status_kb("VmHWM:");
        long short_pages = ((before_kb * 1024 + (long)bytes) - hwm_kb * 1024) / page;
        least = i == 0 || short_pages < least ? short_pages : least;
        most = i == 0 || short_pages > most ? short_pages : most;
        sum += short_pages;
    }
    printf("%zu bytes touched and unmapped, %ld tries: VmHWM short of the true peak by %ld to %ld "
           "pages (mean %.1f; negative: over)\n",
           bytes, tries, least, most, (double)sum / (double)tries);
    return 0;
}
