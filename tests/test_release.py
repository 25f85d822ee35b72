"""Releases are fresh, leak nothing, and every notebook follows the rules.

Freshness and leaks are checked against nbgrader's real generate_assignment
in scratch courses; the hygiene checks read the committed notebooks.
"""

import ast
import re

import pytest

from course_tools import RELEASE_DIR, ROOT, SOURCE_DIR, leaks, notebooks, problem_sets
from course_tools.grading import Course
from course_tools.release import canonical, release

PROBLEM_SETS = problem_sets()
SUCCESS_MESSAGE = "Your implementation is correct!"


def _notebook_paths(folder):
    return sorted(folder.glob("*.ipynb"))


def _all_notebooks(problem_set):
    """Yield (label, notebook) for the source, release and student copies."""
    for folder in (SOURCE_DIR / problem_set, RELEASE_DIR / problem_set, ROOT / problem_set):
        for path in _notebook_paths(folder):
            yield str(path.relative_to(ROOT)), notebooks.read(path)


@pytest.fixture(scope="session")
def fresh_course(tmp_path_factory):
    """A scratch course with every problem set generated from source/."""
    course = Course.scratch(tmp_path_factory.mktemp("fresh"), PROBLEM_SETS)
    release(PROBLEM_SETS, root=course.root)
    return course


# Freshness -----------------------------------------------------------------


@pytest.mark.parametrize("problem_set", PROBLEM_SETS)
def test_release_matches_fresh_generation(problem_set, fresh_course):
    fresh_folder = fresh_course.root / "release" / problem_set
    for committed_folder in (RELEASE_DIR / problem_set, ROOT / problem_set):
        fresh_names = [path.name for path in sorted(fresh_folder.iterdir())]
        committed_names = [path.name for path in sorted(committed_folder.iterdir())]
        assert committed_names == fresh_names, (
            f"{committed_folder.relative_to(ROOT)} holds {committed_names}, a fresh "
            f"generation holds {fresh_names}: run `make release`"
        )
        for name in fresh_names:
            fresh = canonical(notebooks.read(fresh_folder / name))
            committed = canonical(notebooks.read(committed_folder / name))
            assert committed == fresh, (
                f"{committed_folder.relative_to(ROOT)}/{name} differs from a fresh "
                "generation from source/: run `make release` and commit the result"
            )


# Leaks ---------------------------------------------------------------------

_BEGIN = re.compile(r"^([ \t]*)### BEGIN (SOLUTION|HIDDEN TESTS|MARK SCHEME)[ \t]*$")


def plant_markers(source, make_marker):
    """Return ``source`` with a fresh marker line inside every region."""
    lines = source.split("\n")
    planted = []
    for line in lines:
        planted.append(line)
        match = _BEGIN.match(line)
        if match:
            planted.append(f"{match.group(1)}# {make_marker()}")
    return "\n".join(planted)


@pytest.fixture(scope="session")
def planted_course(tmp_path_factory):
    """Generate every problem set from sources with planted markers.

    Returns the course and the list of markers planted.
    """
    course = Course.scratch(tmp_path_factory.mktemp("planted"), PROBLEM_SETS)
    markers = []

    def make_marker():
        markers.append(f"LEAK-MARKER-{len(markers):04d}-7f3a")
        return markers[-1]

    for problem_set in PROBLEM_SETS:
        for path in _notebook_paths(course.root / "source" / problem_set):
            notebook = notebooks.read(path)
            for cell in notebook.cells:
                cell.source = plant_markers(cell.source, make_marker)
            notebooks.write(notebook, path)
    release(PROBLEM_SETS, root=course.root)
    return course, markers


def test_markers_were_planted_in_every_region(planted_course):
    course, markers = planted_course
    regions = 0
    for problem_set in PROBLEM_SETS:
        for path in _notebook_paths(SOURCE_DIR / problem_set):
            for cell in notebooks.read(path).cells:
                regions += len(notebooks.regions(cell.source, "SOLUTION"))
                regions += len(notebooks.regions(cell.source, "HIDDEN TESTS"))
    assert regions > 0
    assert len(markers) >= regions


