"""Shared fixtures: one nbgrader grading run per problem set, made on demand.

Grading a problem set means a scratch course with nbgrader's own
generate_assignment and autograde, and submissions from three kinds of
student: the reference solution, the untouched release, and every mutant of
tests/grading/mutants/. The run is made once per test session and shared by
the round-trip tests and the tests that read figures from the executed
reference notebook.
"""

from dataclasses import dataclass

import pytest

from course_tools import problem_sets
from course_tools import notebooks
from course_tools.grading import Course
from tests.grading import mutants as mutant_tables

REFERENCE = "reference"
BLANK = "release"


@dataclass
class GradingRun:
    course: Course
    problem_set: str
    mutants: list

    def scores(self, student):
        """Return {grade id: CellScore} over all notebooks of the set."""
        merged = {}
        for name in self.course.notebook_names(self.problem_set):
            merged.update(self.course.cell_scores(self.problem_set, name, student))
        return merged

    def autograded_notebooks(self, student):
        return [
            self.course.autograded_notebook(self.problem_set, name, student)
            for name in self.course.notebook_names(self.problem_set)
        ]

    def output_text(self, student):
        """Return the text of every stream and plain-text output, joined."""
        parts = []
        for notebook in self.autograded_notebooks(student):
            for cell in notebook.cells:
                for output in cell.get("outputs", []):
                    if output.get("output_type") == "stream":
                        parts.append(output.get("text", ""))
                    elif "data" in output:
                        parts.append(output["data"].get("text/plain", ""))
        return "\n".join(parts)


def _notebook_holding(course, problem_set, grade_id):
    for name in course.notebook_names(problem_set):
        source = course.source_notebook(problem_set, name)
        if grade_id in notebooks.cells_by_grade_id(source):
            return name
    raise KeyError(f"No notebook of {problem_set} has a cell {grade_id!r}.")


def grade_problem_set(folder, problem_set):
    """Generate, submit and autograde one problem set in ``folder``."""
    course = Course.scratch(folder, [problem_set])
    course.generate(problem_set)
    mutants = mutant_tables.load(problem_set)

    references = {}
    for name in course.notebook_names(problem_set):
        released = course.released_notebook(problem_set, name)
        reference = notebooks.fill_in(released, course.source_notebook(problem_set, name))
        references[name] = reference
        course.submit(REFERENCE, problem_set, name, reference)
        course.submit(BLANK, problem_set, name, released)

    for mutant in mutants:
        mutated_name = _notebook_holding(course, problem_set, mutant.cell)
        for name, reference in references.items():
            notebook = reference
            if name == mutated_name:
                notebook = notebooks.replace_in_cell(reference, mutant.cell, mutant.old, mutant.new)
            course.submit(mutant.name, problem_set, name, notebook)

    students = [REFERENCE, BLANK] + [mutant.name for mutant in mutants]
    course.autograde(problem_set, students=students)
    return GradingRun(course, problem_set, mutants)


class GradingRuns:
    """Grading runs made on first use and kept for the session."""

    def __init__(self, factory):
        self._factory = factory
        self._runs = {}

    def __call__(self, problem_set):
        if problem_set not in self._runs:
            folder = self._factory.mktemp(f"grading-{problem_set}")
            self._runs[problem_set] = grade_problem_set(folder, problem_set)
        return self._runs[problem_set]


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """Return a function: problem set name -> its GradingRun."""
    return GradingRuns(tmp_path_factory)


@pytest.fixture(scope="session")
def all_problem_sets():
    return problem_sets()
