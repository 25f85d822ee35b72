"""Generated classes of submissions, for the parallel grading tests and
benchmarks/parallel_grading.py.

A class cycles through the reference solution, the blank release and every
mutant of tests/grading/mutants, so its scores differ from student to
student and a mix-up between two students shows in the gradebook.
"""

from course_tools import notebooks
from course_tools.grading import Course
from tests.grading.mutants import load as load_mutants


def scratch_course(folder, problem_sets, url=None):
    """Return a released scratch course of ``problem_sets`` in ``folder``.

    ``url`` is its gradebook; by default the scratch course's SQLite file.
    The notebooks import the helpers package installed in the virtual
    environment, which reads the course's data/.
    """
    course = Course.scratch(folder, problem_sets)
    if url:
        course = Course(course.root, url=url)
    for problem_set in problem_sets:
        course.generate(problem_set)
    return course


def class_submissions(course, problem_set, size):
    """Return {student: notebook} for ``size`` generated students.

    Students are named ``<ps>-000``, ``<ps>-001``, ...; they cycle through
    the reference, the blank release and the mutants.
    """
    name = course.notebook_names(problem_set)[0]
    release = course.released_notebook(problem_set, name)
    reference = notebooks.fill_in(release, course.source_notebook(problem_set, name))
    variants = [reference, release] + [
        notebooks.replace_in_cell(reference, mutant.cell, mutant.old, mutant.new)
        for mutant in load_mutants(problem_set)
    ]
    return {
        f"{problem_set}-{number:03d}": variants[number % len(variants)]
        for number in range(size)
    }


def submit_class(course, problem_set, size):
    """Place a generated class in submitted/; return the student ids."""
    name = course.notebook_names(problem_set)[0]
    submissions = class_submissions(course, problem_set, size)
    for student, notebook in submissions.items():
        course.submit(student, problem_set, name, notebook)
    return sorted(submissions)