def test_no_marker_in_generated_files(planted_course):
    course, markers = planted_course
    generated = [course.root / "release"] + [course.root / name for name in PROBLEM_SETS]
    files = [path for folder in generated for path in folder.rglob("*") if path.is_file()]
    assert files, "the planted generation produced no files"
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        leaked = [marker for marker in markers if marker in text]
        assert not leaked, (
            f"{path.relative_to(course.root)} contains {len(leaked)} marker(s) "
            f"from solution or hidden-test regions, e.g. {leaked[0]}"
        )


@pytest.mark.parametrize("problem_set", PROBLEM_SETS)
def test_committed_files_hold_no_solution_lines(problem_set):
    found = leaks.release_leaks(ROOT, [problem_set])
    assert not found, (
        f"{len(found)} line(s) of solutions or hidden tests in generated or "
        f"student files:\n{leaks.format_leaks(found)}"
    )


# Hygiene -------------------------------------------------------------------


@pytest.mark.parametrize("problem_set", PROBLEM_SETS)
def test_kernelspec_is_python3(problem_set):
    for label, notebook in _all_notebooks(problem_set):
        kernel = notebook.metadata.get("kernelspec", {}).get("name")
        assert kernel == "python3", f"{label} has kernelspec {kernel!r}, expected 'python3'"


@pytest.mark.parametrize("problem_set", PROBLEM_SETS)
def test_grade_and_cell_ids_unique(problem_set):
    for label, notebook in _all_notebooks(problem_set):
        grade_ids = [notebooks.grade_id(cell) for cell in notebook.cells if notebooks.grade_id(cell)]
        duplicates = sorted({name for name in grade_ids if grade_ids.count(name) > 1})
        assert not duplicates, f"{label} repeats grade ids {duplicates}"
        cell_ids = [cell.get("id") for cell in notebook.cells]
        assert None not in cell_ids, f"{label} has cells without an id"
        assert len(set(cell_ids)) == len(cell_ids), f"{label} repeats cell ids"


@pytest.mark.parametrize("problem_set", PROBLEM_SETS)
def test_graded_cells_have_points(problem_set):
    for path in _notebook_paths(SOURCE_DIR / problem_set):
        for cell in notebooks.read(path).cells:
            if not notebooks.is_graded(cell):
                continue
            points = notebooks.nbgrader_metadata(cell).get("points")
            assert isinstance(points, (int, float)) and points > 0, (
                f"{path.name}: graded cell {notebooks.grade_id(cell)} has points {points!r}"
            )


@pytest.mark.parametrize("problem_set", PROBLEM_SETS)
def test_release_has_no_outputs(problem_set):
    for folder in (RELEASE_DIR / problem_set, ROOT / problem_set):
        for path in _notebook_paths(folder):
            for cell in notebooks.read(path).cells:
                if cell.cell_type != "code":
                    continue
                assert cell.outputs == [], (
                    f"{path.relative_to(ROOT)}: cell {cell.get('id')} has stored outputs"
                )
                assert cell.execution_count is None, (
                    f"{path.relative_to(ROOT)}: cell {cell.get('id')} has an execution count"
                )


@pytest.mark.parametrize("problem_set", PROBLEM_SETS)
def test_answer_cells_have_solution_regions(problem_set):
    for path in _notebook_paths(SOURCE_DIR / problem_set):
        for cell in notebooks.read(path).cells:
            if notebooks.is_answer(cell):
                assert len(notebooks.regions(cell.source, "SOLUTION")) >= 1, (
                    f"{path.name}: answer cell {notebooks.grade_id(cell)} has no "
                    "### BEGIN SOLUTION ... ### END SOLUTION region"
                )
    for path in _notebook_paths(RELEASE_DIR / problem_set):
        for cell in notebooks.read(path).cells:
            if notebooks.is_autograded_answer(cell):
                assert "raise NotImplementedError()" in cell.source, (
                    f"release {path.name}: answer cell {notebooks.grade_id(cell)} "
                    "does not raise NotImplementedError"
                )


