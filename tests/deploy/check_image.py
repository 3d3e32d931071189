#!/usr/bin/python3
"""Checks the Dockerfile's runtime stage without a Docker engine (none runs on these machines).

Every shared library that `ldd` reports for the built binaries must belong (`dpkg -S`) to a package that the
runtime stage installs, or to one of BASE_PACKAGES, which every debian:bookworm-slim image has; and every
package the runtime stage installs must be needed: it provides one of those libraries, or is listed in
NON_LIBRARY_PACKAGES with its reason. Also checked: the stages are Debian bookworm, the build stage runs
scripts/deps.sh, the runtime stage runs as a non-root user and its ENTRYPOINT is the adapter in exec form
(no shell needed).
Usage: check_image.py --dockerfile Dockerfile BINARY...
Prints one line per library and "N passed, N failed"; exit 1 on any problem.
"""

import argparse
import os
import re
import shlex
import subprocess
import sys

# Part of debian:bookworm-slim (Essential/required packages and what apt and dpkg themselves need); not
# installed explicitly. libc6 also provides the dynamic loader.
BASE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6"}
# Installed by the runtime stage for something other than a shared library.
NON_LIBRARY_PACKAGES = {"ca-certificates": "the TLS trust store for an https:// Prometheus"}


def stages(text):
    """[(FROM line, [instructions with continuation lines joined])]."""
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            out.append((line, []))
        elif out:
            out[-1][1].append(line)
    return out


def installed_packages(instructions):
    pkgs = set()
    for ins in instructions:
        if not ins.upper().startswith("RUN "):
            continue
        for command in re.split(r"&&|;", ins[4:]):
            words = shlex.split(command)
            if "apt-get" in words and "install" in words:
                pkgs |= {w for w in words[words.index("install") + 1:] if not w.startswith("-")}
    return pkgs


def spellings(path):
    """`path`, its real path, and their /usr-merged twins (dpkg knows one of them)."""
    out = []
    for c in (path, os.path.realpath(path)):
        for v in (c, c[4:] if c.startswith("/usr/") else "/usr" + c):
            if v not in out:
                out.append(v)
    return out


def owners(paths):
    """{path: Debian package owning it (or None)}, with one `dpkg -S` for all of them."""
    queries = sorted({v for p in paths for v in spellings(p)})
    r = subprocess.run(["dpkg", "-S", *queries], capture_output=True, text=True)
    by_file = {}
    for line in r.stdout.splitlines():
        pkg, _, file = line.partition(": ")
        if file:
            by_file[file.strip()] = pkg.split(":")[0].strip()
    return {p: next((by_file[v] for v in spellings(p) if v in by_file), None) for p in paths}


def libraries(binary):
    r = subprocess.run(["ldd", binary], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"ldd {binary}: {r.stderr.strip()}")
    libs = []
    for line in r.stdout.splitlines():
        line = line.strip()
        if line.startswith("linux-vdso"):
            continue
        if "not found" in line:
            libs.append((line.split()[0], None))
            continue
        m = re.search(r"=>\s*(\S+)", line) or re.match(r"(/\S+)", line)
        if m:
            libs.append((line.split()[0], m.group(1)))
    return libs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dockerfile", required=True)
    ap.add_argument("binaries", nargs="+")
    args = ap.parse_args()
    with open(args.dockerfile, encoding="utf-8") as f:
        st = stages(f.read())
    problems = []
    passed = 0
    if len(st) < 2:
        problems.append("expected a multi-stage Dockerfile (build and runtime)")
    else:
        for from_line, _ in st:
            if not re.match(r"FROM\s+debian:bookworm(-slim)?(\s|$)", from_line, re.I):
                problems.append(f"{from_line!r}: every stage must be Debian bookworm")
        if not any("scripts/deps.sh" in ins and ins.upper().startswith("RUN") for ins in st[0][1]):
            problems.append("the build stage must install its packages with scripts/deps.sh")
    runtime = st[-1][1] if st else []
    runtime_pkgs = installed_packages(runtime)
    users = [ins.split(None, 1)[1] for ins in runtime if ins.upper().startswith("USER ")]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append("the runtime stage must end with USER <non-root>")
    entry = [ins.split(None, 1)[1] for ins in runtime if ins.upper().startswith("ENTRYPOINT ")]
    if not entry or not re.fullmatch(r'\[\s*"[^"]*/autoscale-adapter"(\s*,\s*"[^"]*")*\s*\]', entry[-1]):
        problems.append("ENTRYPOINT must be the adapter in exec form ([\"/usr/local/bin/autoscale-adapter\"])")
    if not runtime_pkgs:
        problems.append("the runtime stage installs no package")
    used = set()
    for binary in args.binaries:
        libs = libraries(binary)
        pkgs = owners([path for _, path in libs if path])
        for name, path in libs:
            if path is None:
                problems.append(f"{binary}: {name} not found by ldd")
                continue
            pkg = pkgs[path]
            if pkg is None:
                problems.append(f"{binary}: {path} belongs to no Debian package")
                continue
            used.add(pkg)
            if pkg in runtime_pkgs or pkg in BASE_PACKAGES:
                passed += 1
                print(f"  {name:32} {pkg}{' (base image)' if pkg in BASE_PACKAGES else ''}")
            else:
                problems.append(f"{binary}: {path} is in package {pkg}, which the runtime stage does not install")
    for pkg in sorted(runtime_pkgs - used - set(NON_LIBRARY_PACKAGES)):
        problems.append(f"the runtime stage installs {pkg}, which provides none of the binaries' libraries")
    for p in problems:
        print(f"FAIL {p}")
    print(f"{passed} passed, {len(problems)} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
