"""The students' make check and make validate stop an infinite loop.

Both run the notebook with the course's per-cell time limit, here cut to a
few seconds in a scratch copy of the student's side of the course. The
notebooks come from the hostile corpus in tests/files/hostile/: one loops
forever in simple_backpropagation, the other does the same after telling
Python to ignore the interrupt that ends a timed-out cell.
"""

import io
import shutil
import time
from pathlib import Path

import pytest

from course_tools import RELEASE_DIR, ROOT
from course_tools.check import check_problem_set
from course_tools.validate import validate

CORPUS = Path(__file__).resolve().parent / "files" / "hostile"
CELL_TIMEOUT_SECONDS = 5
# Kernel start, the passing cells and the timed-out one; far below what a
# hang would take.
MAX_SECONDS = 90

LOOPING = ["infinite-loop", "loop-ignoring-interrupt"]


def _student_course(folder, case):
    """Make a student's course in ``folder`` whose ex12 notebook is ``case``."""
    shutil.copytree(RELEASE_DIR / "ex12", folder / "release" / "ex12")
    config = (ROOT / "nbgrader_config.py").read_text(encoding="utf-8")
    assert "CELL_TIMEOUT_SECONDS = 300" in config, "nbgrader_config.py changed its time limit"
    (folder / "nbgrader_config.py").write_text(
        config.replace("CELL_TIMEOUT_SECONDS = 300",
                       f"CELL_TIMEOUT_SECONDS = {CELL_TIMEOUT_SECONDS}"),
        encoding="utf-8",
    )
    (folder / "ex12").mkdir()
    shutil.copy2(CORPUS / case / "ex12.ipynb", folder / "ex12" / "ex12.ipynb")
    return folder


@pytest.mark.parametrize("case", LOOPING)
def test_check_reports_timeout(tmp_path, case):
    root = _student_course(tmp_path, case)
    stream = io.StringIO()

    start = time.monotonic()
    passed = check_problem_set("ex12", stream, root)
    seconds = time.monotonic() - start

    report = stream.getvalue()
    assert not passed, report
    assert seconds < MAX_SECONDS, f"make check took {seconds:.0f} s:\n{report}"
    failing = [line for line in report.splitlines() if "test_simple_backpropagation" in line]
    assert failing, report
    assert "failed" in failing[0], report
    assert "time limit" in failing[0], report
    assert "passed          test_simple_feed_forward" in report, report


@pytest.mark.parametrize("case", LOOPING)
def test_validate_reports_timeout(tmp_path, case):
    root = _student_course(tmp_path, case)
    stream = io.StringIO()

    start = time.monotonic()
    passed = validate(root / "ex12" / "ex12.ipynb", stream, root)
    seconds = time.monotonic() - start

    report = stream.getvalue()
    assert not passed, report
    assert seconds < MAX_SECONDS, f"make validate took {seconds:.0f} s:\n{report}"
    assert "CellTimeoutError" in report or "KernelLost" in report, report
    assert "limit" in report, report
