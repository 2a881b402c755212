"""Fetch the locked files from `dockgen build`'s package server into the build.

Usage: fetch.py PACKAGES STORE WHEELHOUSE

PACKAGES   the plan's `packages.txt`: one `<sha256>  <file name>` line per locked file
           (the `sha256sum` layout), written by `dockgen build` from the lock
STORE      a BuildKit cache mount: verified files by hash, `STORE/<sha256>`, kept across
           builds, so a rebuild after a lock change fetches only the files that are new
WHEELHOUSE created here: `WHEELHOUSE/<file name>` links into STORE, exactly the files
           of PACKAGES, for `pip --no-index --find-links WHEELHOUSE`

The server is dockgen's own, on the host's loopback for the length of one build, with
the files it fetched from the indexes (with their credentials, which stay on the host).
Its address comes in `FTP_PROXY`: BuildKit keeps its predefined proxy arguments out of
the cache key and out of the image's history and config, so the server's port, new on
every build, changes neither. No tool in a build uses an FTP proxy for anything else.

Every fetched file is hashed before it enters STORE (written to a temporary name, then
renamed), so STORE holds only files whose name is their SHA-256.
Exit codes: 0 done, 1 a file could not be fetched or did not match its hash, 2 usage.
Shipped by dockgen (templates/scripts/); do not edit a rendered copy.
"""

import hashlib
import os
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

PROG = "fetch.py"
# The host name the server answers to; `.invalid` never resolves, so a request can
# only succeed through the server.
SERVER = "http://dockgen-packages.invalid"
CHUNK = 1 << 20


def fail(message, code=1):
    print("%s: error: %s" % (PROG, message), file=sys.stderr)
    sys.exit(code)


def read_packages(path):
    """`[(sha256, file name)]` from PACKAGES, in file order."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError as error:
        fail("cannot read `%s`: %s" % (path, error.strerror or error), 2)
    files = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        sha256, _, name = line.partition("  ")
        if len(sha256) != 64 or not name or "/" in name or name.startswith("."):
            fail("`%s` line %d: expected `<sha256>  <file name>`, found %r" % (path, number, line), 2)
        files.append((sha256.lower(), name))
    return files


def opener():
    proxy = os.environ.get("FTP_PROXY") or os.environ.get("ftp_proxy")
    if not proxy:
        fail(
            "no package server: this plan gets its packages from `dockgen build`, which "
            "passes the server's address in FTP_PROXY; to build it with another tool, "
            "render it with `dockgen render --wheelhouse` instead",
            2,
        )
    return urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy}))


def fetch(http, store, sha256, name):
    """Puts the file into STORE unless it is there; `(bytes fetched, 0 or 1)`."""
    path = os.path.join(store, sha256)
    if os.path.exists(path):
        return 0, 0
    url = "%s/sha256/%s/%s" % (SERVER, sha256, urllib.request.quote(name))
    temp = "%s.part.%d" % (path, os.getpid())
    digest = hashlib.sha256()
    size = 0
    try:
        with http.open(url, timeout=60) as response, open(temp, "wb") as out:
            while True:
                chunk = response.read(CHUNK)
                if not chunk:
                    break
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
    except urllib.error.HTTPError as error:
        fail("`%s`: the package server answered %d %s" % (name, error.code, error.reason))
    except (urllib.error.URLError, OSError) as error:
        fail("`%s`: cannot fetch it from the package server: %s" % (name, getattr(error, "reason", error)))
    if digest.hexdigest() != sha256:
        os.unlink(temp)
        fail("`%s`: sha256 %s, but the lock says %s" % (name, digest.hexdigest(), sha256))
    os.rename(temp, path)
    return size, 1


def main(argv):
    if len(argv) != 4:
        fail("usage: %s PACKAGES STORE WHEELHOUSE" % PROG, 2)
    packages, store, wheelhouse = argv[1:]
    files = read_packages(packages)
    os.makedirs(store, exist_ok=True)
    os.makedirs(wheelhouse, exist_ok=True)
    missing = [(sha256, name) for sha256, name in files if not os.path.exists(os.path.join(store, sha256))]
    fetched = bytes_fetched = 0
    if missing:
        http = opener()
        with ThreadPoolExecutor(max_workers=4) as pool:
            for size, count in pool.map(lambda f: fetch(http, store, *f), missing):
                bytes_fetched += size
                fetched += count
    for sha256, name in files:
        os.symlink(os.path.join(store, sha256), os.path.join(wheelhouse, name))
    print(
        "%d files: %d fetched (%d bytes), %d already in the build cache"
        % (len(files), fetched, bytes_fetched, len(files) - fetched)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
