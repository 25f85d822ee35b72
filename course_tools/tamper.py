"""Find code in a submission that changes what the autograder tests rely on.

A test cell passes when its asserts hold, so a student can "pass" by
weakening the asserts instead of solving the task. Examples are replacing
``np.allclose`` or a builtin such as ``isinstance``, registering an IPython
input transformer that rewrites the test cells, and returning an object
whose ``__array_function__`` returns True from every NumPy comparison.
``find_tampering`` reads the code cells that the student wrote or changed
(cells equal to a cell of the source notebook are skipped) with ``ast`` and
returns one ``Finding`` per suspicious statement. The check is static: code
built at run time, for example with ``exec``, is reported because it uses
``exec``, not because of what it does.
"""

import ast
import builtins
from dataclasses import dataclass

from IPython.core.inputtransformer2 import TransformerManager

from . import notebooks

# Modules whose attributes a test may call; rebinding or assigning to them
# is reported however they were imported.
WATCHED_MODULES = {"numpy", "torch", "builtins", "math", "sys", "scipy", "unittest"}

# Calls that run code the static check cannot see, or reach into other
# objects' state.
HIDDEN_CODE_CALLS = {"exec", "eval", "compile", "globals", "vars", "breakpoint"}
HIDDEN_CODE_MODULES = {"importlib", "ctypes", "gc", "inspect", "builtins", "__builtin__"}

# Methods whose definition lets an object decide the result of NumPy's or
# PyTorch's comparisons itself.
OVERRIDE_HOOKS = {"__array_function__", "__array_ufunc__", "__torch_function__",
                  "__torch_dispatch__"}

# IPython magics that only measure or show something.
HARMLESS_MAGICS = {"time", "timeit", "matplotlib", "who", "whos", "pinfo", "pinfo2",
                   "lsmagic", "pwd", "ls", "precision", "psearch"}
SHELL_CALLS = {"system", "getoutput"}


@dataclass(frozen=True)
class Finding:
    """One statement of a student's cell that may change the tests."""

    cell: str  # the grade id, or "cell N" for a cell without one
    line: int
    message: str

    def __str__(self):
        return f"{self.cell}, line {self.line}: {self.message}"


