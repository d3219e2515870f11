"""A Lambda-grade sandbox for one emulated execution environment: cgroup v1 controllers.

Lambda gives a function CPU in proportion to its memory (1,769 MB buys one vCPU), enforces its
memory size with the kernel (an environment over it is killed and reported as
Runtime.OutOfMemory), and freezes the whole environment at once between invocations. Where the
machine allows it (root, and the cgroup v1 cpu, memory and freezer controllers writable), each
environment of the emulator gets a cgroup in each, which every process of the environment joins
before it executes anything:

- cpu: cpu.cfs_quota_us = cpu.cfs_period_us x memory / 1769 MB. The period is CPU_PERIOD_US (see
  there for why); the kernel refuses a quota under 1 ms, so the period must be at least
  1 ms x 1769 / memory_mb (13.8 ms at 128 MB).
- memory: memory.limit_in_bytes = the memory size. The kernel's OOM killer ends a process of the
  environment that goes over it; memory.oom_control's oom_kill counter tells the emulator.
- freezer: freezer.state FROZEN / THAWED for the whole environment at once, instead of a SIGSTOP
  per process.

The cgroups are made below the emulator's own (so a harness that accounts for the emulator still
accounts for its environments) and removed when the environment ends.
"""

import os
import time

CONTROLLERS = ("cpu", "memory", "freezer")
CGROUP_ROOT = "/sys/fs/cgroup"
MB_PER_VCPU = 1769
# The CFS period. The kernel's default, 100 ms, quantises a short invocation's wall time into
# whole periods: a 128 MB function gets 7.2 ms of CPU per 100 ms, so 5 ms of work finishes in
# 5 ms when the period's quota is fresh and after the next period boundary when it is not (a
# wall time of either ~5 or ~100 ms, nothing in between). A short period spreads the same share
# evenly, as a fluid share would; the kernel's floor of 1 ms of quota per period sets the lower
# bound (13.8 ms at 128 MB). 20 ms is the shortest round period above that floor: measured in
# docs/performance.md ("The sandbox").
CPU_PERIOD_US = 20000
MIN_QUOTA_US = 1000


def _own_path(controller):
    """This process's cgroup path in a v1 controller ("" when it has none)."""
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, names, path = line.rstrip("\n").split(":", 2)
                if controller in names.split(","):
                    return path
    except OSError:
        pass
    return None


def unavailable_reason():
    """None when cgroup v1 cpu, memory and freezer can be used here, else why not."""
    if os.geteuid() != 0:
        return "not running as root"
    for c in CONTROLLERS:
        own = _own_path(c)
        if own is None:
            return "no cgroup v1 %s controller" % c
        base = os.path.join(CGROUP_ROOT, c) + own
        if not os.access(base, os.W_OK):
            return "%s is not writable" % base
    return None


def _write(path, value):
    with open(path, "w") as f:
        f.write(str(value))


def _read(path):
    with open(path) as f:
        return f.read()


class Sandbox:
    """The cgroups of one environment."""

    def __init__(self, name, memory_mb, cpu_period_us=CPU_PERIOD_US):
        self.paths = {}
        self.memory_mb = int(memory_mb)
        self.period_us = int(cpu_period_us)
        quota = self.period_us * self.memory_mb // MB_PER_VCPU
        if quota < MIN_QUOTA_US:
            # a longer period keeps the share exact where the quota would be below the floor
            self.period_us = -(-MIN_QUOTA_US * MB_PER_VCPU // self.memory_mb)
            quota = self.period_us * self.memory_mb // MB_PER_VCPU
        self.quota_us = quota
        try:
            for c in CONTROLLERS:
                path = os.path.join(CGROUP_ROOT, c) + _own_path(c) + "/" + name
                os.makedirs(path, exist_ok=True)
                self.paths[c] = path
            _write(self.paths["cpu"] + "/cpu.cfs_period_us", self.period_us)
            _write(self.paths["cpu"] + "/cpu.cfs_quota_us", self.quota_us)
            limit = self.memory_mb * 1024 * 1024
            _write(self.paths["memory"] + "/memory.limit_in_bytes", limit)
            # no swap: over the limit is over
            try:
                _write(self.paths["memory"] + "/memory.memsw.limit_in_bytes", limit)
            except OSError:
                pass
        except OSError:
            self.remove()
            raise

    def join(self):
        """Called in a child between fork and exec (preexec_fn): the process joins every
        controller, and every process it starts inherits them."""
        pid = str(os.getpid())
        for path in self.paths.values():
            with open(path + "/cgroup.procs", "w") as f:
                f.write(pid)

    def pids(self):
        out = set()
        try:
            for line in _read(self.paths["freezer"] + "/cgroup.procs").split():
                out.add(int(line))
        except (OSError, KeyError, ValueError):
            pass
        return out

    def freeze(self, timeout_s=2.0):
        """Freeze every process at once; returns when the kernel says FROZEN."""
        state = self.paths["freezer"] + "/freezer.state"
        _write(state, "FROZEN")
        deadline = time.monotonic() + timeout_s
        while _read(state).strip() != "FROZEN" and time.monotonic() < deadline:
            time.sleep(0.0005)
        return _read(state).strip() == "FROZEN"

    def thaw(self):
        _write(self.paths["freezer"] + "/freezer.state", "THAWED")

    def frozen(self):
        return _read(self.paths["freezer"] + "/freezer.state").strip() == "FROZEN"

    def forgive_cpu_debt(self):
        """Called when the environment failed, before its SHUTDOWN: rewriting the quota makes
        the kernel start every CPU's runtime of the cgroup afresh (tg_set_cfs_bandwidth).

        Since Linux 6.18 the CFS bandwidth controller throttles a task only when it returns to
        user mode. Kernel work done on behalf of the environment therefore runs past the quota,
        and the cgroup pays the overrun back in later periods with no CPU at all. Around an OOM
        kill that work is large (reclaim at the limit by every process of the environment, the
        kill, the teardown of the victim's memory): at 64 MB, a 1 ms quota per 27.6 ms period,
        100 ms of it blacks the whole environment out for 2.8 s, the entire SHUTDOWN window, and
        its extensions are killed without having run. Lambda's microVM is throttled by its host
        as it runs, kernel work included, so that CPU time passes before the platform sees the
        death, not after. Measured: leakwatch missed its failure SHUTDOWN in 4 of 12 runs of
        the 64 MB OOM test without this, in 0 of 14 with it."""
        try:
            _write(self.paths["cpu"] + "/cpu.cfs_quota_us", self.quota_us)
        except (OSError, KeyError):
            pass

    def oom_kills(self):
        """Processes the kernel killed for the memory limit so far."""
        try:
            for line in _read(self.paths["memory"] + "/memory.oom_control").splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, KeyError, ValueError):
            pass
        return 0

    def max_usage_bytes(self):
        try:
            return int(_read(self.paths["memory"] + "/memory.max_usage_in_bytes"))
        except (OSError, KeyError, ValueError):
            return 0

    def cpu_stat(self):
        """cpu.stat as a dict: nr_periods, nr_throttled, throttled_time (ns)."""
        out = {}
        try:
            for line in _read(self.paths["cpu"] + "/cpu.stat").splitlines():
                key, _, value = line.partition(" ")
                out[key] = int(value)
        except (OSError, KeyError, ValueError):
            pass
        return out

    def remove(self):
        """Thaw, kill what is left, and remove the cgroups."""
        if "freezer" in self.paths:
            try:
                self.thaw()
            except OSError:
                pass
        for pid in self.pids():
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        for path in self.paths.values():
            for _ in range(200):
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.005)  # the last processes are still exiting
        self.paths = {}
