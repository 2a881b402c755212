"""Verify an image's Python environment against its dockgen lock and profile.

Usage: verify.py VERIFY_JSON REPORT_OUT

VERIFY_JSON: {"profile": "cpu-x86_64", "lock": "/path/requirements.lock",
              "imports": ["torch"], "skip_imports": [],
              "assertions": [{"name": "...", "check": "python expression", "gpu_only": false}]}
              (optional: "timeout_seconds", per import or assertion, default 300;
              "unchanged": distributions installed by a step an earlier verified build
              made, which nothing changed reaches: their modules are not imported again)

Run by the environment's own interpreter. Checks, each passed / failed / skipped:
  installed-matches-lock  the installed distributions are exactly the lock's names and
                          versions (pip, setuptools and wheel count only when locked)
  pip-check               `python -m pip check`
  import:MODULE           every top-level module of every locked distribution, plus
                          "imports"; each in its own interpreter, so a crash or a hang
                          in one cannot take the others down or leak state between them;
                          skipped when every distribution with that module is
                          "unchanged" (and it is not in "imports")
  ASSERTION NAME          each assertion, evaluated in its own interpreter after importing
                          the modules its expression names; "gpu_only" ones are skipped
                          unless a GPU is visible (/dev/nvidia0, /dev/nvidiactl, /dev/kfd;
                          DOCKGEN_GPU=1 or 0 overrides)

Writes REPORT_OUT (JSON, stable order), prints one line per check and a count, and
exits 1 when any check failed (2 on bad input). Standard library plus the environment's
pip. Shipped by dockgen (templates/scripts/); do not edit a rendered copy.
"""

import ast
import builtins
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

from dockgen_lock import normalize, read_lock  # shipped beside this script

# pip is not in the image's environment: the Dockerfile mounts the wheel-builder's `pip`
# package in the directory DOCKGEN_PIP names for the steps that need it. That directory
# holds no distribution's metadata, so nothing in it counts as installed.
PIP_DIR = os.environ.get("DOCKGEN_PIP")
if PIP_DIR and PIP_DIR not in sys.path:
    sys.path.append(PIP_DIR)

PROG = "verify.py"
TOOLING = ("pip", "setuptools", "wheel")
DEFAULT_TIMEOUT = 300


def fail(message, code=1):
    print("%s: error: %s" % (PROG, message), file=sys.stderr)
    sys.exit(code)





def installed_distributions():
    """`{normalized name: Distribution}` of this interpreter; the first on sys.path wins,
    as for pip and pipdeptree. The script's own directory is not searched."""
    from importlib import metadata

    paths = list(sys.path)
    script_dir = os.path.dirname(os.path.abspath(__file__))
    if paths and os.path.abspath(paths[0] or ".") == script_dir:
        paths = paths[1:]
    found = {}
    for dist in metadata.distributions(path=paths):
        try:
            name = dist.metadata["Name"]
        except (TypeError, FileNotFoundError):
            name = None
        if name and normalize(name) not in found:
            found[normalize(name)] = dist
    return found


def same_version(lock_version, installed_version):
    if lock_version == installed_version:
        return True
    try:
        from pip._vendor.packaging.version import InvalidVersion, Version
    except ImportError:
        return False
    try:
        return Version(lock_version) == Version(installed_version)
    except InvalidVersion:
        return False


def record(name, kind, status, detail=""):
    return {"name": name, "kind": kind, "status": status, "detail": detail}


def check_installed(lock, installed):
    missing, extra, different = [], [], []
    for key in sorted(lock):
        name, version = lock[key][:2]
        dist = installed.get(key)
        if dist is None:
            missing.append("%s==%s" % (name, version))
        elif not same_version(version, dist.version):
            different.append("%s (lock %s, installed %s)" % (name, version, dist.version))
    for key in sorted(installed):
        if key not in lock and key not in TOOLING:
            extra.append("%s==%s" % (installed[key].metadata["Name"], installed[key].version))
    problems = []
    for label, items in (("missing", missing), ("extra", extra), ("different", different)):
        if items:
            problems.append("%s: %s" % (label, ", ".join(items)))
    if problems:
        return record("installed-matches-lock", "lock", "failed", "; ".join(problems))
    return record(
        "installed-matches-lock", "lock", "passed", "%d distributions match the lock" % len(lock)
    )


def check_pip(workdir, timeout):
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    pip = [os.path.join(PIP_DIR, "pip")] if PIP_DIR else ["-m", "pip"]
    outcome = run([sys.executable] + pip + ["check"], workdir, timeout, env)
    if outcome["error"]:
        return record("pip-check", "pip-check", "failed", outcome["error"])
    lines = [line.strip() for line in outcome["stdout"].splitlines() if line.strip()]
    if outcome["code"] == 0:
        return record("pip-check", "pip-check", "passed", lines[0] if lines else "")
    if not lines:
        lines = [last_line(outcome["stderr"]) or "exit status %d" % outcome["code"]]
    return record("pip-check", "pip-check", "failed", "; ".join(lines))


