"""The tampering check: honest code passes, each trick is reported.

A false report costs a student every autograded point until an instructor
overrides it, so the references and every mutant of every problem set must
pass. Tricks that a test cannot otherwise catch must be reported.
"""

import copy

import pytest

from course_tools import RELEASE_DIR, SOURCE_DIR, notebooks, problem_sets
from course_tools.tamper import find_tampering
from tests.grading import mutants as mutant_tables

PROBLEM_SETS = problem_sets()


def _notebooks(problem_set):
    for source_path in sorted((SOURCE_DIR / problem_set).glob("*.ipynb")):
        source = notebooks.read(source_path)
        release = notebooks.read(RELEASE_DIR / problem_set / source_path.name)
        yield source, release, notebooks.fill_in(release, source)


@pytest.mark.parametrize("problem_set", PROBLEM_SETS)
def test_reference_and_release_pass(problem_set):
    for source, release, reference in _notebooks(problem_set):
        assert find_tampering(reference, source) == []
        assert find_tampering(release, source) == []


@pytest.mark.parametrize("problem_set", PROBLEM_SETS)
def test_mutants_pass(problem_set):
    for source, _, reference in _notebooks(problem_set):
        graded_cells = notebooks.cells_by_grade_id(reference)
        for mutant in mutant_tables.load(problem_set):
            if mutant.cell not in graded_cells:
                continue
            mutated = notebooks.replace_in_cell(reference, mutant.cell, mutant.old, mutant.new)
            assert find_tampering(mutated, source) == [], mutant.name


def _ex12_with(code, grade_id="sigmoid"):
    source = notebooks.read(SOURCE_DIR / "ex12" / "ex12.ipynb")
    release = notebooks.read(RELEASE_DIR / "ex12" / "ex12.ipynb")
    reference = notebooks.fill_in(release, source)
    cell = notebooks.cells_by_grade_id(reference)[grade_id]
    cell.source += "\n" + code
    return reference, source


TRICKS = {
    "numpy attribute": "np.allclose = lambda *a, **k: True",
    "nested attribute": "np.testing.assert_allclose = print",
    "numpy imported again": "import numpy\nnumpy.isclose = max",
    "setattr on numpy": "setattr(np, 'allclose', max)",
    "builtins module": "import builtins",
    "builtins dict": "__builtins__['isinstance'] = max",
    "builtin the tests use": "def isinstance(*args):\n    return True",
    "module rebound": "class Fake:\n    pass\nnp = Fake()",
    "global rebinding": "def f():\n    global np\n    np = None",
    "exec": "exec('np.allclose = max')",
    "input transformer": "ip = get_ipython()\nip.input_transformers_cleanup.append(len)",
    "event hook": "get_ipython().events.register('pre_run_cell', print)",
    "array function": "class A:\n    def __array_function__(self, *args):\n        return True",
    "sys modules": "import sys\nsys.modules['numpy'].allclose = max",
    "ctypes": "import ctypes",
    "__import__ attribute": "__import__('numpy').allclose = max",
    "setattr on __import__": "setattr(__import__('builtins'), 'print', max)",
    "load_ext magic": "%load_ext something",
}

HONEST = {
    "local helper": "def helper(t):\n    total = sum(t)\n    return total",
    "own class setattr": "class Box:\n    def __init__(self):\n        setattr(self, 'x', 1)",
    "timeit magic": "%timeit sigmoid(0.0)",
    "shell command": "!ls",
    "printing": "print(np.allclose(sigmoid(0.0), 0.5))",
    "local numpy name": "def f():\n    np = 3\n    return np",
    "stderr via __import__": "print('debug', file=__import__('sys').stderr)",
}


@pytest.mark.parametrize("code", TRICKS.values(), ids=TRICKS.keys())
def test_trick_is_reported(code):
    submitted, source = _ex12_with(code)

    findings = find_tampering(submitted, source)

    assert findings, f"not reported: {code!r}"
    assert all(finding.cell == "sigmoid" for finding in findings)


@pytest.mark.parametrize("code", HONEST.values(), ids=HONEST.keys())
def test_honest_code_passes(code):
    submitted, source = _ex12_with(code)

    assert find_tampering(submitted, source) == []


def test_tampering_in_a_copied_test_cell_is_reported():
    submitted, source = _ex12_with("")
    cells = submitted.cells
    index = next(number for number, cell in enumerate(cells)
                 if notebooks.grade_id(cell) == "test_sigmoid")
    copied = copy.deepcopy(cells[index])
    copied.source = "np.allclose = lambda *a, **k: True"
    copied.id = "copied-test"
    # nbgrader keeps the last cell with a grade id and runs the earlier one
    # as plain code, so the copy goes first.
    cells.insert(index, copied)

    findings = find_tampering(submitted, source)

    assert [finding.cell for finding in findings] == ["test_sigmoid"]
