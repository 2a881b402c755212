"""Write the dependency artifacts of an image's Python environment.

Usage: artifacts.py LOCK OUT_DIR [WHEEL_LOCK]

Run by the environment's own interpreter; writes into OUT_DIR:
  dependencies.txt      the dependency tree exactly as pipdeptree 4 (`pipdeptree --warn
                        silence`) prints it
  dependency_tree.json  the same tree exactly as pipdeptree 4's `--json-tree` prints it
  frozen_deps.txt       `name==version` of every installed distribution, sorted as
                        `pip freeze` sorts (pip, setuptools, wheel only when locked)
  environment.txt       Python, platform, libc, and torch's build when torch is installed
  sbom.cdx.json         a CycloneDX 1.6 SBOM: components with purls, licenses from the
                        metadata and SHA-256 hashes from WHEEL_LOCK when given, and the
                        dependency graph

The image needs no extra package for this: standard library plus the environment's pip
(its vendored `packaging` parses requirements and evaluates markers, as pipdeptree's
`packaging` does). Output is deterministic: no timestamp unless SOURCE_DATE_EPOCH is set,
and the SBOM's serial number is derived from the lock's SHA-256.
Shipped by dockgen (templates/scripts/); do not edit a rendered copy.
"""

import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from urllib.parse import quote

from dockgen_lock import normalize, read_lock  # shipped beside this script

# pip is not in the image's environment: the Dockerfile mounts the wheel-builder's `pip`
# package in the directory DOCKGEN_PIP names for the steps that need it. That directory
# holds no distribution's metadata, so nothing in it counts as installed.
PIP_DIR = os.environ.get("DOCKGEN_PIP")
if PIP_DIR and PIP_DIR not in sys.path:
    sys.path.append(PIP_DIR)

PROG = "artifacts.py"
# Left out of frozen_deps.txt unless the lock pins them, as `pip freeze` leaves them out.
FREEZE_SKIP = ("pip", "setuptools", "wheel", "distribute")


def fail(message, code=1):
    print("%s: error: %s" % (PROG, message), file=sys.stderr)
    sys.exit(code)





def packaging_modules():
    """`(Requirement, InvalidRequirement)` from pip's vendored packaging, else packaging."""
    try:
        from pip._vendor.packaging.requirements import InvalidRequirement, Requirement
    except ImportError:
        try:
            from packaging.requirements import InvalidRequirement, Requirement
        except ImportError:
            fail("needs pip (or packaging) in this environment: `%s -m pip` is missing" % sys.executable, 2)
    return Requirement, InvalidRequirement


class Node:
    """One installed distribution and its requirements, as pipdeptree 4 reads them."""

    def __init__(self, dist):
        self.dist = dist
        self.name = dist.metadata["Name"]
        self.key = normalize(self.name)
        self.version = dist.version
        # Requirements that hold with no extra active, sorted by key (metadata order on
        # one key), then per extra (by name) those it activates: [Dep].
        self.mandatory = []
        self.optional = {}
        # The extras of this distribution that an installed one asks for.
        self.requested = set()
        # (child key, child name, 2.x specifier text or None) of the mandatory
        # requirements: the SBOM's dependency graph.
        self.requires = []


class Dep:
    """A requirement: the child's key, pipdeptree 4's specifier text (None for none),
    the owner's extra that activates it (None: none needed), and the child's extras it
    asks for."""

    def __init__(self, key, specifier, activated_by, requests):
        self.key = key
        self.specifier = specifier
        self.activated_by = activated_by
        self.requests = requests


def installed_nodes():
    """`{key: Node}` in sys.path order; the first distribution of a name wins, as for pip
    and pipdeptree. The script's own directory is not searched."""
    from importlib import metadata

    paths = list(sys.path)
    script_dir = os.path.dirname(os.path.abspath(__file__))
    if paths and os.path.abspath(paths[0] or ".") == script_dir:
        paths = paths[1:]
    nodes = {}
    for dist in metadata.distributions(path=paths):
        try:
            name = dist.metadata["Name"]
        except (TypeError, FileNotFoundError):
            name = None
        if name and normalize(name) not in nodes:
            nodes[normalize(name)] = Node(dist)
    return nodes


