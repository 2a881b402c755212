# Runs one PEP 517 hook of a build backend for dockgen, in the source tree (the
# current directory), inside an isolated build environment.
#
#   python hooks.py BACKEND BACKEND_PATH_JSON HOOK RESULT_FILE [DIRECTORY]
#
# HOOK is get_requires_for_build_wheel, prepare_metadata_for_build_wheel or
# build_wheel, or "metadata": get_requires_for_build_wheel, whose answer goes to
# RESULT_FILE.requires, then (when dockgen answers "go" on stdin: the environment has
# what it asks for) prepare_metadata_for_build_wheel, or build_wheel when the backend
# has no such hook, in the same process. The answer goes to RESULT_FILE as JSON (never
# to stdout, which the backend may fill): {"ok": ...} or {"error": KIND, "hook": ...}.
# The backend's own output goes to stdout/stderr, which dockgen keeps for messages.
import importlib
import json
import os
import sys
import traceback


def answer(path, value):
    with open(path, "w", encoding="utf-8") as out:
        json.dump(value, out)


def main():
    backend_spec, backend_path, hook, result = sys.argv[1:5]
    directory = sys.argv[5] if len(sys.argv) > 5 else None
    in_tree = [os.path.abspath(p) for p in json.loads(backend_path)]
    sys.path[:0] = in_tree
    module_name, _, attributes = backend_spec.partition(":")
    try:
        backend = importlib.import_module(module_name)
    except ImportError as error:
        traceback.print_exc()
        answer(result, {"error": "backend-unavailable", "module": error.name or module_name,
                        "message": str(error)})
        return 3
    for attribute in filter(None, attributes.split(".")):
        backend = getattr(backend, attribute)
    current = hook
    try:
        if hook in ("get_requires_for_build_wheel", "metadata"):
            current = "get_requires_for_build_wheel"
            function = getattr(backend, current, None)
            value = list(function({})) if function else []
            if hook == "metadata":
                answer(result + ".tmp", {"ok": value})
                os.replace(result + ".tmp", result + ".requires")
                if sys.stdin.readline().strip() != "go":
                    answer(result, {"ok": {"stopped": True}})
                    return 0
                current = "prepare_metadata_for_build_wheel"
                function = getattr(backend, current, None)
                if function is not None:
                    value = {"dist_info": function(directory, {})}
                else:
                    current = "build_wheel"
                    value = {"wheel": backend.build_wheel(directory, {}, None)}
        elif hook == "prepare_metadata_for_build_wheel":
            function = getattr(backend, hook, None)
            value = {"unsupported": True} if function is None else {"dist_info": function(directory, {})}
        elif hook == "build_wheel":
            value = {"wheel": backend.build_wheel(directory, {}, None)}
        else:
            raise SystemExit("unknown hook " + hook)
    except BaseException as error:  # the backend may raise SystemExit too
        # The backend's frames only: this runner's own frame says nothing to the user.
        traceback.print_exception(type(error), error, error.__traceback__.tb_next)
        missing = None
        cause = error
        while cause is not None and missing is None:
            if isinstance(cause, ModuleNotFoundError):
                missing = cause.name
            cause = cause.__cause__ or cause.__context__
        answer(result, {"error": "hook-failed", "hook": current, "missing_module": missing,
                        "message": "%s: %s" % (type(error).__name__, error)})
        return 4
    answer(result, {"ok": value})
    return 0


if __name__ == "__main__":
    sys.exit(main())
