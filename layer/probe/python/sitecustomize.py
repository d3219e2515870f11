"""leakwatch's Python probe, put first on PYTHONPATH by /opt/leakwatch/wrapper.

Python imports the first `sitecustomize` it finds on its path at start-up: this one. It installs
the probe, then imports the `sitecustomize` that would have been found without it, so that one
runs as before (an exception from it reaches Python's start-up exactly as it would have).

The probe is a garbage-collector callback. After each generation-2 collection, and after a
younger one at most every 0.1 s, it writes one small file per process,
$LEAKWATCH_PROBE_DIR/<pid>.probe, which leakwatch reads with one pread at each invocation
boundary: the collections per generation, sys.getallocatedblocks() and, with tracemalloc, the
memory Python has allocated. No socket, no thread, nothing printed.

With LEAKWATCH_PYTHON_TRACEMALLOC=<frames> (1-64) tracemalloc runs from start-up, keeping that
many frames per allocation (it costs: every allocation is traced). leakwatch asks for allocation
sites while the function's memory grows, by writing a request number into
$LEAKWATCH_PROBE_DIR/control; the probe looks at that file's status at most every 0.1 s, from
its collector callback. At the first request it takes a snapshot (the baseline); at each later
one another, and writes the allocation sites that grew most since the baseline (file:line, bytes
and blocks) into its file. A snapshot costs time in proportion to the live allocations; leakwatch
asks at most about log2(invocations) times per leak.

The rule: the function must never notice. Every callback runs inside try/except; any failure
switches the probe off for good, silently, and leakwatch falls back to resident memory. The file
has a fixed size and is rewritten in place; its text ends with a checksum, so that leakwatch can
tell a torn read from a whole one. A forked child starts its own file.
"""

import sys


