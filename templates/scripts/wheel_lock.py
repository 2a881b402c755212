"""Pin the wheels built for a dockgen lock, by the hashes of the wheel files themselves.

Usage: wheel_lock.py LOCK WHEELS_DIR OUT

Runs in the wheel-builder stage after

    pip wheel --require-hashes --no-deps -w WHEELS_DIR -r LOCK

which checked every downloaded file against LOCK and built sdists into wheels. A built
wheel's hash cannot be in LOCK (builds are not byte-reproducible), so OUT pins the wheels
now in WHEELS_DIR: the final stage installs from OUT with `--require-hashes --no-index`,
and nothing but these files can get in. One entry per lock entry, sorted by name.

Fails (exit 1, naming them) when a lock entry has no wheel or a wheel is not in the lock.
Standard library only. Shipped by dockgen (templates/scripts/); do not edit a rendered copy.
"""

import hashlib
import os
import re
import sys

PROG = "wheel_lock.py"


def fail(message, code=1):
    print("%s: error: %s" % (PROG, message), file=sys.stderr)
    sys.exit(code)


def normalize(name):
    """PEP 503 normalized project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


# --- The lock parser; the same in wheel_lock.py, verify.py and artifacts.py (each script
# --- must run alone, copied into an image without the others).

REQUIREMENT = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)(\[[^\]]*\])?==([^\s;\\]+)$")
COMMENT = re.compile(r"(^|\s)#.*$")


def read_lock(path):
    """`{normalized name: (name, version, [sha256 hex], line)}` of a dockgen lock.

    The lock is pip requirements syntax as dockgen writes it: `name==version \\` lines
    continued by `--hash=sha256:...` options, `#` comments and option lines (`--index-url`).
    """
    try:
        with open(path, encoding="utf-8") as file:
            lines = file.read().splitlines()
    except OSError as error:
        fail("cannot read `%s`: %s" % (path, error.strerror or error), 2)
    except UnicodeDecodeError as error:
        fail("`%s` is not UTF-8: %s" % (path, error), 2)
    entries = {}
    logical = ""
    start = 0
    for number, raw in enumerate(lines, 1):
        line = COMMENT.sub("", raw).rstrip()
        if not logical:
            start = number
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        tokens = logical.split()
        logical = ""
        if not tokens or tokens[0].startswith("-"):
            continue
        match = REQUIREMENT.match(tokens[0])
        hashes = []
        for token in tokens[1:]:
            if token.startswith("--hash=sha256:") and len(token) == len("--hash=sha256:") + 64:
                hashes.append(token[len("--hash=sha256:") :].lower())
            else:
                match = None
        if match is None:
            fail(
                "`%s:%d`: cannot read `%s`: expected `name==version` and `--hash=sha256:...` options"
                % (path, start, " ".join(tokens)),
                2,
            )
        name, version = match.group(1), match.group(3)
        key = normalize(name)
        if key in entries:
            fail("`%s:%d`: `%s` is pinned twice (also on line %d)" % (path, start, name, entries[key][3]), 2)
        entries[key] = (name, version, hashes, start)
    return entries


# --- End of the lock parser.


def same_version(lock_version, wheel_version):
    """Wheel filenames write `-` as `_`; local versions (`2.5.1+cu124`) stay as they are."""
    if lock_version.replace("_", "-").lower() == wheel_version.replace("_", "-").lower():
        return True
    try:
        from pip._vendor.packaging.version import InvalidVersion, Version
    except ImportError:
        return False
    try:
        return Version(lock_version) == Version(wheel_version)
    except InvalidVersion:
        return False


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def main(argv):
    if len(argv) != 4:
        fail("usage: %s LOCK WHEELS_DIR OUT" % PROG, 2)
    lock_path, wheels_dir, out_path = argv[1:]
    entries = read_lock(lock_path)
    try:
        wheels = sorted(name for name in os.listdir(wheels_dir) if name.endswith(".whl"))
    except OSError as error:
        fail("cannot list `%s`: %s" % (wheels_dir, error.strerror or error), 2)

    pinned = {key: [] for key in entries}
    strays = []
    for filename in wheels:
        parts = filename[: -len(".whl")].split("-")
        if len(parts) not in (5, 6):
            strays.append("%s (not a wheel file name)" % filename)
            continue
        key = normalize(parts[0])
        entry = entries.get(key)
        if entry is None:
            strays.append("%s (`%s` is not in the lock)" % (filename, parts[0]))
        elif not same_version(entry[1], parts[1]):
            strays.append("%s (the lock pins %s==%s)" % (filename, entry[0], entry[1]))
        else:
            pinned[key].append(sha256_of(os.path.join(wheels_dir, filename)))

    missing = ["%s==%s" % entries[key][:2] for key in sorted(pinned) if not pinned[key]]
    problems = []
    if missing:
        problems.append("no wheel for %s" % ", ".join(missing))
    if strays:
        problems.append("wheels not in the lock: %s" % ", ".join(strays))
    if problems:
        fail(
            "`%s` does not match `%s`: %s; check that `pip wheel -r %s` ran into this directory"
            % (wheels_dir, lock_path, "; ".join(problems), lock_path)
        )

    out = [
        "# Generated by dockgen's wheel_lock.py from `%s`: the wheels built for it, by hash."
        % os.path.basename(lock_path),
        "# Install with: pip install --no-index --find-links WHEELS_DIR --require-hashes -r THIS",
    ]
    for key in sorted(pinned):
        name, version = entries[key][:2]
        out.append("")
        out.append("%s==%s \\" % (name, version))
        hashes = sorted(set(pinned[key]))
        for index, digest in enumerate(hashes):
            end = " \\" if index + 1 < len(hashes) else ""
            out.append("    --hash=sha256:%s%s" % (digest, end))
    try:
        with open(out_path, "w", encoding="utf-8", newline="\n") as file:
            file.write("\n".join(out) + "\n")
    except OSError as error:
        fail("cannot write `%s`: %s" % (out_path, error.strerror or error), 2)
    print("wheel lock ok: %d wheels pinned in %s" % (len(pinned), out_path))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