def marker_extras(marker):
    """The extras a marker compares `extra` with, normalized and sorted: those that can
    activate the requirement (pipdeptree 4 reads them from the marker, not from
    Provides-Extra)."""
    found = set()

    def walk(items):
        for item in items:
            if isinstance(item, list):
                walk(item)
            elif isinstance(item, tuple) and len(item) == 3:
                for variable, value in ((item[0], item[2]), (item[2], item[0])):
                    if (
                        type(variable).__name__ == "Variable"
                        and getattr(variable, "value", None) == "extra"
                        and type(value).__name__ == "Value"
                    ):
                        found.add(normalize(value.value))

    walk(getattr(marker, "_markers", []))
    return sorted(found)


def version_order(text):
    """A specifier's sort key as pep440-rs orders a requirement's specifiers: its version
    (a `.*` suffix dropped); unparsable ones first."""
    from pip._vendor.packaging.version import InvalidVersion, Version

    version = re.sub(r"^(===|~=|==|!=|<=|>=|<|>)", "", text).strip()
    if version.endswith(".*"):
        version = version[:-2]
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, Version("0"))


def specifier_texts(text):
    """The specifiers of requirement `text` in its own order, each as packaging spells
    it; the marker, name, extras and any URL left out."""
    from pip._vendor.packaging.specifiers import InvalidSpecifier, Specifier

    body = text.split(";", 1)[0]
    if "@" in body:
        return []
    body = re.sub(r"^\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?", "", body)
    body = body.strip().strip("()")
    texts = []
    for part in body.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            texts.append(str(Specifier(part)))
        except InvalidSpecifier:
            texts.append(part)
    return texts


def build_graph(nodes):
    """Fill each node's requirements as pipdeptree 4 sees them (markers evaluated for
    this interpreter), then the extras installed distributions ask for."""
    Requirement, InvalidRequirement = packaging_modules()
    for node in nodes.values():
        mandatory, optional, plain = [], {}, []
        for text in node.dist.requires or ():
            try:
                requirement = Requirement(text)
            except InvalidRequirement:
                continue  # pipdeptree leaves these out too (with a warning)
            key = normalize(requirement.name)
            child = nodes.get(key)
            name = child.name if child is not None else requirement.name
            texts = specifier_texts(text)
            specifier = ",".join(sorted(texts, key=version_order)) if texts else None
            requests = frozenset(normalize(extra) for extra in requirement.extras)
            marker = requirement.marker
            if marker is None or marker.evaluate({"extra": ""}):
                mandatory.append(Dep(key, specifier, None, requests))
                specs = sorted((str(spec) for spec in requirement.specifier), reverse=True)
                plain.append((key, name, ",".join(specs) if specs else None))
                continue
            for extra in marker_extras(marker):
                if marker.evaluate({"extra": extra}):
                    optional.setdefault(extra, []).append(Dep(key, specifier, extra, requests))
        # Stable: requirements with the same key keep their metadata order.
        node.mandatory = sorted(mandatory, key=lambda dep: dep.key)
        node.optional = {extra: sorted(deps, key=lambda dep: dep.key) for extra, deps in sorted(optional.items())}
        node.requires = sorted(plain, key=lambda item: item[0])
    # Every plain requirement asks for its extras, and so do the requirements those
    # extras activate.
    pending = [dep for node in nodes.values() for dep in node.mandatory]
    while pending:
        dep = pending.pop()
        child = nodes.get(dep.key)
        if child is None:
            continue
        for extra in sorted(dep.requests - child.requested):
            child.requested.add(extra)
            pending.extend(child.optional.get(extra, ()))


def selected(nodes, node, extras):
    """What `node` shows below an edge asking for `extras` (None: as a root, every extra
    asked for anywhere): its plain requirements and those of the extras, by key."""
    if extras is None:
        extras = node.requested
    if not extras:
        return list(node.mandatory)
    deps = list(node.mandatory)
    for extra, extra_deps in node.optional.items():
        if extra in extras:
            deps.extend(dep for dep in extra_deps if dep.key in nodes)
    return sorted(deps, key=lambda dep: (dep.key, dep.activated_by is not None, dep.activated_by or ""))


def installed_version(nodes, key):
    node = nodes.get(key)
    return node.version if node is not None else "?"


