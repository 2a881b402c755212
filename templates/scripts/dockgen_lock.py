"""The dockgen lock parser that wheel_lock.py, verify.py and artifacts.py share.

dockgen writes every helper script into the same directory of the build context, so the
scripts import this module from beside themselves. Standard library only.
"""

import re


def normalize(name):
    """PEP 503 normalized project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


REQUIREMENT = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)(\[[^\]]*\])?==([^\s;\\]+)$")
COMMENT = re.compile(r"(^|\s)#.*$")


def read_lock(fail, path):
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