def run(command, workdir, timeout, env=None):
    """Run a child interpreter; `error` says why it did not finish on its own."""
    try:
        done = subprocess.run(
            command,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"code": None, "stdout": "", "stderr": "", "error": "timed out after %d s" % timeout}
    except OSError as error:
        return {"code": None, "stdout": "", "stderr": "", "error": "cannot run: %s" % error}
    stdout = done.stdout.decode("utf-8", "replace")
    stderr = done.stderr.decode("utf-8", "replace")
    error = ""
    if done.returncode < 0:
        try:
            signame = signal.Signals(-done.returncode).name
        except ValueError:
            signame = "signal %d" % -done.returncode
        error = "crashed: killed by %s" % signame
        if last_line(stderr):
            error += " (%s)" % last_line(stderr)
    return {"code": done.returncode, "stdout": stdout, "stderr": stderr, "error": error}


def last_line(text):
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def top_level_modules(dist):
    """Importable top-level names a distribution installs: `top_level.txt`, else RECORD."""
    text = dist.read_text("top_level.txt")
    if text is not None:
        return {line.strip() for line in text.splitlines() if line.strip()}
    names = set()
    for path in dist.files or ():
        parts = path.parts
        if not parts or parts[0] == ".." or parts[0].endswith((".dist-info", ".data")):
            continue
        if len(parts) == 2 and parts[1] == "__init__.py":
            names.add(parts[0])
        elif len(parts) == 1:
            filename = parts[0]
            if filename.endswith(".py") and filename.count(".") == 1:
                names.add(filename[: -len(".py")])
            elif filename.endswith((".so", ".pyd")):
                # `mod.so`, `mod.abi3.so`, `mod.cpython-311-x86_64-linux-gnu.so`
                names.add(filename.split(".", 1)[0])
    return names


def import_plan(lock, installed, imports, skip, unchanged=frozenset()):
    """`{module: detail}` of the imports to try, and of those not tried again because
    every distribution that has the module is unchanged."""
    plan = {}
    for key in sorted(lock):
        dist = installed.get(key)
        if dist is None:
            continue
        for module in top_level_modules(dist):
            if "/" in module or not module.isidentifier():
                continue
            if module.startswith("_") or module in ("test", "tests") or module in skip:
                continue
            plan.setdefault(module, []).append(lock[key][0])
    details = {module: "from %s" % ", ".join(sorted(names)) for module, names in plan.items()}
    reused = {}
    for module, names in plan.items():
        if module not in imports and all(normalize(name) in unchanged for name in names):
            reused[module] = details.pop(module) + "; installed by an unchanged step, imported by the build that made it"
    for module in imports:
        details[module] = "requested" if module not in details else details[module] + "; requested"
    return details, reused


IMPORT = "import importlib, sys; importlib.import_module(sys.argv[1])"


def check_import(module, detail, workdir, timeout):
    outcome = run([sys.executable, "-c", IMPORT, module], workdir, timeout)
    name = "import:%s" % module
    if outcome["error"]:
        return record(name, "import", "failed", outcome["error"])
    if outcome["code"] != 0:
        return record(name, "import", "failed", last_line(outcome["stderr"]) or "exit status %d" % outcome["code"])
    return record(name, "import", "passed", detail)


# The child that evaluates an assertion: imports the modules the expression names
# (`torch`, and `torch.version` for `torch.version.cuda` when it is a submodule not yet
# loaded), then evaluates it. Exit 3 with a description when the value is false.
ASSERT = r"""
import builtins, importlib, importlib.util, json, sys
check, roots, chains = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
namespace = {}
for root in roots:
    try:
        spec = importlib.util.find_spec(root)
    except (ImportError, ValueError):
        spec = None
    if spec is not None:
        namespace[root] = importlib.import_module(root)
for chain in chains:
    value = namespace.get(chain[0])
    for depth in range(1, len(chain)):
        if value is None or not hasattr(value, "__path__"):
            break
        if hasattr(value, chain[depth]):
            value = getattr(value, chain[depth])
            continue
        dotted = ".".join(chain[: depth + 1])
        try:
            value = importlib.import_module(dotted)
        except ModuleNotFoundError as error:
            if error.name != dotted:
                raise
            break
value = eval(compile(check, "<assertion>", "eval"), namespace)
if not value:
    import ast
    node = ast.parse(check, mode="eval").body
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        left = eval(compile(ast.Expression(node.left), "<left>", "eval"), namespace)
        right = eval(compile(ast.Expression(node.comparators[0]), "<right>", "eval"), namespace)
        print("left: %.200r, right: %.200r" % (left, right))
    else:
        print("value: %.200r" % (value,))
    sys.exit(3)
"""


def names_in(check):
    """`(top-level names, dotted attribute chains)` an expression reads."""
    tree = ast.parse(check, mode="eval")
    loads, bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loads if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    roots = sorted(name for name in loads - bound if not hasattr(builtins, name))
    chains = set()
    for node in ast.walk(tree):
        chain = []
        while isinstance(node, ast.Attribute):
            chain.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id in roots and len(chain) > 1:
            chains.add(tuple([node.id] + chain[::-1][:-1]))
    return roots, sorted(list(chain) for chain in chains)


