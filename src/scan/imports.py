"""The imports of Python files, read with Python's own parser (`ast`), for `dockgen scan`.

stdin: a JSON list of file paths. stdout: one JSON object:
  {"python": "3.11.2",
   "stdlib": [names of sys.stdlib_module_names],
   "files": [{"path": P, "imports": [[top-level module, line, optional]],
              "error": null | "line N: message"}]}

An import is optional inside a function (it runs only when called) or inside a `try:`
block (its `except` can catch the ImportError). Relative imports (`from . import x`)
and `__future__` are left out. Shipped inside dockgen (src/scan/imports.py).
"""

import ast
import json
import platform
import sys


class Imports(ast.NodeVisitor):
    def __init__(self):
        self.found = []
        self.functions = 0
        self.tries = 0

    def add(self, name, node):
        top = name.split(".")[0]
        if top and top != "__future__":
            self.found.append([top, node.lineno, self.functions > 0 or self.tries > 0])

    def visit_Import(self, node):
        for alias in node.names:
            self.add(alias.name, node)

    def visit_ImportFrom(self, node):
        if not node.level and node.module:
            self.add(node.module, node)

    def function(self, node):
        self.functions += 1
        self.generic_visit(node)
        self.functions -= 1

    visit_FunctionDef = function
    visit_AsyncFunctionDef = function
    visit_Lambda = function

    def visit_Try(self, node):
        self.tries += 1
        for statement in node.body:
            self.visit(statement)
        self.tries -= 1
        for part in node.handlers + node.orelse + node.finalbody:
            self.visit(part)

    visit_TryStar = visit_Try


def main():
    paths = json.load(sys.stdin)
    files = []
    for path in paths:
        entry = {"path": path, "imports": [], "error": None}
        try:
            with open(path, "rb") as file:
                tree = ast.parse(file.read(), filename=path)
        except SyntaxError as error:
            entry["error"] = "line %s: %s" % (error.lineno, error.msg)
        except (OSError, ValueError) as error:
            entry["error"] = str(error)
        else:
            visitor = Imports()
            visitor.visit(tree)
            entry["imports"] = visitor.found
        files.append(entry)
    json.dump(
        {
            "python": platform.python_version(),
            "stdlib": sorted(getattr(sys, "stdlib_module_names", ())),
            "files": files,
        },
        sys.stdout,
    )


main()
