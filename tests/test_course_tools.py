"""The course tools: submissions, student folders, demo, validate, leaks."""

import subprocess
import sys

import nbformat
import pytest

from course_tools import RELEASE_DIR, ROOT, SOURCE_DIR, gradebook, leaks, notebooks
from course_tools.check import failure_line
from course_tools.instructor import failure_reason
from course_tools.demo import demo_row_ok, format_table, grade_demo
from course_tools.grading import Course
from course_tools.release import update_student_folder

EX12_SOURCE = SOURCE_DIR / "ex12" / "ex12.ipynb"
EX12_RELEASE = RELEASE_DIR / "ex12" / "ex12.ipynb"


@pytest.fixture
def ex12_reference():
    return notebooks.fill_in(notebooks.read(EX12_RELEASE), notebooks.read(EX12_SOURCE))


def test_fill_in_uses_solutions_without_delimiters(ex12_reference):
    sigmoid = notebooks.cells_by_grade_id(ex12_reference)["sigmoid"]

    assert "return 1.0 / (1.0 + np.exp(-t))" in sigmoid.source
    assert "BEGIN SOLUTION" not in sigmoid.source
    assert "NotImplementedError" not in sigmoid.source


def test_fill_in_rejects_unknown_answer():
    release = notebooks.read(EX12_RELEASE)
    source = notebooks.read(EX12_SOURCE)
    source.cells = [cell for cell in source.cells if notebooks.grade_id(cell) != "sigmoid"]

    with pytest.raises(KeyError, match="sigmoid"):
        notebooks.fill_in(release, source)


def test_replace_in_cell_requires_one_match(ex12_reference):
    with pytest.raises(ValueError, match="found it 0 times"):
        notebooks.replace_in_cell(ex12_reference, "sigmoid", "not in the cell", "x")
    with pytest.raises(KeyError):
        notebooks.replace_in_cell(ex12_reference, "no_such_cell", "t", "x")


def test_tests_by_answer_follows_layout():
    owned = notebooks.tests_by_answer(notebooks.read(EX12_SOURCE))

    assert owned["sigmoid"] == ["test_sigmoid"]
    assert owned["simple_backpropagation"] == ["test_simple_backpropagation"]


def _copy_release(root, problem_set="ex12"):
    folder = root / "release" / problem_set
    folder.mkdir(parents=True)
    notebook = notebooks.read(RELEASE_DIR / problem_set / f"{problem_set}.ipynb")
    notebooks.write(notebook, folder / f"{problem_set}.ipynb")
    return notebook


def test_student_folder_gets_release(tmp_path):
    release = _copy_release(tmp_path)

    update_student_folder("ex12", {}, root=tmp_path)

    copied = notebooks.read(tmp_path / "ex12" / "ex12.ipynb")
    assert [cell.source for cell in copied.cells] == [cell.source for cell in release.cells]


def test_student_folder_keeps_student_work(tmp_path, caplog):
    release = _copy_release(tmp_path)
    (tmp_path / "ex12").mkdir()
    work = notebooks.fill_in(release, notebooks.read(EX12_SOURCE))
    notebooks.write(work, tmp_path / "ex12" / "ex12.ipynb")

    update_student_folder("ex12", {"ex12.ipynb": release}, root=tmp_path)

    kept = notebooks.read(tmp_path / "ex12" / "ex12.ipynb")
    assert [cell.source for cell in kept.cells] == [cell.source for cell in work.cells]
    assert "Kept ex12/ex12.ipynb" in caplog.text


def test_student_folder_replaces_untouched_copy(tmp_path):
    old_release = _copy_release(tmp_path)
    (tmp_path / "ex12").mkdir()
    notebooks.write(old_release, tmp_path / "ex12" / "ex12.ipynb")
    new_release = notebooks.read(tmp_path / "release" / "ex12" / "ex12.ipynb")
    new_release.cells[0].source += "\n\nA new paragraph."
    notebooks.write(new_release, tmp_path / "release" / "ex12" / "ex12.ipynb")

    update_student_folder("ex12", {"ex12.ipynb": old_release}, root=tmp_path)

    copied = notebooks.read(tmp_path / "ex12" / "ex12.ipynb")
    assert copied.cells[0].source.endswith("A new paragraph.")