def roots(nodes):
    """Sorted keys of the distributions no installed distribution's shown edge reaches,
    and every member of each cycle that none of those reaches."""
    edges = {key: [dep.key for dep in selected(nodes, node, None) if dep.key in nodes] for key, node in nodes.items()}
    reached_by_edge = {child for children in edges.values() for child in children}
    found = [key for key in sorted(nodes) if key not in reached_by_edge]
    reached = set()

    def mark(seeds):
        stack = list(seeds)
        while stack:
            key = stack.pop()
            if key not in reached:
                reached.add(key)
                stack.extend(edges[key])

    mark(found)
    if len(reached) == len(nodes):
        return found
    # Strongly connected components, each before those it leads to (Kosaraju).
    order, visited = [], set()
    for start in sorted(nodes):
        if start in visited:
            continue
        visited.add(start)
        stack = [(start, 0)]
        while stack:
            key, position = stack[-1]
            if position == len(edges[key]):
                order.append(key)
                stack.pop()
                continue
            stack[-1] = (key, position + 1)
            child = edges[key][position]
            if child not in visited:
                visited.add(child)
                stack.append((child, 0))
    incoming = {key: [] for key in nodes}
    for key, children in edges.items():
        for child in children:
            incoming[child].append(key)
    visited = set()
    while order:
        start = order.pop()
        if start in visited:
            continue
        visited.add(start)
        component, stack = [], [start]
        while stack:
            key = stack.pop()
            component.append(key)
            for parent in incoming[key]:
                if parent not in visited:
                    visited.add(parent)
                    stack.append(parent)
        if component[0] not in reached:
            mark(component)
            found.extend(component)
    return sorted(found)


def walk(nodes, enter):
    """Every root's tree as pipdeptree 4 walks it: `enter(node, dep, depth, last,
    repeated)` for each line (dep None for a root), depth first. Under each root, a
    package already shown with the same extras, or on the path (a cycle), is shown once
    more without what is below it (repeated, when something is)."""
    for root in roots(nodes):
        enter(nodes[root], None, 0, True, False)
        path, shown = {root}, set()
        stack = [(root, selected(nodes, nodes[root], None), 0)]
        while stack:
            key, deps, position = stack[-1]
            if position == len(deps):
                stack.pop()
                if stack:
                    path.discard(key)
                continue
            stack[-1] = (key, deps, position + 1)
            dep = deps[position]
            last = position + 1 == len(deps)
            child = nodes.get(dep.key)
            if child is None:
                enter(None, dep, len(stack), last, False)
                continue
            again = dep.key in path
            if not again:
                again = (dep.key, dep.requests) in shown
                shown.add((dep.key, dep.requests))
            below = selected(nodes, child, dep.requests)
            repeated = again and bool(below)
            enter(child, dep, len(stack), last, repeated)
            if repeated:
                continue
            path.add(dep.key)
            stack.append((dep.key, below, 0))


def render_text(nodes):
    """pipdeptree 4's default text output (unicode tree), one string with a final newline."""
    lines, indents = [], []

    def enter(node, dep, depth, last, repeated):
        if dep is None:
            indents.clear()
            lines.append("%s==%s" % (node.name, node.version))
            return
        del indents[depth - 1 :]
        extra = ", extra: %s" % dep.activated_by if dep.activated_by else ""
        lines.append(
            "%s%s%s [required: %s, installed: %s%s]%s"
            % (
                "".join(indents),
                "└── " if last else "├── ",
                node.name if node is not None else dep.key,
                dep.specifier or "Any",
                node.version if node is not None else "?",
                extra,
                " (*)" if repeated else "",
            )
        )
        indents.append("    " if last else "│   ")

    walk(nodes, enter)
    return "\n".join(lines) + "\n"


