"""Student and instructor commands on a small class of ex12 submissions.

One scratch course goes through a term with the real ``python -m
course_tools`` commands, nbgrader and a kernel: release, collect from a zip,
autograde, feedback and the grades export. The tests then read what those
commands printed and wrote. The class is the reference, the blank release,
four mutants of tests/grading/mutants/ex12.py, a correct answer that
writes to stderr and one truncated notebook.
"""

import csv
import html
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from course_tools import ROOT, leaks, notebooks
from course_tools.grading import Course
from tests.grading.mutants import load as load_mutants

pytestmark = pytest.mark.grading

PROBLEM_SET = "ex12"
REFERENCE = "reference"
BLANK = "blank"
BROKEN = "broken-json"
# Correct code that prints a debug line to stderr in simple_backpropagation,
# which only the last test calls: nbgrader fails that test cell.
STDERR = "stderr-debug"
STDERR_OLD = "delta_2 = (y_hat - y) * grad_sigmoid(z_2)"
STDERR_NEW = (
    "delta_2 = (y_hat - y) * grad_sigmoid(z_2)\n"
    "    print('debug', delta_2, file=__import__('sys').stderr)"
)
# Mutants with different mistakes: one task lost, two tasks lost, a task in
# the middle, the last task.
MUTANT_NAMES = [
    "sigmoid-overflows-to-nan",
    "grad-sigmoid-wrong-sign",
    "feed-forward-output-as-array",
    "backprop-missing-derivative",
]
STUDENT_FILES = ["helpers", "course_tools", "pyproject.toml", "requirements.txt",
                 "environment.yml"]


def course_tools(root, *arguments, cwd=ROOT):
    """Run ``python -m course_tools --root ROOT ...``; return the result."""
    return subprocess.run(
        [sys.executable, "-m", "course_tools", "--quiet", "--root", str(root), *arguments],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=cwd,
    )


def output_of(result):
    return result.stdout + result.stderr


@dataclass
class GradedClass:
    course: Course
    submissions: dict  # student -> notebook as submitted
    loses: dict  # student -> grade ids of the test cells it must lose
    zip_path: Path
    collected: subprocess.CompletedProcess
    autograded: subprocess.CompletedProcess
    feedback: subprocess.CompletedProcess
    grades: subprocess.CompletedProcess
    grades_csv: Path


def _lms_zip(path, submissions, broken_text):
    """Write the zip that a learning-management system would download."""
    with zipfile.ZipFile(path, "w") as archive:
        for number, (student, notebook) in enumerate(sorted(submissions.items())):
            name = f"{PROBLEM_SET} submissions/{student}_{4700 + number}_{PROBLEM_SET}.ipynb"
            archive.writestr(name, nbformat.writes(notebook))
        archive.writestr(f"{PROBLEM_SET} submissions/{BROKEN}_4799_{PROBLEM_SET}.ipynb", broken_text)
        archive.writestr(f"{PROBLEM_SET} submissions/index.html", "<html></html>")


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """Release, collect, autograde, give feedback and export one class."""
    folder = tmp_path_factory.mktemp("workflows")
    course = Course.scratch(folder / "course", [PROBLEM_SET])
    for name in STUDENT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, course.root / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, course.root / name)
    released = course_tools(course.root, "release", PROBLEM_SET)
    assert released.returncode == 0, output_of(released)
    assert "Leak check passed" in released.stdout

    release = course.released_notebook(PROBLEM_SET, PROBLEM_SET)
    reference = notebooks.fill_in(release, course.source_notebook(PROBLEM_SET, PROBLEM_SET))
    submissions = {REFERENCE: reference, BLANK: release}
    all_tests = {
        notebooks.grade_id(cell) for cell in reference.cells if notebooks.is_test(cell)
    }
    loses = {REFERENCE: set(), BLANK: all_tests}
    mutants = {mutant.name: mutant for mutant in load_mutants(PROBLEM_SET)}
    for name in MUTANT_NAMES:
        mutant = mutants[name]
        submissions[name] = notebooks.replace_in_cell(reference, mutant.cell, mutant.old, mutant.new)
        loses[name] = set(mutant.loses)
    submissions[STDERR] = notebooks.replace_in_cell(
        reference, "simple_backpropagation", STDERR_OLD, STDERR_NEW
    )
    loses[STDERR] = {"test_simple_backpropagation"}

    zip_path = folder / "downloaded-from-lms.zip"
    _lms_zip(zip_path, submissions, nbformat.writes(reference)[:300])
    collected = course_tools(course.root, "collect", str(zip_path))
    autograded = course_tools(course.root, "autograde", PROBLEM_SET)
    feedback = course_tools(course.root, "feedback", PROBLEM_SET)
    grades_csv = folder / "grades.csv"
    grades = course_tools(course.root, "grades", "--output", str(grades_csv))
    return GradedClass(course, submissions, loses, zip_path, collected, autograded,
                       feedback, grades, grades_csv)


