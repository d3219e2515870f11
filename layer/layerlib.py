"""Shared by build-layer and check-layer: architectures, ELF inspection, the layer layout.

Python 3 standard library only. ELF facts come from `readelf` (binutils' readelf reads every
architecture, so the same tool serves the cross build).
"""

import os
import re
import subprocess
import shutil
import stat
import sys
import zipfile

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# What the layer holds, relative to its root (/opt once Lambda unpacks it).
EXTENSION_PATH = "extensions/leakwatch"
PRIVATE_DIR = "leakwatch"
BIN_PATH = "leakwatch/bin/leakwatch"
LIB_DIR = "leakwatch/lib"
LICENSE_DIR = "leakwatch/licenses"
# The runtime-insight files (docs/runtime-insight.md): the exec wrapper a function names in
# AWS_LAMBDA_EXEC_WRAPPER and the probes it loads, {path in the layer: (source, mode)}.
PROBE_FILES = {
    "leakwatch/wrapper": ("layer/probe/wrapper", 0o755),
    "leakwatch/probe/node.js": ("layer/probe/node.js", 0o644),
    "leakwatch/probe/python/sitecustomize.py": ("layer/probe/python/sitecustomize.py", 0o644),
}
WRAPPER_PATH = "leakwatch/wrapper"
# Libraries a dynamically linked daemon opens with dlopen() (no DT_NEEDED names them): libcurl,
# for OTLP export only (src/daemon/export/http.c, LIBCURL_NAME). The layer carries them and their
# closure all the same. The static daemon has libcurl linked in.
DLOPENED = ("libcurl.so.4",)

# glibc >= 2.33 has `ld.so --argv0`; >= 2.34 carries the "files" and "dns" NSS services inside
# libc.so.6 itself, so name resolution needs no libnss_*.so module from the layer or the image.
MIN_GLIBC = (2, 34)


class Arch:
    def __init__(self, name, deb_arch, triplet, elf_machine, loader, cc, strip, libdirs, qemu,
                 toolchain):
        self.name = name  # Lambda's name for it
        self.deb_arch = deb_arch  # Debian's name for it (package:arch)
        self.triplet = triplet  # the GNU triplet: multiarch folders, configure --host
        self.elf_machine = elf_machine  # readelf -h "Machine:"
        self.loader = loader  # file name of the dynamic loader
        self.cc = cc
        self.strip = strip
        self.libdirs = libdirs  # where the (cross) libraries live, searched in order
        self.qemu = qemu  # emulator to run it on this machine, None when native
        self.toolchain = toolchain  # CMake toolchain file, None when native


def host_machine():
    return os.uname().machine


ARCHES = {
    "x86_64": Arch(
        "x86_64", "amd64", "x86_64-linux-gnu", "Advanced Micro Devices X86-64",
        "ld-linux-x86-64.so.2",
        "x86_64-linux-gnu-gcc", "x86_64-linux-gnu-strip",
        ["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/x86_64-linux-gnu/lib",
         "/usr/lib64", "/lib64"],
        # Built natively: the build machine is x86_64 (build-layer checks).
        None, None),
    "arm64": Arch(
        "arm64", "arm64", "aarch64-linux-gnu", "AArch64", "ld-linux-aarch64.so.1",
        "aarch64-linux-gnu-gcc", "aarch64-linux-gnu-strip",
        # The multiarch libc6:arm64 (security updates) comes before the cross toolchain's copy.
        ["/usr/lib/aarch64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/aarch64-linux-gnu/lib"],
        None if host_machine() == "aarch64" else "qemu-aarch64",
        None if host_machine() == "aarch64" else os.path.join(SOURCE_DIR, "layer",
                                                               "toolchain-aarch64.cmake")),
}


class LayerError(Exception):
    pass


def say(msg):
    print(msg, flush=True)


def run(cmd, **kw):
    """Runs cmd, returns CompletedProcess with text output; never raises on exit status."""
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def project_version():
    with open(os.path.join(SOURCE_DIR, "CMakeLists.txt"), encoding="utf-8") as f:
        m = re.search(r"project\s*\(\s*leakwatch\s+VERSION\s+([0-9][0-9.]*)", f.read())
    if not m:
        raise LayerError("no `project(leakwatch VERSION x.y.z)` in CMakeLists.txt")
    return m.group(1)


def is_elf(path):
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


