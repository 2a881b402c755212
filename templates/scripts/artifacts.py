"""Write the dependency artifacts of an image's Python environment.

Usage: artifacts.py LOCK OUT_DIR [WHEEL_LOCK]

Run by the environment's own interpreter; writes into OUT_DIR:
  dependencies.txt      the dependency tree exactly as `pipdeptree --warn silence` prints it
  dependency_tree.json  the same tree exactly as `pipdeptree --json-tree` prints it
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
    """One installed distribution and its requirements, as pipdeptree's DistPackage."""

    def __init__(self, dist):
        self.dist = dist
        self.name = dist.metadata["Name"]
        self.key = normalize(self.name)
        self.version = dist.version
        self.requires = []  # [(child key, child name, version spec or None)], sorted by key


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


def build_graph(nodes):
    """Fill `Node.requires` with the requirements that apply here: markers evaluated for
    this interpreter with no extra active, so extras-only requirements are left out."""
    Requirement, InvalidRequirement = packaging_modules()
    for node in nodes.values():
        requires = []
        for text in node.dist.requires or ():
            try:
                requirement = Requirement(text)
            except InvalidRequirement:
                continue  # pipdeptree leaves these out too (with a warning)
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue
            key = normalize(requirement.name)
            child = nodes.get(key)
            name = child.name if child is not None else requirement.name
            specs = sorted((str(spec) for spec in requirement.specifier), reverse=True)
            requires.append((key, name, ",".join(specs) if specs else None))
        # Stable: requirements with the same key keep their metadata order.
        node.requires = sorted(requires, key=lambda item: item[0])


def installed_version(nodes, key):
    node = nodes.get(key)
    return node.version if node is not None else "?"


def roots(nodes):
    """Sorted keys of the distributions no other installed distribution requires."""
    required = {child for node in nodes.values() for child, _, _ in node.requires}
    return [key for key in sorted(nodes) if key not in required]


def render_text(nodes):
    """pipdeptree's default text output (unicode tree), one string with a final newline."""
    lines = []

    def branch(key, name, spec, prefix, last, chain):
        connector = "└── " if last else "├── "
        lines.append(
            "%s%s%s [required: %s, installed: %s]"
            % (prefix, connector, name, spec or "Any", installed_version(nodes, key))
        )
        children(key, prefix + ("    " if last else "│   "), chain)

    def children(key, prefix, chain):
        node = nodes.get(key)
        requires = node.requires if node is not None else []
        for index, (child, name, spec) in enumerate(requires):
            # As pipdeptree: a child already on the path is left out (no cycles), but
            # "last" is still decided over all children.
            if name in chain:
                continue
            branch(child, name, spec, prefix, index == len(requires) - 1, chain + [name])

    for key in roots(nodes):
        node = nodes[key]
        lines.append("%s==%s" % (node.name, node.version))
        # pipdeptree starts the chain empty at the root, so a self-requirement shows once.
        children(key, "", [])
    return "\n".join(lines) + "\n"


def render_json_tree(nodes):
    """pipdeptree's `--json-tree` output, with its key order and 4-space indent."""

    def child(key, name, spec, chain):
        entry = {
            "key": key,
            "package_name": name,
            "installed_version": installed_version(nodes, key),
            "required_version": spec if spec else "Any",
        }
        entry["dependencies"] = dependencies(key, chain)
        return entry

    def dependencies(key, chain):
        node = nodes.get(key)
        requires = node.requires if node is not None else []
        return [child(c, name, spec, chain + [name]) for c, name, spec in requires if name not in chain]

    tree = []
    for key in roots(nodes):
        node = nodes[key]
        tree.append(
            {
                "key": key,
                "package_name": node.name,
                "installed_version": node.version,
                "required_version": node.version,
                "dependencies": dependencies(key, [node.name]),
            }
        )
    return json.dumps(tree, indent=4) + "\n"


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
    dependencies = [{"ref": image_ref, "dependsOn": sorted({refs[key] for key in roots(nodes)})}]
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