def _is_bare_number(statement):
    if not isinstance(statement, ast.Expr):
        return False
    value = statement.value
    if isinstance(value, ast.UnaryOp):
        value = value.operand
    return isinstance(value, ast.Constant) and isinstance(value.value, (int, float))


def _test_cells(problem_set):
    for path in _notebook_paths(SOURCE_DIR / problem_set):
        for cell in notebooks.read(path).cells:
            if notebooks.is_test(cell):
                yield path.name, cell


@pytest.mark.parametrize("problem_set", PROBLEM_SETS)
def test_test_cells_follow_the_rules(problem_set):
    for name, cell in _test_cells(problem_set):
        label = f"{name}: test cell {notebooks.grade_id(cell)}"
        meta = notebooks.nbgrader_metadata(cell)
        source = cell.source

        assert meta.get("locked") is True, f"{label} is not locked"
        assert source.lstrip().startswith("#"), (
            f"{label} should open with a comment saying what it checks"
        )
        assert source.count(notebooks.BEGIN_HIDDEN) == source.count(notebooks.END_HIDDEN), (
            f"{label} has unbalanced hidden-test delimiters"
        )
        assert SUCCESS_MESSAGE in source, f"{label} does not print {SUCCESS_MESSAGE!r}"

        tree = ast.parse(source)
        assert tree.body, f"{label} is empty"
        last = tree.body[-1]
        assert (
            isinstance(last, ast.Expr)
            and isinstance(last.value, ast.Call)
            and getattr(last.value.func, "id", None) == "print"
            and SUCCESS_MESSAGE in (ast.get_source_segment(source, last) or "")
        ), (
            f"{label} should end by printing {SUCCESS_MESSAGE!r}, after the "
            "hidden tests, so the message appears only when every check passed"
        )
        assert not _is_bare_number(tree.body[-1]), (
            f"{label} ends in a bare number, which nbgrader reads as a score"
        )
        for node in ast.walk(tree):
            if isinstance(node, ast.Try):
                assert not node.handlers, (
                    f"{label} catches exceptions with try/except, which can "
                    "turn a failing test into full points"
                )


_POINTS = re.compile(r"\((\d+(?:\.\d+)?) points?\b")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")


