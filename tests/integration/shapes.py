"""The common shapes of an external extension, installed in a /opt the way a layer installs them,
each holding a known amount of memory. Used by test_classification.py and by the script that
captured tests/fixtures/proc/shapes (tests/fixtures/proc/shapes/capture.py).

  bin-ext     a binary in the extensions folder
  sh-ext      a #!/bin/sh script that runs the extension's program as its child
  envpy-ext   a Python script, #!/usr/bin/env python3
  pyu-ext     a Python script, #!/usr/bin/python3 -u (the interpreter given an option)
  node-ext    a Node.js script, #!/usr/bin/env -S node --max-old-space-size=64
  vendor-ext  a #!/bin/sh script that execs a binary under /opt/vendor/bin (nothing in the
              running process names the extensions folder any more)

Lambda (and the emulator) starts the files in lexical order: bin-ext and envpy-ext start before
leakwatch, the others after it; a-vendor is the vendor shape started before leakwatch.
"""
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.abspath(os.path.join(HERE, "..", ".."))
FIXTURES = os.path.join(SOURCE_DIR, "tests", "emulator", "fixtures")
MIB = 1024 * 1024

# the memory each shape holds (distinct, so a misattribution cannot hide)
HOLD_BYTES = {
    "bin-ext": 6 * MIB,
    "sh-ext": 10 * MIB,
    "envpy-ext": 14 * MIB,
    "pyu-ext": 18 * MIB,
    "node-ext": 22 * MIB,
    "vendor-ext": 26 * MIB,
    "a-vendor": 30 * MIB,
}
SHAPES = ("bin-ext", "sh-ext", "envpy-ext", "pyu-ext", "node-ext", "vendor-ext")


def have_node():
    return shutil.which("node") is not None


def compile_agent(tmp):
    """Builds shape_agent.c; returns its path, or None without a C compiler."""
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        return None
    out = os.path.join(tmp, "shape_agent")
    subprocess.run([cc, "-O1", "-Wall", "-Werror", "-o", out, os.path.join(HERE, "shape_agent.c")], check=True)
    return out


def _script(path, shebang, body):
    with open(path, "w") as f:
        f.write(shebang + "\n" + body)
    os.chmod(path, 0o755)


def _python_ext(path, shebang):
    with open(os.path.join(FIXTURES, "extension.py")) as f:
        lines = f.read().split("\n", 1)
    _script(path, shebang, lines[1])


def install(opt, agent, names=SHAPES):
    """Installs the shapes named into opt/extensions (and the vendor program into opt/vendor/bin);
    returns the environment variables the extensions read."""
    ext = os.path.join(opt, "extensions")
    vendor_bin = os.path.join(opt, "vendor", "bin")
    os.makedirs(vendor_bin, exist_ok=True)
    vendor_agent = os.path.join(vendor_bin, "agent")
    shutil.copy2(agent, vendor_agent)
    config = {}
    for name in names:
        path = os.path.join(ext, name)
        hold = HOLD_BYTES[name]
        if name == "bin-ext":
            shutil.copy2(agent, path)
        elif name == "sh-ext":
            # the shell stays: the program runs as its child (not its last command's exec)
            _script(path, "#!/bin/sh",
                    f'SHAPE_AGENT_BYTES={hold} "{vendor_agent}" {name}\n'
                    "status=$?\nexit $status\n")
        elif name == "envpy-ext":
            _python_ext(path, "#!/usr/bin/env python3")
        elif name == "pyu-ext":
            _python_ext(path, "#!/usr/bin/python3 -u")
        elif name == "node-ext":
            with open(os.path.join(FIXTURES, "extension.js")) as f:
                _script(path, "#!/usr/bin/env -S node --max-old-space-size=64", f.read())
        elif name in ("vendor-ext", "a-vendor"):
            _script(path, "#!/bin/sh", f'SHAPE_AGENT_BYTES={hold} exec "{vendor_agent}" {name}\n')
        else:
            raise ValueError(name)
        config[name] = {"hold_bytes": hold}
    return {"EXT_CONFIG": json.dumps(config), "SHAPE_AGENT_BYTES": str(HOLD_BYTES["bin-ext"])}


if __name__ == "__main__":
    print(__doc__, file=sys.stderr)