def _points(course):
    """Return {grade id: points} of every graded cell of the source."""
    source = course.source_notebook(PROBLEM_SET, PROBLEM_SET)
    return {
        notebooks.grade_id(cell): float(notebooks.nbgrader_metadata(cell)["points"])
        for cell in source.cells
        if notebooks.is_graded(cell)
    }


def _test_ids(course):
    source = course.source_notebook(PROBLEM_SET, PROBLEM_SET)
    return [notebooks.grade_id(cell) for cell in source.cells if notebooks.is_test(cell)]


# collect ---------------------------------------------------------------------


def test_collect_imports_lms_names(graded_class):
    result = graded_class.collected
    root = graded_class.course.root

    assert result.returncode == 0, output_of(result)
    for student, notebook in graded_class.submissions.items():
        path = root / "submitted" / student / PROBLEM_SET / f"{PROBLEM_SET}.ipynb"
        assert path.is_file(), f"collect did not write {path}"
        assert notebooks.read(path).cells == notebook.cells
    assert (root / "submitted" / BROKEN / PROBLEM_SET / f"{PROBLEM_SET}.ipynb").is_file()
    assert "index.html" in result.stdout, "the skipped file is not reported"


def test_collect_rejects_unmatched_notebook(tmp_path, graded_class):
    root = tmp_path / "course"
    root.mkdir()
    shutil.copytree(graded_class.course.root / "release", root / "release")
    shutil.copy2(graded_class.course.root / "nbgrader_config.py", root)
    zip_path = tmp_path / "submissions.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr(f"{PROBLEM_SET}.ipynb", nbformat.writes(graded_class.submissions[BLANK]))

    result = course_tools(root, "collect", str(zip_path))

    assert result.returncode == 1, output_of(result)
    assert f"  {PROBLEM_SET}.ipynb" in result.stdout
    assert "<student_id>_<anything>_<notebook>.ipynb" in result.stdout
    assert not (root / "submitted").exists()


# autograde -------------------------------------------------------------------


def test_autograde_reports_broken_submission(graded_class):
    result = graded_class.autograded
    students = len(graded_class.submissions) + 1

    assert result.returncode == 1, output_of(result)
    assert f"Graded {students - 1} of {students} submission(s)" in result.stdout
    assert re.search(rf"^  {BROKEN}: NotJSONError: ", result.stdout, re.MULTILINE), result.stdout


def test_autograde_grades_the_others(graded_class):
    course = graded_class.course
    points = _points(course)
    tests = _test_ids(course)
    available = sum(points[grade_id] for grade_id in tests)

    for student, lost in graded_class.loses.items():
        scores = course.cell_scores(PROBLEM_SET, PROBLEM_SET, student)
        lost_here = {grade_id for grade_id in tests if scores[grade_id].lost}
        assert lost_here == lost, f"{student} lost {sorted(lost_here)}"
        scored = available - sum(points[grade_id] for grade_id in lost)
        line = rf"^  {re.escape(student)} +{scored:g} / {available:g} autograded points$"
        assert re.search(line, graded_class.autograded.stdout, re.MULTILINE), (
            graded_class.autograded.stdout
        )