def _leakwatch_probe():
    import gc
    import os
    import time

    file_bytes = 4096
    write_interval_s = 0.1
    poll_interval_s = 0.1
    max_sites = 5
    site_text_max = 160

    directory = os.environ.get("LEAKWATCH_PROBE_DIR", "")
    if not directory.startswith("/"):
        return
    frames = 0
    value = os.environ.get("LEAKWATCH_PYTHON_TRACEMALLOC", "")
    if value.isascii() and value.isdigit() and 1 <= int(value) <= 64:
        frames = int(value)
    task_root = os.environ.get("LAMBDA_TASK_ROOT", "/var/task").rstrip("/") + "/"
    here = os.path.abspath(__file__)
    monotonic = time.monotonic
    state = {}

    def fnv1a(data):
        h = 0x811C9DC5
        for b in data:
            h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
        return "%08x" % h

    def start_ticks():
        with open("/proc/self/stat", "rb") as f:
            stat = f.read()
        fields = stat[stat.rindex(b")") + 2:].split()
        return int(fields[19])

    def open_file():
        """(Re)starts the probe for this process: its own file, its own counters."""
        old = state.get("fd", -1)
        if old >= 0 and state.get("pid") != os.getpid():
            try:
                os.close(old)  # the parent's descriptor, inherited by a fork
            except OSError:
                pass
        state.clear()
        state.update(pid=os.getpid(), forked=False, start=start_ticks(), fd=-1, updates=0,
                     gens=[0, 0, 0], last_write=0.0, last_poll=0.0, control=None, request=0,
                     baseline=None, sites=[], sites_request=0)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
        state["fd"] = os.open("%s/%d.probe" % (directory, state["pid"]), flags, 0o600)

    def write():
        state["updates"] += 1
        gens = state["gens"]
        lines = ["leakwatch-probe 1", "runtime python", "pid %d" % state["pid"],
                 "start %d" % state["start"], "updates %d" % state["updates"],
                 "gc_major %d" % gens[2], "gc_minor %d" % (gens[0] + gens[1]),
                 "blocks %d" % sys.getallocatedblocks()]
        if frames:
            lines.append("tracemalloc %d" % frames)
            if tracemalloc.is_tracing():
                lines.append("heap_after_gc %d" % tracemalloc.get_traced_memory()[0])
        if state["sites_request"]:
            lines.append("sites %d" % state["sites_request"])
            for size, count, where in state["sites"]:
                lines.append("site %d %d %s" % (size, count, where))
        text = ("\n".join(lines) + "\n").encode("utf-8", "replace")
        text += b"end " + fnv1a(text).encode() + b"\n"
        os.pwrite(state["fd"], text[:file_bytes].ljust(file_bytes, b"\0"), 0)
        state["last_write"] = monotonic()

    def site_text(frame):
        name = frame.filename
        if name.startswith(task_root):
            name = name[len(task_root):]
        # one line of printable text: the name came from the function's own files
        name = "".join(ch if " " <= ch <= "~" or ch > "\xa0" else "?" for ch in name)
        where = "%s:%d" % (name, frame.lineno)
        if len(where) > site_text_max:
            where = "..." + where[-(site_text_max - 3):]
        return where

    def snapshot():
        """{site: (bytes, blocks)} of the live allocations, the probe's own left out."""
        snap = tracemalloc.take_snapshot().filter_traces((
            tracemalloc.Filter(False, here), tracemalloc.Filter(False, tracemalloc.__file__)))
        out = {}
        for stat in snap.statistics("lineno"):
            key = site_text(stat.traceback[0])
            size, count = out.get(key, (0, 0))
            out[key] = (size + stat.size, count + stat.count)
        return out

    def poll():
        """A new request in the control file: a snapshot, and the sites that grew since the
        baseline."""
        state["last_poll"] = monotonic()
        path = directory + "/control"
        try:
            st = os.stat(path)
        except OSError:
            return
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if key == state["control"] or st.st_size > 256:
            return
        state["control"] = key
        with open(path, "rb") as f:
            words = f.read(256).split()
        if len(words) < 4 or words[:2] != [b"leakwatch-control", b"1"] or words[2] != b"snapshot":
            return
        if not (words[3].isdigit() and len(words[3]) <= 9):
            return
        request = int(words[3])
        if request <= state["request"]:
            return
        state["request"] = request
        current = snapshot()
        if state["baseline"] is None:
            state["baseline"] = current
            return
        base = state["baseline"]
        grown = []
        for where, (size, count) in current.items():
            size0, count0 = base.get(where, (0, 0))
            if size > size0:
                grown.append((size - size0, count - count0, where))
        grown.sort(reverse=True)
        state["sites"] = grown[:max_sites]
        state["sites_request"] = request
        write()

    def off():
        try:
            gc.callbacks.remove(on_gc)
        except ValueError:
            pass
        fd = state.get("fd", -1)
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass
        state["fd"] = -1

    def on_gc(phase, info):
        if phase != "stop":
            return
        try:
            if state["forked"]:
                open_file()
            generation = info.get("generation", 0)
            if 0 <= generation <= 2:
                state["gens"][generation] += 1
            now = monotonic()
            if generation == 2 or now - state["last_write"] >= write_interval_s:
                write()
            if frames and now - state["last_poll"] >= poll_interval_s:
                poll()
        except Exception:
            off()

    if frames:
        import tracemalloc

        tracemalloc.start(frames)
    def forked():
        state["forked"] = True

    open_file()
    write()
    # A forked child (multiprocessing, a worker per request) gets its own file at its first
    # collection; told by the fork itself, not by a getpid() at every collection.
    os.register_at_fork(after_in_child=forked)
    gc.callbacks.append(on_gc)


try:
    _leakwatch_probe()
except Exception:
    pass
del _leakwatch_probe


def _leakwatch_chain():
    """Imports the sitecustomize that comes after this one on the path, as Python would have
    imported it without this one."""
    import os

    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    this = sys.modules.pop("sitecustomize", None)
    try:
        import sitecustomize  # noqa: F401  the next one on the path
    except ImportError as e:
        if e.name != "sitecustomize":
            raise
        if this is not None:
            sys.modules["sitecustomize"] = this


_leakwatch_chain()
del _leakwatch_chain