def render_json_tree(nodes):
    """pipdeptree 4's `--json-tree` output, with its key order and 4-space indent."""
    tree, open_entries = [], []

    def enter(node, dep, depth, last, repeated):
        del open_entries[depth:]
        if dep is None:
            entry = {
                "key": node.key,
                "package_name": node.name,
                "installed_version": node.version,
                "required_version": node.version,
            }
        else:
            entry = {
                "key": dep.key,
                "package_name": node.name if node is not None else dep.key,
                "installed_version": node.version if node is not None else "?",
                "required_version": dep.specifier or "Any",
            }
            if node is not None and dep.activated_by:
                entry["extra"] = dep.activated_by
        entry["dependencies"] = []
        if repeated:
            entry["repeated"] = True
        if depth == 0:
            tree.append(entry)
        else:
            open_entries[depth - 1]["dependencies"].append(entry)
        open_entries.append(entry)

    walk(nodes, enter)
    return json.dumps(tree, indent=4, ensure_ascii=False) + "\n"


def plain_roots(nodes):
    """Sorted keys of the distributions no plain requirement of another one reaches."""
    required = {child for node in nodes.values() for child, _, _ in node.requires}
    return [key for key in sorted(nodes) if key not in required]


def render_frozen(nodes, lock):
    kept = [node for key, node in nodes.items() if key not in FREEZE_SKIP or key in lock]
    kept.sort(key=lambda node: node.name.lower())
    return "".join("%s==%s\n" % (node.name, node.version) for node in kept)


TORCH = r"""
import json
import torch
cuda = getattr(torch, "cuda", None)
print(json.dumps({
    "version": str(torch.__version__),
    "cuda": str(getattr(torch.version, "cuda", None)),
    "hip": str(getattr(torch.version, "hip", None)),
    "cuda available": str(bool(cuda.is_available())) if cuda is not None else "unknown",
}))
"""


def render_environment(nodes, lock_digest):
    libc = platform.libc_ver()
    lines = [
        "python: %s" % platform.python_version(),
        "implementation: %s" % platform.python_implementation(),
        "executable: %s" % sys.executable,
        "prefix: %s" % sys.prefix,
        "platform: %s" % sys.platform,
        "machine: %s" % platform.machine(),
        "libc: %s" % (" ".join(part for part in libc if part) or "unknown"),
        "lock sha256: %s" % lock_digest,
    ]
    if "torch" not in nodes:
        lines.append("torch: not installed")
    else:
        # In a child interpreter: a torch that crashes on import must not stop the artifacts.
        try:
            done = subprocess.run(
                [sys.executable, "-c", TORCH],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                timeout=300,
            )
            info = json.loads(done.stdout.decode("utf-8")) if done.returncode == 0 else None
            problem = (done.stderr.decode("utf-8", "replace").strip().splitlines() or [""])[-1]
        except (OSError, ValueError, subprocess.TimeoutExpired) as error:
            info, problem = None, str(error)
        if info is None:
            lines.append("torch: %s (import failed: %s)" % (nodes["torch"].version, problem))
        else:
            for key in ("version", "cuda", "hip", "cuda available"):
                lines.append("torch %s: %s" % (key, info[key]))
    return "\n".join(lines) + "\n"


def purl(node):
    # purl's PyPI rules: the name PEP 503-normalized (lower case, runs of `-_.` as one
    # `-`); the version percent-encoded (`+` -> %2B). `dockgen sbom` writes the same.
    return "pkg:pypi/%s@%s" % (quote(normalize(node.name), safe="-"), quote(node.version, safe=".-_~"))


