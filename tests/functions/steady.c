/*
 * steady: allocates nothing; only the common knobs apply. The baseline every detector must call
 * "steady".
 */
#include "runtime_client.h"

static void handle(const struct rc_event *ev, struct rc_result *res)
{
    (void)ev;
    (void)res;
}

int main(int argc, char **argv)
{
    return rc_run(argc, argv, "steady", NULL, handle);
}