def check_assertion(assertion, gpu, workdir, timeout):
    name, check = assertion["name"], assertion["check"]
    if assertion.get("gpu_only") and not gpu:
        return record(name, "assertion", "skipped", "no GPU present")
    try:
        roots, chains = names_in(check)
    except SyntaxError as error:
        return record(name, "assertion", "failed", "`%s` is not a Python expression: %s" % (check, error.msg))
    outcome = run(
        [sys.executable, "-c", ASSERT, check, json.dumps(roots), json.dumps(chains)], workdir, timeout
    )
    if outcome["error"]:
        return record(name, "assertion", "failed", outcome["error"])
    if outcome["code"] == 3:
        return record(name, "assertion", "failed", "`%s` is false (%s)" % (check, last_line(outcome["stdout"])))
    if outcome["code"] != 0:
        return record(name, "assertion", "failed", last_line(outcome["stderr"]) or "exit status %d" % outcome["code"])
    return record(name, "assertion", "passed", "`%s`" % check)


def gpu_present():
    forced = os.environ.get("DOCKGEN_GPU")
    if forced in ("0", "1"):
        return forced == "1"
    return any(os.path.exists(path) for path in ("/dev/nvidia0", "/dev/nvidiactl", "/dev/kfd"))


def read_config(path):
    try:
        with open(path, encoding="utf-8") as file:
            config = json.load(file)
    except OSError as error:
        fail("cannot read `%s`: %s" % (path, error.strerror or error), 2)
    except ValueError as error:
        fail("`%s` is not valid JSON: %s" % (path, error), 2)
    if not isinstance(config, dict):
        fail("`%s` must hold a JSON object" % path, 2)
    if not isinstance(config.get("profile"), str) or not isinstance(config.get("lock"), str):
        fail("`%s` needs `profile` and `lock` strings" % path, 2)
    for key in ("imports", "skip_imports", "unchanged"):
        value = config.setdefault(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            fail("`%s`: `%s` must be a list of module names" % (path, key), 2)
    assertions = config.setdefault("assertions", [])
    if not isinstance(assertions, list):
        fail("`%s`: `assertions` must be a list" % path, 2)
    for index, assertion in enumerate(assertions):
        if not (
            isinstance(assertion, dict)
            and isinstance(assertion.get("name"), str)
            and isinstance(assertion.get("check"), str)
            and isinstance(assertion.get("gpu_only", False), bool)
        ):
            fail(
                '`%s`: assertion %d must be {"name": str, "check": str, "gpu_only": bool}' % (path, index),
                2,
            )
    timeout = config.setdefault("timeout_seconds", DEFAULT_TIMEOUT)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout <= 0:
        fail("`%s`: `timeout_seconds` must be a positive integer" % path, 2)
    return config


def main(argv):
    if len(argv) != 3:
        fail("usage: %s VERIFY_JSON REPORT_OUT" % PROG, 2)
    config = read_config(argv[1])
    lock = read_lock(fail, config["lock"])
    installed = installed_distributions()
    timeout = config["timeout_seconds"]
    gpu = gpu_present()
    plan, reused = import_plan(
        lock, installed, config["imports"], set(config["skip_imports"]), {normalize(n) for n in config["unchanged"]}
    )

    # An empty working directory, so nothing in the current one shadows a module.
    with tempfile.TemporaryDirectory(prefix="dockgen-verify-") as workdir:
        with ThreadPoolExecutor(max_workers=max(1, min(8, os.cpu_count() or 1))) as pool:
            pip = pool.submit(check_pip, workdir, timeout)
            imports = [
                pool.submit(check_import, module, plan[module], workdir, timeout) for module in sorted(plan)
            ]
            assertions = [
                pool.submit(check_assertion, assertion, gpu, workdir, timeout)
                for assertion in config["assertions"]
            ]
            checks = [check_installed(lock, installed), pip.result()]
            checks += sorted(
                [future.result() for future in imports]
                + [record("import:%s" % module, "import", "skipped", reused[module]) for module in reused],
                key=lambda check: check["name"],
            )
            checks += [future.result() for future in assertions]

    summary = {status: 0 for status in ("passed", "failed", "skipped")}
    for check in checks:
        summary[check["status"]] += 1
    report = {"profile": config["profile"], "checks": checks, "summary": summary}
    try:
        with open(argv[2], "w", encoding="utf-8", newline="\n") as file:
            file.write(json.dumps(report, indent=2, sort_keys=True) + "\n")
    except OSError as error:
        fail("cannot write `%s`: %s" % (argv[2], error.strerror or error), 2)

    for check in checks:
        line = "%-7s %s" % (check["status"], check["name"])
        if check["detail"]:
            line += ": " + check["detail"]
        print(line)
    print("%(passed)d passed, %(failed)d failed, %(skipped)d skipped" % summary)
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