class ElfInfo:
    def __init__(self, machine, interpreter, needed, soname, runpath):
        self.machine = machine
        self.interpreter = interpreter
        self.needed = needed
        self.soname = soname
        self.runpath = runpath


def elf_info(path):
    """Machine, program interpreter, NEEDED entries, SONAME and RPATH/RUNPATH of an ELF file."""
    r = run(["readelf", "-W", "-h", "-l", "-d", path])
    if r.returncode != 0:
        raise LayerError(f"readelf failed on {path}: {r.stderr.strip()}")
    machine = None
    interpreter = None
    needed = []
    soname = None
    runpath = []
    for line in r.stdout.splitlines():
        m = re.match(r"\s*Machine:\s+(.*\S)", line)
        if m:
            machine = m.group(1)
        m = re.search(r"\[Requesting program interpreter: ([^\]]+)\]", line)
        if m:
            interpreter = m.group(1)
        m = re.search(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", line)
        if m:
            needed.append(m.group(1))
        m = re.search(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]", line)
        if m:
            soname = m.group(1)
        m = re.search(r"\((?:RPATH|RUNPATH)\)\s+Library r(?:un)?path: \[([^\]]+)\]", line)
        if m:
            runpath.append(m.group(1))
    return ElfInfo(machine, interpreter, needed, soname, runpath)


def is_static_layout(root):
    """True for the layer of a static daemon, which is extensions/leakwatch itself (no
    launcher, no leakwatch/bin, no leakwatch/lib); False for a launcher with its bundled daemon
    and libraries."""
    return not os.path.exists(os.path.join(root, BIN_PATH))


def write_qemu_starter(qemu, daemon, extensions_dir, out_path):
    """A script at out_path that runs the foreign static daemon under qemu-user (tests only: a
    foreign execve() needs binfmt_misc, a root-only kernel setting). It names the extensions
    folder, which the daemon would otherwise take from /proc/self/exe (qemu's own file)."""
    qemu = shutil.which(qemu) or qemu
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(f"#!/bin/sh\nLEAKWATCH_EXTENSIONS_DIR='{extensions_dir}' exec '{qemu}' "
                f"'{daemon}' \"$@\"\n")
    os.chmod(out_path, 0o755)


def loader_command(arch, root, *args):
    """The bundled loader of the layer unpacked at root, run with the layer's own library path
    and without /etc/ld.so.cache (exactly as the launcher starts it), through qemu when the
    architecture is foreign."""
    lib = os.path.join(root, LIB_DIR)
    cmd = [os.path.join(lib, arch.loader), "--inhibit-cache", "--library-path", lib, *args]
    return ([arch.qemu] if arch.qemu else []) + cmd


def loader_version(arch, root):
    """(major, minor) of the bundled glibc, from `ld.so --version`."""
    r = run(loader_command(arch, root, "--version"))
    m = re.search(r"version (\d+)\.(\d+)", r.stdout)
    if r.returncode != 0 or not m:
        raise LayerError(f"bundled loader does not run: {r.stdout.strip()} {r.stderr.strip()}")
    return int(m.group(1)), int(m.group(2))


def stage_probes(root):
    """Copies the wrapper and the probes into the layer tree at root, with their modes."""
    for rel, (src, mode) in PROBE_FILES.items():
        dst = os.path.join(root, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(os.path.join(SOURCE_DIR, src), dst)
        os.chmod(dst, mode)


def tree_size_bytes(root):
    total = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def human(n):
    for unit in ("B", "KiB", "MiB"):
        if n < 1024 or unit == "MiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024.0
    return str(n)


def fatal(msg):
    print(f"error: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def unpack(zip_path, root):
    """Unpacks a layer zip as Lambda unpacks it at /opt: regular files and folders, with their
    Unix modes (the launcher and the loader must stay executable). Raises ValueError for an
    entry Lambda would not produce: an absolute or escaping path, or a symbolic link."""
    with zipfile.ZipFile(zip_path) as z:
        for zi in z.infolist():
            name = zi.filename
            if name.startswith("/") or ".." in name.split("/"):
                raise ValueError(f"unsafe path in zip: {name}")
            mode = zi.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise ValueError(f"symbolic link in zip: {name} (Lambda layers should hold "
                                 "plain files)")
            dst = os.path.join(root, name)
            if name.endswith("/"):
                os.makedirs(dst, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with z.open(zi) as src, open(dst, "wb") as out:
                shutil.copyfileobj(src, out)
            os.chmod(dst, stat.S_IMODE(mode) if mode else 0o644)
