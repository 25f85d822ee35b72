"""Read nbgrader notebooks and build submissions from them.

nbgrader marks cells in ``cell.metadata["nbgrader"]``:

- an autograded answer has ``solution: true, grade: false``;
- an autograder test has ``grade: true, solution: false`` and ``points``;
- a manually graded answer has ``solution: true, grade: true`` and ``points``;
- a read-only cell has ``locked: true`` and neither flag.
"""

import copy
import re

import nbformat

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"

_REGION = re.compile(
    r"^[ \t]*### BEGIN (SOLUTION|HIDDEN TESTS)[ \t]*\n(.*?)^[ \t]*### END \1[ \t]*$",
    re.MULTILINE | re.DOTALL,
)


def read(path):
    """Read a notebook as nbformat version 4."""
    return nbformat.read(str(path), as_version=4)


def write(notebook, path):
    """Write a notebook after checking it against the nbformat schema."""
    nbformat.validate(notebook)
    nbformat.write(notebook, str(path))


def nbgrader_metadata(cell):
    """Return the cell's nbgrader metadata, or an empty dict."""
    return cell.get("metadata", {}).get("nbgrader", {})


def grade_id(cell):
    return nbgrader_metadata(cell).get("grade_id")


def is_answer(cell):
    """True for any answer cell, autograded or manually graded."""
    return bool(nbgrader_metadata(cell).get("solution"))


def is_autograded_answer(cell):
    meta = nbgrader_metadata(cell)
    return bool(meta.get("solution")) and not meta.get("grade")


def is_test(cell):
    """True for an autograder test cell: graded code without an answer."""
    meta = nbgrader_metadata(cell)
    return (
        cell.cell_type == "code"
        and bool(meta.get("grade"))
        and not meta.get("solution")
    )


def is_graded(cell):
    return bool(nbgrader_metadata(cell).get("grade"))


def cells_by_grade_id(notebook):
    """Map each grade id of the notebook to its cell."""
    return {grade_id(cell): cell for cell in notebook.cells if grade_id(cell)}


def regions(source, kind):
    """Return the text of each ``### BEGIN <kind>`` ... ``### END <kind>``.

    ``kind`` is ``"SOLUTION"`` or ``"HIDDEN TESTS"``; the delimiter lines
    themselves are not part of the returned text.
    """
    return [
        match.group(2)
        for match in _REGION.finditer(source)
        if match.group(1) == kind
    ]


def without_regions(source):
    """Return ``source`` with every solution and hidden-test region removed."""
    return _REGION.sub("", source)


def strip_solution_delimiters(source):
    """Return a solution cell's source without its BEGIN/END SOLUTION lines."""
    lines = [
        line
        for line in source.splitlines()
        if line.strip() not in (BEGIN_SOLUTION, END_SOLUTION)
    ]
    return "\n".join(lines)


def fill_in(release, source):
    """Return a copy of ``release`` with every answer taken from ``source``.

    The result is what a student who wrote the reference solution submits:
    the released notebook with each answer cell, matched by grade id, holding
    the solution code without its delimiter lines. Manually graded answers
    get the model answer.
    """
    filled = copy.deepcopy(release)
    solutions = cells_by_grade_id(source)
    for cell in filled.cells:
        if not is_answer(cell):
            continue
        solution = solutions.get(grade_id(cell))
        if solution is None:
            raise KeyError(
                f"Answer cell {grade_id(cell)!r} of the release has no cell "
                "with that grade id in the source notebook: regenerate the "
                "release from source/."
            )
        cell.source = strip_solution_delimiters(solution.source)
    return filled


def replace_in_cell(notebook, cell_grade_id, old, new):
    """Return a copy of ``notebook`` with ``old`` replaced in one cell.

    Raises ValueError when ``old`` does not occur exactly once, so that a
    mutant never silently equals the reference it was made from.
    """
    changed = copy.deepcopy(notebook)
    cell = cells_by_grade_id(changed).get(cell_grade_id)
    if cell is None:
        raise KeyError(f"No cell with grade id {cell_grade_id!r}.")
    count = cell.source.count(old)
    if count != 1:
        raise ValueError(
            f"Expected the text to replace exactly once in cell "
            f"{cell_grade_id!r}, found it {count} times:\n{old}"
        )
    cell.source = cell.source.replace(old, new)
    return changed


def tests_by_answer(notebook):
    """Map each autograded answer's grade id to the test cells that follow it.

    A test cell belongs to the nearest autograded answer cell above it, which
    is how the notebooks are laid out: a task's answer, then its tests.
    """
    owned = {}
    current = None
    for cell in notebook.cells:
        if is_autograded_answer(cell):
            current = grade_id(cell)
            owned[current] = []
        elif is_test(cell) and current is not None:
            owned[current].append(grade_id(cell))
    return owned
