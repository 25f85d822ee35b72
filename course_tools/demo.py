"""Autograde two built-in submissions of every problem set and print a table.

The submissions are the reference solution (the release filled in from
source/) and the untouched release. They are graded with nbgrader in a
scratch course under .scratch/demo/, so the instructor's gradebook is never
written. The reference must get every autograded point and the release none.
"""

import logging

from . import ROOT
from . import notebooks
from .grading import Course, autograded_total

logger = logging.getLogger(__name__)

REFERENCE = "reference"
BLANK = "release"
SCRATCH = ROOT / ".scratch" / "demo"


def submit_demo(course, problem_set):
    """Place the reference and the blank release as two submissions."""
    for name in course.notebook_names(problem_set):
        released = course.released_notebook(problem_set, name)
        source = course.source_notebook(problem_set, name)
        course.submit(REFERENCE, problem_set, name, notebooks.fill_in(released, source))
        course.submit(BLANK, problem_set, name, released)


def grade_demo(problem_sets, folder=SCRATCH):
    """Return rows (problem set, student, scored, available) of the demo."""
    course = Course.scratch(folder, problem_sets)
    rows = []
    for problem_set in problem_sets:
        logger.info("Grading the demo submissions of %s", problem_set)
        course.generate(problem_set)
        submit_demo(course, problem_set)
        course.autograde(problem_set, students=[REFERENCE, BLANK])
        for student in (REFERENCE, BLANK):
            scored = available = 0.0
            for name in course.notebook_names(problem_set):
                cell_scores = course.cell_scores(problem_set, name, student)
                notebook_scored, notebook_available = autograded_total(cell_scores)
                scored += notebook_scored
                available += notebook_available
            rows.append((problem_set, student, scored, available))
    return rows


def format_table(rows):
    """Format the demo rows as a fixed-width table with a verdict column."""
    lines = [
        f"{'problem set':<12} {'submission':<11} {'autograded':>12}  check",
        f"{'-' * 12} {'-' * 11} {'-' * 12}  {'-' * 5}",
    ]
    for problem_set, student, scored, available in rows:
        lines.append(
            f"{problem_set:<12} {student:<11} "
            f"{f'{scored:g} / {available:g}':>12}  "
            f"{'ok' if demo_row_ok(student, scored, available) else 'WRONG'}"
        )
    return "\n".join(lines)


def demo_row_ok(student, scored, available):
    """The reference must get every point and the blank release none."""
    if available <= 0:
        return False
    if student == REFERENCE:
        return scored == available
    return scored == 0