def test_demo_row_verdicts():
    assert demo_row_ok("reference", 8, 8)
    assert not demo_row_ok("reference", 7, 8)
    assert demo_row_ok("release", 0, 8)
    assert not demo_row_ok("release", 1, 8)
    assert not demo_row_ok("reference", 0, 0)


def test_demo_table_marks_wrong_rows():
    table = format_table([("ex12", "reference", 8.0, 8.0), ("ex12", "release", 2.0, 8.0)])

    lines = table.splitlines()
    assert lines[2].split()[-1] == "ok"
    assert lines[3].split()[-1] == "WRONG"
    assert "2 / 8" in lines[3]


@pytest.mark.grading
def test_demo_grades_reference_and_release(tmp_path):
    instructor_gradebook = ROOT / "gradebook.db"
    before = instructor_gradebook.stat().st_mtime_ns if instructor_gradebook.exists() else None

    rows = grade_demo(["ex12"], folder=tmp_path / "demo")

    assert rows == [("ex12", "reference", 8.0, 8.0), ("ex12", "release", 0.0, 8.0)]
    assert (tmp_path / "demo" / "gradebook.db").is_file()
    after = instructor_gradebook.stat().st_mtime_ns if instructor_gradebook.exists() else None
    assert after == before, "the demo wrote the instructor's gradebook.db"