def spdx_ids():
    """`{lower-case id: id}` of the SPDX license list dockgen ships beside this script
    (`spdx-ids.txt`), empty when it is missing."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "spdx-ids.txt")
    try:
        with open(path, encoding="utf-8") as file:
            return {line.strip().lower(): line.strip() for line in file if line.strip() and not line.startswith("#")}
    except OSError:
        return {}


def licenses(node, ids):
    # As `dockgen sbom`: the License-Expression as `expression`; else the first line of
    # License as `license.id` when it is an SPDX identifier, as `license.name` when not.
    metadata = node.dist.metadata
    expression = (metadata.get("License-Expression") or "").strip()
    if expression:
        return [{"expression": expression}]
    text = (metadata.get("License") or "").strip()
    if text and text.upper() != "UNKNOWN":
        # Some distributions put a whole license text here: its first line names it.
        line = text.splitlines()[0].strip()
        if line.lower() in ids:
            return [{"license": {"id": ids[line.lower()]}}]
        return [{"license": {"name": line}}]
    return []


def lock_profile(lock_path):
    """The profile named in the lock's header, else the lock's file name."""
    try:
        with open(lock_path, encoding="utf-8") as file:
            for line in file:
                match = re.search(r"for profile `([^`]+)`", line)
                if match:
                    return match.group(1)
                if not line.startswith("#"):
                    break
    except OSError:
        pass
    return os.path.splitext(os.path.basename(lock_path))[0]


def serial_number(lock_digest):
    # The lock's SHA-256, first 16 bytes, with the version (8, RFC 9562) and variant bits
    # set: the same lock always gives the same SBOM, and any tool can recompute it.
    raw = bytearray(bytes.fromhex(lock_digest)[:16])
    raw[6] = (raw[6] & 0x0F) | 0x80
    raw[8] = (raw[8] & 0x3F) | 0x80
    return "urn:uuid:%s" % uuid.UUID(bytes=bytes(raw))


def render_sbom(nodes, lock_path, lock_digest, wheel_hashes):
    profile = lock_profile(lock_path)
    image_ref = "dockgen-image:%s" % profile
    refs = {key: purl(node) for key, node in nodes.items()}
    ids = spdx_ids()
    components = []
    for key in sorted(nodes, key=lambda key: refs[key]):
        node = nodes[key]
        component = {
            "type": "library",
            "bom-ref": refs[key],
            "name": node.name,
            "version": node.version,
            "purl": refs[key],
        }
        found = licenses(node, ids)
        if found:
            component["licenses"] = found
        if wheel_hashes.get(key):
            component["hashes"] = [{"alg": "SHA-256", "content": digest} for digest in sorted(wheel_hashes[key])]
        components.append(component)
    dependencies = [{"ref": image_ref, "dependsOn": sorted({refs[key] for key in plain_roots(nodes)})}]
    for key in sorted(nodes, key=lambda key: refs[key]):
        depends = sorted({refs[child] for child, _, _ in nodes[key].requires if child in refs})
        dependencies.append({"ref": refs[key], "dependsOn": depends})
    metadata = {
        "component": {
            "type": "container",
            "bom-ref": image_ref,
            "name": "dockgen-%s" % profile,
            "properties": [
                {"name": "dockgen:lock-sha256", "value": lock_digest},
                {"name": "dockgen:profile", "value": profile},
            ],
        },
        "tools": {"components": [{"type": "application", "name": "dockgen artifacts.py"}]},
    }
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        try:
            moment = datetime.fromtimestamp(int(epoch), tz=timezone.utc)
        except (ValueError, OverflowError, OSError):
            fail("SOURCE_DATE_EPOCH must be whole seconds since 1970, not `%s`" % epoch, 2)
        metadata["timestamp"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": serial_number(lock_digest),
        "version": 1,
        "metadata": metadata,
        "components": components,
        "dependencies": dependencies,
    }
    return json.dumps(bom, indent=2, sort_keys=True) + "\n"


def main(argv):
    if len(argv) not in (3, 4):
        fail("usage: %s LOCK OUT_DIR [WHEEL_LOCK]" % PROG, 2)
    lock_path, out_dir = argv[1], argv[2]
    lock = read_lock(fail, lock_path)
    with open(lock_path, "rb") as file:
        lock_digest = hashlib.sha256(file.read()).hexdigest()
    wheel_hashes = {}
    if len(argv) == 4:
        wheel_hashes = {key: entry[2] for key, entry in read_lock(fail, argv[3]).items()}

    nodes = installed_nodes()
    build_graph(nodes)
    outputs = {
        "dependencies.txt": render_text(nodes),
        "dependency_tree.json": render_json_tree(nodes),
        "frozen_deps.txt": render_frozen(nodes, lock),
        "environment.txt": render_environment(nodes, lock_digest),
        "sbom.cdx.json": render_sbom(nodes, lock_path, lock_digest, wheel_hashes),
    }
    try:
        os.makedirs(out_dir, exist_ok=True)
        for name in sorted(outputs):
            with open(os.path.join(out_dir, name), "w", encoding="utf-8", newline="\n") as file:
                file.write(outputs[name])
    except OSError as error:
        fail("cannot write into `%s`: %s" % (out_dir, error.strerror or error), 2)
    print("artifacts ok: %d distributions, %s written to %s" % (len(nodes), ", ".join(sorted(outputs)), out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