# grades ----------------------------------------------------------------------


def test_grades_csv_has_expected_scores(graded_class):
    course = graded_class.course
    points = _points(course)
    tests = _test_ids(course)
    maximum = f"{sum(points.values()):g}"
    expected = []
    for student, lost in graded_class.loses.items():
        score = sum(points[grade_id] for grade_id in tests if grade_id not in lost)
        # Submissions built from the reference carry the model answer in the
        # written cell, which waits for manual grading. The blank one is
        # unchanged, so nbgrader scores it 0 without a person.
        status = "graded" if student == BLANK else "needs manual grading"
        expected.append([student, PROBLEM_SET, f"{score:g}", maximum, status])
    expected.append([BROKEN, PROBLEM_SET, "", maximum, "not autograded"])

    assert graded_class.grades.returncode == 0, output_of(graded_class.grades)
    with graded_class.grades_csv.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))

    assert rows[0] == ["student_id", "problem_set", "score", "max_score", "status"]
    assert sorted(rows[1:]) == sorted(expected)


# feedback --------------------------------------------------------------------


def _feedback_text(root, student):
    path = root / "feedback" / student / PROBLEM_SET / f"{PROBLEM_SET}.html"
    assert path.is_file(), f"no feedback at {path}"
    text = html.unescape(re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8")))
    return " ".join(text.split())


def _hidden_test_lines(course):
    """Return the lines only hidden tests have, without whitespace.

    Lines that the release shows or that a solution has (a hidden test may
    swap in a correct version of a function) can appear in feedback.
    """
    release = course.released_notebook(PROBLEM_SET, PROBLEM_SET)
    shown = {line.strip() for cell in release.cells for line in cell.source.splitlines()}
    hidden, solutions = set(), set()
    for cell in course.source_notebook(PROBLEM_SET, PROBLEM_SET).cells:
        for region in notebooks.regions(cell.source, "HIDDEN TESTS"):
            hidden |= {line.strip() for line in region.splitlines()}
        for region in notebooks.regions(cell.source, "SOLUTION"):
            solutions |= {line.strip() for line in region.splitlines()}
    return {
        re.sub(r"\s+", "", line)
        for line in hidden - shown - solutions
        if len(line) >= leaks.MIN_SECRET_LENGTH
    }


def test_feedback_shows_failing_tests(graded_class):
    root = graded_class.course.root
    points = _points(graded_class.course)
    hidden = _hidden_test_lines(graded_class.course)
    assert hidden

    assert graded_class.feedback.returncode == 0, output_of(graded_class.feedback)
    for student, lost in graded_class.loses.items():
        assert f"feedback/{student}/{PROBLEM_SET}/{PROBLEM_SET}.html" in graded_class.feedback.stdout
        text = _feedback_text(root, student)
        for grade_id in _test_ids(graded_class.course):
            score = 0.0 if grade_id in lost else points[grade_id]
            expected = f"Grade cell: {grade_id} Score: {score:.1f} / {points[grade_id]:.1f}"
            assert expected in text, f"{student}'s feedback lacks {expected!r}"
        if lost and student not in (BLANK, STDERR):
            assert "AssertionError" in text, f"{student}'s feedback shows no failed assert"
        assert "HIDDEN TESTS" not in text
        unspaced = re.sub(r"\s+", "", text)
        leaked = sorted(line for line in hidden if line in unspaced)
        assert not leaked, f"{student}'s feedback shows hidden tests: {leaked[:3]}"


def test_feedback_explains_stderr_failure(graded_class):
    root = graded_class.course.root
    stderr_text = _feedback_text(root, STDERR)
    reference_text = _feedback_text(root, REFERENCE)

    assert "wrote to stderr" in stderr_text
    assert "wrote to stderr" not in reference_text


def test_feedback_explains_sigmoid_failure(graded_class):
    text = _feedback_text(graded_class.course.root, "sigmoid-overflows-to-nan")

    # The highlighted traceback splits the line into spans, so compare
    # without whitespace.
    message = "AssertionError: sigmoid([-800, 800]) should be [0, 1]"
    assert re.sub(r"\s+", "", message) in re.sub(r"\s+", "", text)


# check -----------------------------------------------------------------------


def _student_copy(tmp_path, graded_class, notebook):
    """Make a course root holding only what `check` reads, plus ``notebook``."""
    root = tmp_path / "student"
    shutil.copytree(graded_class.course.root / "release", root / "release")
    shutil.copy2(graded_class.course.root / "nbgrader_config.py", root)
    (root / PROBLEM_SET).mkdir()
    notebooks.write(notebook, root / PROBLEM_SET / f"{PROBLEM_SET}.ipynb")
    return root


def test_check_fails_wrong_notebook(tmp_path, graded_class):
    root = _student_copy(tmp_path, graded_class, graded_class.submissions["sigmoid-overflows-to-nan"])
    points = _points(graded_class.course)
    available = sum(points[grade_id] for grade_id in _test_ids(graded_class.course))

    result = course_tools(root, "check", PROBLEM_SET)

    assert result.returncode == 1, output_of(result)
    assert re.search(
        r"^  failed +test_sigmoid +0 / 1  AssertionError: sigmoid\(\[-800, 800\]\) should be",
        result.stdout, re.MULTILINE,
    ), result.stdout
    assert re.search(r"^  passed +test_simple_backpropagation +4 / 4$", result.stdout, re.MULTILINE)
    assert re.search(r"^  graded by hand +symmetric_weights_answer +2 points", result.stdout, re.MULTILINE)
    assert f"Total: {available - 1:g} / {available:g} autograded points passed." in result.stdout
    assert "Traceback" not in result.stdout


def test_check_passes_reference(tmp_path, graded_class):
    root = _student_copy(tmp_path, graded_class, graded_class.submissions[REFERENCE])
    points = _points(graded_class.course)
    available = sum(points[grade_id] for grade_id in _test_ids(graded_class.course))

    result = course_tools(root, "check", PROBLEM_SET)

    assert result.returncode == 0, output_of(result)
    assert "failed" not in result.stdout
    assert f"Total: {available:g} / {available:g} autograded points passed." in result.stdout


def test_check_rejects_missing_problem_set(graded_class):
    missing = course_tools(graded_class.course.root, "check")
    unknown = course_tools(graded_class.course.root, "check", "ex99")

    assert missing.returncode == 2
    assert "make check PS=<problem set>" in missing.stderr
    assert unknown.returncode == 2
    assert "Unknown problem set 'ex99'" in unknown.stderr


# release and publish -----------------------------------------------------------


def _course_copy(tmp_path, graded_class):
    """Copy the course without the grading state, to plant leaks in."""
    root = tmp_path / "planted"
    shutil.copytree(
        graded_class.course.root, root,
        ignore=shutil.ignore_patterns("submitted", "autograded", "feedback", "downloaded",
                                      "gradebook.db"),
    )
    return root


def _plant_solution_line(root):
    """Copy one solution line of sigmoid into the student notebook."""
    path = root / PROBLEM_SET / f"{PROBLEM_SET}.ipynb"
    notebook = notebooks.read(path)
    cell = notebooks.cells_by_grade_id(notebook)["sigmoid"]
    cell.source += "\n    return 1.0 / (1.0 + np.exp(-t))"
    notebooks.write(notebook, path)
    return path


def test_release_fails_on_leak(tmp_path, graded_class):
    root = _course_copy(tmp_path, graded_class)
    _plant_solution_line(root)

    result = course_tools(root, "release", PROBLEM_SET)

    assert result.returncode == 1, output_of(result)
    assert re.search(
        rf"^{PROBLEM_SET}/{PROBLEM_SET}.ipynb: cell \d+, line \d+: contains a line of a solution",
        result.stderr, re.MULTILINE,
    ), result.stderr


def test_publish_writes_student_copy(tmp_path, graded_class):
    root = graded_class.course.root
    dest = tmp_path / "students"

    result = course_tools(root, "publish", str(dest))

    assert result.returncode == 0, output_of(result)
    names = {path.name for path in dest.iterdir()}
    assert {PROBLEM_SET, "release", "helpers", "course_tools", "Makefile", "README.md",
            "pyproject.toml", "requirements.txt", "environment.yml"} <= names
    for forbidden in ("source", "gradebook.db", "submitted", "autograded", "feedback",
                      "downloaded", "grades.csv"):
        assert not list(dest.rglob(forbidden)), f"the student copy holds {forbidden}"
    published = list(leaks.student_files(dest))
    assert not leaks.find_leaks(published, leaks.course_secret_lines(root), dest)
    # course_tools/*.py name the delimiters in order to find them.
    for path in published:
        if path.suffix == ".py":
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        assert "BEGIN SOLUTION" not in text, path
        assert "BEGIN HIDDEN TESTS" not in text, path
    assert "make check PS=" in (dest / "README.md").read_text(encoding="utf-8")


def test_published_copy_runs_check(tmp_path, graded_class):
    dest = tmp_path / "students"
    assert course_tools(graded_class.course.root, "publish", str(dest)).returncode == 0

    result = subprocess.run(
        [sys.executable, "-m", "course_tools", "--quiet", "check", PROBLEM_SET],
        capture_output=True, text=True, timeout=600, cwd=dest,
    )

    assert result.returncode == 1, output_of(result)
    assert re.search(r"^  failed +test_sigmoid +0 / 1  NotImplementedError", result.stdout, re.MULTILINE)


def test_publish_replaces_earlier_publish(tmp_path, graded_class):
    root = graded_class.course.root
    dest = tmp_path / "students"
    assert course_tools(root, "publish", str(dest)).returncode == 0
    (dest / ".git").mkdir()
    (dest / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (dest / "stale.txt").write_text("left from an older term\n")

    result = course_tools(root, "publish", str(dest))

    assert result.returncode == 0, output_of(result)
    assert (dest / ".git" / "HEAD").is_file()
    assert not (dest / "stale.txt").exists()
    assert (dest / PROBLEM_SET / f"{PROBLEM_SET}.ipynb").is_file()


def test_publish_rejects_unsafe_destinations(tmp_path, graded_class):
    root = graded_class.course.root
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("not a publish\n")

    inside = course_tools(root, "publish", str(root / "students"))
    occupied = course_tools(root, "publish", str(other))

    assert inside.returncode == 1
    assert "inside the course repository" in inside.stderr
    assert not (root / "students").exists()
    assert occupied.returncode == 1
    assert "is not empty" in occupied.stderr
    assert sorted(path.name for path in other.iterdir()) == ["notes.txt"]


def test_publish_refuses_planted_leak(tmp_path, graded_class):
    root = _course_copy(tmp_path, graded_class)
    _plant_solution_line(root)
    with (root / "helpers" / "__init__.py").open("a", encoding="utf-8") as handle:
        handle.write("### BEGIN HIDDEN TESTS\n")
    dest = tmp_path / "students"

    result = course_tools(root, "publish", str(dest))

    assert result.returncode == 1, output_of(result)
    assert re.search(
        rf"^{PROBLEM_SET}/{PROBLEM_SET}.ipynb: cell \d+, line \d+: contains a line of a solution",
        result.stderr, re.MULTILINE,
    ), result.stderr
    assert re.search(r"^helpers/__init__.py: line \d+: contains a solution or hidden-test delimiter",
                     result.stderr, re.MULTILINE), result.stderr
    assert not dest.exists()
    assert [path.name for path in tmp_path.iterdir() if "staging" in path.name] == []