def _headings_and_graded_cells(notebook):
    """Yield ("heading", level, text) and ("graded", grade id, points) in order."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and not notebooks.is_answer(cell):
            in_fence = False
            for line in cell.source.splitlines():
                if line.startswith("```"):
                    in_fence = not in_fence
                match = _HEADING.match(line)
                if match and not in_fence:
                    yield "heading", len(match.group(1)), match.group(2).strip()
        if notebooks.is_graded(cell):
            points = float(notebooks.nbgrader_metadata(cell)["points"])
            yield "graded", notebooks.grade_id(cell), points


@pytest.mark.parametrize("problem_set", PROBLEM_SETS)
def test_headings_state_the_points_below_them(problem_set):
    """A heading "(N points)" covers the graded cells up to the next heading
    of the same or a higher level, and their points add up to N."""
    for path in _notebook_paths(SOURCE_DIR / problem_set):
        open_headings = []  # [level, text, stated points, counted points]
        finished = []
        for kind, first, second in _headings_and_graded_cells(notebooks.read(path)):
            if kind == "heading":
                level, text = first, second
                while open_headings and open_headings[-1][0] >= level:
                    finished.append(open_headings.pop())
                match = _POINTS.search(text)
                if match:
                    open_headings.append([level, text, float(match.group(1)), 0.0])
                continue
            grade_id, points = first, second
            assert open_headings, (
                f"{path.name}: graded cell {grade_id} has no task heading "
                "with its points above it"
            )
            for heading in open_headings:
                heading[3] += points
        finished.extend(open_headings)
        for _, text, stated, counted in finished:
            assert stated == counted, (
                f"{path.name}: heading {text!r} states {stated:g} points, "
                f"the graded cells below it have {counted:g}"
            )


@pytest.mark.parametrize("problem_set", PROBLEM_SETS)
def test_prose_before_every_code_cell(problem_set):
    for path in _notebook_paths(SOURCE_DIR / problem_set):
        previous = None
        for cell in notebooks.read(path).cells:
            if cell.cell_type == "code" and not notebooks.is_test(cell):
                assert previous is not None and previous.cell_type == "markdown", (
                    f"{path.name}: code cell {cell.get('id')} has no markdown "
                    "cell right before it"
                )
            previous = cell



def _bound_names(statements):
    """Return the names that ``statements`` bind at module level.

    Names assigned in a ``finally`` block are the swap-and-restore pattern
    of the tests and do not count. Function and class bodies are skipped.
    """
    bound, restored = set(), set()

    def visit(node, in_finally):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            (restored if in_finally else bound).add(node.name)
            return
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            (restored if in_finally else bound).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = {(alias.asname or alias.name).split(".")[0] for alias in node.names}
            (restored if in_finally else bound).update(names)
        if isinstance(node, ast.Try):
            for child in node.body + node.handlers + node.orelse:
                visit(child, in_finally)
            for child in node.finalbody:
                visit(child, True)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, in_finally)

    for statement in statements:
        visit(statement, False)
    return bound - restored


def _loaded_names(statements):
    """Return the global names that ``statements`` read.

    Inside a function, the names it assigns or takes as parameters are its
    own locals and do not count.
    """
    loaded = set()
    for statement in statements:
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                loaded.add(node.id)
    local_names = set()
    for statement in statements:
        for node in ast.walk(statement):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                arguments = node.args
                every_argument = (
                    arguments.posonlyargs + arguments.args + arguments.kwonlyargs
                    + [argument for argument in (arguments.vararg, arguments.kwarg) if argument]
                )
                local_names |= {argument.arg for argument in every_argument}
                body = node.body if isinstance(node.body, list) else [node.body]
                local_names |= {
                    inner.id
                    for part in body
                    for inner in ast.walk(part)
                    if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Store)
                }
    return loaded - (local_names - _bound_names(statements))


def _code_cells(path):
    """Yield (cell, parsed statements) of the code cells, magics removed."""
    for cell in notebooks.read(path).cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(
            line for line in cell.source.splitlines()
            if not line.lstrip().startswith(("%", "!"))
        )
        yield cell, ast.parse(source).body


@pytest.mark.parametrize("problem_set", PROBLEM_SETS)
def test_tests_leave_notebook_variables_alone(problem_set):
    """A test cell must not rebind a variable that a later cell reads.

    Hidden tests run only in grading, so a rebound name (a learning rate, a
    model) changes what later cells compute for the grader but not for the
    student.
    """
    for path in _notebook_paths(SOURCE_DIR / problem_set):
        cells = list(_code_cells(path))
        for position, (cell, statements) in enumerate(cells):
            if not notebooks.is_test(cell):
                continue
            rebound = _bound_names(statements)
            for later, later_statements in cells[position + 1:]:
                if notebooks.is_test(later):
                    continue
                later_binds = _bound_names(later_statements)
                read_first = (rebound & _loaded_names(later_statements)) - later_binds
                assert not read_first, (
                    f"{path.name}: test cell {notebooks.grade_id(cell)} rebinds "
                    f"{sorted(read_first)}, which cell {later.get('id')} reads "
                    "afterwards; give the test's variables names of their own "
                    "or restore them in a finally block"
                )
                rebound -= later_binds