def _root_name(node):
    """Return the name at the start of ``a.b.c`` or ``a[0].b``, or None."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


class _Checker(ast.NodeVisitor):
    def __init__(self, protected_names, module_aliases):
        self.protected = protected_names
        self.modules = module_aliases
        self.findings = []  # (line, message)
        self.depth = 0  # > 0 inside a function or class body

    def report(self, node, message):
        self.findings.append((getattr(node, "lineno", 0), message))

    # Imports: remember module aliases, report the hidden-code modules.
    def visit_Import(self, node):
        for alias in node.names:
            top = alias.name.split(".")[0]
            if top in HIDDEN_CODE_MODULES:
                self.report(node, f"imports {alias.name}, which can change any object")
            if top in WATCHED_MODULES or top in self.modules.values():
                self.modules[alias.asname or top] = top
            else:
                self._check_binding(node, alias.asname or top)

    def visit_ImportFrom(self, node):
        top = (node.module or "").split(".")[0]
        if top in HIDDEN_CODE_MODULES:
            self.report(node, f"imports from {node.module}, which can change any object")
        for alias in node.names:
            self._check_binding(node, alias.asname or alias.name)

    # Bindings of names and assignments to attributes.
    def visit_Assign(self, node):
        for target in node.targets:
            self._check_target(node, target)
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self._check_target(node, node.target)
        self.generic_visit(node)

    def visit_AnnAssign(self, node):
        self._check_target(node, node.target)
        self.generic_visit(node)

    def visit_Delete(self, node):
        for target in node.targets:
            self._check_target(node, target, verb="deletes")
        self.generic_visit(node)

    def visit_For(self, node):
        self._check_target(node, node.target)
        self.generic_visit(node)

    def visit_With(self, node):
        for item in node.items:
            if item.optional_vars is not None:
                self._check_target(node, item.optional_vars)
        self.generic_visit(node)

    def visit_NamedExpr(self, node):
        self._check_target(node, node.target)
        self.generic_visit(node)

    def visit_Global(self, node):
        for name in node.names:
            if name in self.protected or name in self.modules:
                self.report(node, f"declares {name} global, to rebind it from a function")

    def visit_FunctionDef(self, node):
        self._check_binding(node, node.name)
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        self._check_binding(node, node.name)
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name in OVERRIDE_HOOKS:
                self.report(item, f"defines {item.name}, which lets an object decide "
                                  "the result of NumPy or PyTorch comparisons")
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    # Names and calls.
    def visit_Name(self, node):
        if node.id in ("__builtins__", "__builtin__"):
            self.report(node, f"uses {node.id}, which holds every builtin")

    def visit_Attribute(self, node):
        dotted = _dotted(node)
        if dotted in ("sys.modules", "sys.settrace", "sys.setprofile", "sys.meta_path"):
            self.report(node, f"uses {dotted}")
        if node.attr in ("__dict__", "__globals__", "__code__", "__class__"):
            root = _root_name(node)
            if root in self.modules or root in self.protected:
                self.report(node, f"uses {dotted}")
        self.generic_visit(node)

    def visit_Call(self, node):
        function = node.func
        if isinstance(function, ast.Name) and function.id in HIDDEN_CODE_CALLS:
            self.report(node, f"calls {function.id}()")
        if isinstance(function, ast.Name) and function.id in ("setattr", "delattr"):
            self._check_setattr(node, function.id)
        if isinstance(function, ast.Attribute) and _is_get_ipython(function.value):
            # A magic or shell command: check it, but not the inner call.
            self._check_ipython_call(node, function.attr)
            for child in node.args + [keyword.value for keyword in node.keywords]:
                self.visit(child)
            return
        if _is_get_ipython(node):
            self.report(node, "calls get_ipython(), which can change how every "
                              "later cell runs")
        self.generic_visit(node)

    def _check_setattr(self, node, verb):
        target = node.args[0] if node.args else None
        if isinstance(target, ast.Name) and target.id not in self.modules \
                and target.id not in self.protected:
            return  # an object of the student's own, such as self
        name = _dotted(target) if target is not None else ""
        self.report(node, f"calls {verb}() on {name or 'a computed object'}")

    def _check_ipython_call(self, node, method):
        if method in SHELL_CALLS:
            return
        if method in ("run_line_magic", "run_cell_magic") and node.args:
            magic = node.args[0]
            if isinstance(magic, ast.Constant) and magic.value in HARMLESS_MAGICS:
                return
            name = magic.value if isinstance(magic, ast.Constant) else "?"
            self.report(node, f"runs the IPython magic %{name}")
            return
        self.report(node, f"calls get_ipython().{method}, which can change how "
                          "every later cell runs")

    def visit_Lambda(self, node):
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    def _check_target(self, node, target, verb="assigns to"):
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._check_target(node, element, verb)
            return
        if isinstance(target, ast.Starred):
            self._check_target(node, target.value, verb)
            return
        if isinstance(target, ast.Name):
            self._check_binding(node, target.id)
            return
        root = _root_name(target)
        if root == "__import__":
            self.report(node, f"{verb} an attribute of a module loaded with "
                              "__import__(), which may be one the tests use")
        elif root in self.modules:
            self.report(node, f"{verb} {_dotted(target) or root + '[...]'}, part of "
                              f"the module {self.modules[root]} that the tests use")
        elif root in self.protected:
            self.report(node, f"{verb} an attribute of {root}, which the tests use")

    def _check_binding(self, node, name):
        if self.depth:
            return
        if name in self.modules:
            self.report(node, f"rebinds {name}, the module {self.modules[name]} "
                              "that the tests use")
        elif name in self.protected:
            self.report(node, f"rebinds {name}, which the tests use")


def _is_get_ipython(node):
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "get_ipython")


def names_read_by_tests(source_notebook):
    """Return the builtin names that the source's test cells read.

    Only builtins count: the student defines the graded functions and may
    shadow other helpers of their own.
    """
    names = set()
    for cell in source_notebook.cells:
        if not notebooks.is_test(cell):
            continue
        try:
            tree = ast.parse(_as_python(cell.source))
        except SyntaxError:
            continue
        names.update(
            node.id for node in ast.walk(tree)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
        )
    return {name for name in names if hasattr(builtins, name)} | {"AssertionError", "print"}


def module_aliases(source_notebook):
    """Return {alias: top-level module} of every import in the source."""
    aliases = {}
    for cell in source_notebook.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(_as_python(cell.source))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    aliases[alias.asname or alias.name.split(".")[0]] = alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module:
                top = node.module.split(".")[0]
                for alias in node.names:
                    aliases[alias.asname or alias.name] = top
    return aliases


def _as_python(source):
    """Return cell source with IPython syntax (magics, !) as Python calls."""
    return TransformerManager().transform_cell(source)


def find_tampering(submitted, source_notebook):
    """Return the Findings in the student's own code cells of ``submitted``.

    Test cells are skipped where nbgrader replaces them with the source: of
    the cells that carry a test's grade id, nbgrader keeps the last one
    (DeduplicateIds) and runs the earlier ones as plain code, which is
    checked like any code of the student's.
    """
    source_texts = {cell.source.strip() for cell in source_notebook.cells}
    tests = {notebooks.grade_id(cell) for cell in source_notebook.cells
             if notebooks.is_test(cell)}
    replaced = {}
    for number, cell in enumerate(submitted.cells):
        if notebooks.grade_id(cell) in tests:
            replaced[notebooks.grade_id(cell)] = number
    replaced = set(replaced.values())

    protected = names_read_by_tests(source_notebook)
    aliases = module_aliases(source_notebook)
    findings = []
    for number, cell in enumerate(submitted.cells):
        if (cell.cell_type != "code" or number in replaced
                or cell.source.strip() in source_texts):
            continue
        label = notebooks.grade_id(cell) or f"cell {number + 1}"
        try:
            tree = ast.parse(_as_python(cell.source))
        except SyntaxError:
            continue  # it fails when it runs, so it changes nothing
        checker = _Checker(protected, dict(aliases))
        checker.visit(tree)
        findings.extend(Finding(label, line, message) for line, message in checker.findings)
    return findings
