"""Check that the running interpreter is the target a dockgen lock was made for.

Usage: check_target.py TARGET_JSON [WHEELHOUSE_DIR | PACKAGES_TXT]

TARGET_JSON: {"profile": "cpu-x86_64", "machine": "x86_64", "python": "3.11.13",
              "libc": ["glibc", "2.36"], "lock": "requirements.lock"}

Runs first in the image build (the resolver stage), so that a lock made for another
architecture, Python or libc fails in seconds with a message saying what to re-run,
instead of after an hour of building. With WHEELHOUSE_DIR, also checks that this
interpreter accepts every wheel there (by pip's own tag logic); with PACKAGES_TXT (the
`<sha256>  <file name>` list `dockgen build` writes), every wheel it names.

Standard library and pip only; exit 0 when the target matches, 1 when it does not, 2 on
bad input. Shipped by dockgen (templates/scripts/); do not edit a rendered copy.
"""

import json
import os
import platform
import sys

PROG = "check_target.py"


def fail(message, code=1):
    print("%s: error: %s" % (PROG, message), file=sys.stderr)
    sys.exit(code)


def read_target(path):
    try:
        with open(path, encoding="utf-8") as file:
            target = json.load(file)
    except OSError as error:
        fail("cannot read `%s`: %s" % (path, error.strerror or error), 2)
    except ValueError as error:
        fail("`%s` is not valid JSON: %s" % (path, error), 2)
    if not isinstance(target, dict):
        fail("`%s` must hold a JSON object" % path, 2)
    for key in ("profile", "machine", "python"):
        if not isinstance(target.get(key), str) or not target[key]:
            fail("`%s` has no `%s` string" % (path, key), 2)
    libc = target.get("libc")
    if libc is not None and not (
        isinstance(libc, list)
        and len(libc) == 2
        and all(isinstance(part, str) for part in libc)
        and libc[0] in ("glibc", "musl")
    ):
        fail('`%s`: `libc` must be ["glibc" or "musl", "MAJOR.MINOR"]' % path, 2)
    return target


def version_tuple(text):
    parts = []
    for part in text.split("."):
        digits = ""
        for character in part:
            if not character.isdigit():
                break
            digits += character
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def running_libc(family):
    """`(family, "MAJOR.MINOR")` of the C library this interpreter runs on, or None."""
    if family == "glibc":
        try:
            value = os.confstr("CS_GNU_LIBC_VERSION")
        except (AttributeError, ValueError, OSError):
            value = None
        if value and value.startswith("glibc "):
            return ("glibc", value.split(" ", 1)[1])
        return None
    try:
        from pip._vendor.packaging import _musllinux
    except ImportError:
        return None
    try:
        version = _musllinux._get_musl_version(sys.executable)
    except Exception:  # a private helper: any failure means "cannot tell"
        return None
    if version is None:
        return None
    return ("musl", "%d.%d" % (version.major, version.minor))


def describe(target):
    text = "%s, CPython %s" % (target["machine"], target["python"])
    if target.get("libc"):
        text += ", %s %s" % tuple(target["libc"])
    return text


def check_interpreter(target):
    """Mismatches as short phrases, and notes that do not fail the check."""
    problems = []
    notes = []
    machine = platform.machine()
    if machine != target["machine"]:
        problems.append("machine is %s, not %s" % (machine, target["machine"]))

    wanted = version_tuple(target["python"])
    running = sys.version_info[:3]
    running_text = "%d.%d.%d" % running
    if len(wanted) < 2:
        fail("`python` must be MAJOR.MINOR[.PATCH], not `%s`" % target["python"], 2)
    if tuple(running[:2]) != wanted[:2]:
        problems.append("Python is %s, not %d.%d" % (running_text, wanted[0], wanted[1]))
    elif len(wanted) > 2 and running[2] != wanted[2]:
        notes.append(
            "note: the lock was made for Python %s, this is %s (a patch difference is fine)"
            % (target["python"], running_text)
        )

    libc = target.get("libc")
    if libc:
        family, version = libc
        found = running_libc(family)
        if found is None:
            problems.append("this interpreter does not run on %s" % family)
        elif version_tuple(found[1]) < version_tuple(version):
            problems.append("%s is %s, older than %s" % (family, found[1], version))
    return problems, notes


def wheel_names(path):
    """The wheel file names in a wheelhouse directory, or in a `packages.txt` file
    (`<sha256>  <file name>` lines, as `dockgen build` writes it)."""
    try:
        if os.path.isdir(path):
            names = os.listdir(path)
        else:
            with open(path, encoding="utf-8") as handle:
                names = [line.partition("  ")[2] for line in handle.read().splitlines()]
    except OSError as error:
        fail("cannot read `%s`: %s" % (path, error.strerror or error), 2)
    return sorted(name for name in names if name.endswith(".whl"))


def check_wheelhouse(path):
    """`(number of wheels, [unsupported wheel descriptions])`."""
    try:
        from pip._vendor.packaging.tags import sys_tags
        from pip._vendor.packaging.utils import parse_wheel_filename
    except ImportError:
        fail("checking wheels needs pip in this interpreter (`%s -m pip`)" % sys.executable, 2)
    names = wheel_names(path)
    supported = set(sys_tags())
    bad = []
    for name in names:
        try:
            tags = parse_wheel_filename(name)[3]
        except ValueError:  # InvalidWheelFilename or InvalidVersion
            bad.append("%s (not a valid wheel file name)" % name)
            continue
        if supported.isdisjoint(tags):
            bad.append(name)
    return len(names), bad


def main(argv):
    if len(argv) not in (2, 3):
        fail("usage: %s TARGET_JSON [WHEELHOUSE_DIR | PACKAGES_TXT]" % PROG, 2)
    target = read_target(argv[1])
    profile = target["profile"]
    lock = target.get("lock") or "the lock"
    rerun = "re-run: dockgen lock --profile %s (or build on the profile's images)" % profile

    problems, notes = check_interpreter(target)
    for note in notes:
        print(note)
    if problems:
        fail(
            "`%s` was made for profile `%s` (%s), but %s; %s"
            % (lock, profile, describe(target), "; ".join(problems), rerun)
        )

    summary = "target ok: profile %s, %s, CPython %d.%d.%d" % (
        (profile, platform.machine()) + tuple(sys.version_info[:3])
    )
    libc = target.get("libc")
    if libc:
        found = running_libc(libc[0])
        summary += ", %s %s" % found
    if len(argv) == 3:
        count, bad = check_wheelhouse(argv[2])
        if bad:
            fail(
                "%d of %d wheels in `%s` cannot be installed by this interpreter "
                "(profile `%s`, %s): %s; %s"
                % (len(bad), count, argv[2], profile, describe(target), ", ".join(bad), rerun)
            )
        summary += ", %d wheel%s installable" % (count, "" if count == 1 else "s")
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
