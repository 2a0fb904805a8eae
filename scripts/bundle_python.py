"""Copy the running Python into a self-contained, relocatable tree, with packages.

A ClusterFuzzLite / OSS-Fuzz runner sees only `$OUT`: not the build's Python, not its
virtualenv, not the system libraries of the builder image. charmfuzz's fuzz target needs the
charm's interpreter with `ops` at run time, so the build copies one into `$OUT`:

    DEST/bin/python3        a launcher: finds the tree from its own path, then runs python3.real
    DEST/bin/python3.real   this interpreter's executable
    DEST/lib/python3.X/     its standard library and lib-dynload (the landmark CPython uses to
                            find its prefix relative to the executable, so no PYTHONHOME)
    DEST/lib/*.so*          the shared libraries the executable and the extension modules
                            link against, except the C library itself (libc, libm, ld.so …)
    DEST/packages/          the packages to install (pip install --target), on PYTHONPATH

Usage: python3 scripts/bundle_python.py DEST [pip requirement …]
Run it with the interpreter to bundle (it copies itself).
"""

import os
import re
import shutil
import subprocess
import sys
import sysconfig

# The C library and its companions: every Linux system has them, and mixing versions breaks.
SYSTEM_LIBS = re.compile(
    r"^(libc|libm|libpthread|libdl|librt|libutil|libresolv|libnsl|ld-linux[-\w]*|linux-vdso)\.so"
)
# Parts of the standard library a charm never uses and that only make the bundle large.
SKIP_STDLIB = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "__pycache__"}


def linked_libraries(path):
    """Shared libraries `path` links against: {name: resolved path}."""
    out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
    libs = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => (/\S+)", line)
        if m and not SYSTEM_LIBS.match(m.group(1)):
            libs[m.group(1)] = m.group(2)
    return libs


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    dest = os.path.abspath(sys.argv[1])
    requirements = sys.argv[2:]
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    exe = os.path.realpath(sys._base_executable if hasattr(sys, "_base_executable") else sys.executable)
    stdlib = sysconfig.get_path("stdlib")
    dynload = os.path.join(sysconfig.get_path("platstdlib"), "lib-dynload")
    if not os.path.isdir(dynload):
        dynload = os.path.join(stdlib, "lib-dynload")

    if os.path.exists(dest):
        shutil.rmtree(dest)
    os.makedirs(os.path.join(dest, "bin"))
    lib = os.path.join(dest, "lib")
    target_stdlib = os.path.join(lib, version)
    site_dirs = {"site-packages", "dist-packages"}
    shutil.copytree(
        stdlib,
        target_stdlib,
        symlinks=False,
        ignore=lambda d, names: [
            n for n in names
            if n in SKIP_STDLIB or n in site_dirs
            # the static libpython and build files; Tk bindings (and their X11 libraries)
            or n.startswith(("config-", "_tkinter"))
        ],
    )
    if not os.path.isdir(os.path.join(target_stdlib, "lib-dynload")):
        shutil.copytree(dynload, os.path.join(target_stdlib, "lib-dynload"))
    os.makedirs(os.path.join(target_stdlib, "site-packages"), exist_ok=True)
    shutil.copy2(exe, os.path.join(dest, "bin", "python3.real"))

    # Shared libraries: the executable's (libpython when built --enable-shared) and every
    # extension module's (_sqlite3 → libsqlite3, which ops's unit state needs; _ssl; …).
    needed = linked_libraries(exe)
    modules = os.path.join(target_stdlib, "lib-dynload")
    for name in os.listdir(modules):
        if name.endswith(".so"):
            needed.update(linked_libraries(os.path.join(modules, name)))
    for name, path in sorted(needed.items()):
        shutil.copy2(path, os.path.join(lib, name))

    with open(os.path.join(dest, "bin", "python3"), "w") as f:
        f.write(
            "#!/bin/sh\n"
            "# charmfuzz's bundled Python: the tree is wherever this file is.\n"
            'root="${0%/*}/.."\n'
            'LD_LIBRARY_PATH="$root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" '
            'PYTHONPATH="$root/packages" PYTHONNOUSERSITE=1 '
            'exec "$root/bin/python3.real" "$@"\n'
        )
    os.chmod(os.path.join(dest, "bin", "python3"), 0o755)

    if requirements:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile",
             "--disable-pip-version-check", "--target", os.path.join(dest, "packages"),
             *requirements],
            check=True,
        )
    size = sum(
        os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(dest) for n in ns
        if not os.path.islink(os.path.join(d, n))
    )
    print(f"bundled {version} from {exe} into {dest} "
          f"({len(needed)} shared libraries, {size / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