def _validate(path):
    return subprocess.run(
        [sys.executable, "-m", "course_tools", "--quiet", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_validate_fails_on_blank_release(tmp_path):
    path = tmp_path / "ex12.ipynb"
    notebooks.write(notebooks.read(EX12_RELEASE), path)

    result = _validate(path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "cell(s) failed" in result.stdout
    assert "NotImplementedError" in result.stdout


def test_validate_passes_on_reference(tmp_path, ex12_reference):
    path = tmp_path / "ex12.ipynb"
    notebooks.write(ex12_reference, path)

    result = _validate(path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "every cell passes" in result.stdout


def test_validate_reports_edited_tests(tmp_path, ex12_reference):
    path = tmp_path / "ex12.ipynb"
    edited = notebooks.replace_in_cell(
        ex12_reference, "test_sigmoid", 'assert np.isclose(sigmoid(0.0), 0.5)', "assert True"
    )
    notebooks.write(edited, path)

    result = _validate(path)

    assert result.returncode == 1
    assert "test cell(s) were edited" in result.stdout


def test_validate_reports_missing_notebook(tmp_path):
    result = _validate(tmp_path / "missing.ipynb")

    assert result.returncode == 1
    assert "notebook not found" in result.stdout


def test_scratch_course_leaves_root_gradebook_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADEBOOK_URL", "postgresql://grader:secret@127.0.0.1/ml_course")
    course = Course.scratch(tmp_path / "course", ["ex12"])

    assert course.gradebook_url.startswith(f"sqlite:///{tmp_path}/course/gradebook.db?")
    assert Course(tmp_path / "course").gradebook_url.startswith("postgresql://")
    assert (course.root / "nbgrader_config.py").read_text() == (
        ROOT / "nbgrader_config.py"
    ).read_text()


def test_validate_explains_stderr_failures(tmp_path, ex12_reference):
    path = tmp_path / "ex12.ipynb"
    noisy = notebooks.replace_in_cell(
        ex12_reference,
        "sigmoid",
        "return 1.0 / (1.0 + np.exp(-t))",
        "import sys\n    print('debug', file=sys.stderr)\n    return 1.0 / (1.0 + np.exp(-t))",
    )
    notebooks.write(noisy, path)

    result = _validate(path)

    assert result.returncode == 1
    assert "wrote to stderr" in result.stdout
    assert "\x1b[" not in result.stdout


def test_validate_reports_unreadable_notebook(tmp_path):
    path = tmp_path / "ex12.ipynb"
    path.write_text('{"cells": [', encoding="utf-8")

    result = _validate(path)

    assert result.returncode == 1
    assert "not a readable notebook" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_validate_reports_deleted_test_cell(tmp_path, ex12_reference):
    path = tmp_path / "ex12.ipynb"
    ex12_reference.cells = [
        cell for cell in ex12_reference.cells
        if notebooks.grade_id(cell) != "test_simple_backpropagation"
    ]
    notebooks.write(ex12_reference, path)

    result = _validate(path)

    assert result.returncode == 1
    assert "were deleted: test_simple_backpropagation" in result.stdout


def test_leaks_report_notebook_line(tmp_path):
    secrets = leaks.secret_lines([notebooks.read(EX12_SOURCE)])
    release = notebooks.read(EX12_RELEASE)
    notebooks.cells_by_grade_id(release)["sigmoid"].source += (
        "\n    return 1.0 / (1.0 + np.exp(-t))"
    )
    notebooks.write(release, tmp_path / "ex12.ipynb")

    found = leaks.find_leaks([tmp_path / "ex12.ipynb"], secrets, tmp_path)

    assert len(found) == 1
    assert str(found[0]).startswith("ex12.ipynb: cell ")
    assert found[0].text == "return 1.0 / (1.0 + np.exp(-t))"


def test_leaks_need_two_lines_outside_notebooks(tmp_path):
    secrets = {"first secret line of a solution", "second secret line of a solution"}
    one_line = tmp_path / "one.py"
    one_line.write_text("first secret line of a solution\n")
    two_lines = tmp_path / "two.py"
    two_lines.write_text("x = 1\nfirst secret line of a solution\nsecond secret line of a solution\n")
    delimiter = tmp_path / "notes.md"
    delimiter.write_text("text\n### BEGIN HIDDEN TESTS\n")

    found = leaks.find_leaks([one_line, two_lines, delimiter], secrets, tmp_path)

    assert [str(leak).split(": ")[0:2] for leak in found] == [
        ["two.py", "line 2"], ["two.py", "line 3"], ["notes.md", "line 2"],
    ]


def test_check_failure_line_prefers_message():
    cell = nbformat.v4.new_code_cell("assert False")
    cell.outputs = [nbformat.v4.new_output(
        "error", ename="AssertionError", evalue="shape (2,) expected\nmore detail",
        traceback=["\x1b[31mAssertionError\x1b[0m Traceback (most recent call last)"],
    )]
    assert failure_line(cell) == "AssertionError: shape (2,) expected"

    cell.outputs[0].evalue = ""
    cell.outputs[0].traceback = ["Cell In[3], line 2\n\x1b[32m----> 2\x1b[39m assert x == 1"]
    assert failure_line(cell) == "AssertionError at `assert x == 1`"


def test_autograde_failure_reason_is_last_exception():
    output = (
        "Traceback (most recent call last):\n"
        "  File \"x.py\", line 1\n"
        "nbformat.reader.NotJSONError: Notebook does not appear to be JSON: '{'\n"
        "[AutogradeApp | ERROR] There was an error processing assignment 'ex12'\n"
    )
    assert failure_reason(output) == (
        "NotJSONError: Notebook does not appear to be JSON: '{'"
    )


def test_gradebook_url_defaults_to_sqlite_with_busy_timeout(tmp_path, monkeypatch):
    monkeypatch.delenv("GRADEBOOK_URL", raising=False)

    url = gradebook.gradebook_url(tmp_path)

    assert url == f"sqlite:///{tmp_path}/gradebook.db?timeout={gradebook.SQLITE_BUSY_SECONDS}"
    assert not gradebook.exists(url)


def test_gradebook_description_hides_password():
    url = "postgresql://grader:s3cret@db.example.org:5433/ml_course"

    described = gradebook.describe(url)

    assert "s3cret" not in described
    assert described == "postgresql://grader:***@db.example.org:5433/ml_course"


@pytest.mark.parametrize("password", ["p#ss99", "p/ss99", "p?ss99", "p@ss99", "p:ss"])
def test_gradebook_description_hides_odd_passwords(password):
    described = gradebook.describe(f"postgresql://grader:{password}@127.0.0.1:5432/db?x=1")

    assert "ss99" not in described
    assert "p:ss" not in described
    assert described == "postgresql://grader:***@127.0.0.1:5432/db"
