"""Autograde broken and hostile ex12 submissions in the sandboxed kernel.

The corpus in tests/files/hostile/ (made by make_corpus.py there) contains one
submission per way a student can break, slow down or cheat the grader,
each with the points it must get and a text that the grader's reason must
contain. They are graded together with correct submissions in one run of
``make autograde`` (``autograde_reviews``) in a scratch course whose cells
time out after 15 s. As root, the kernels run as the sandbox account. As
another user, the cases that need that switch are left out, because their
limits would count against that user's own processes and files.
"""

import hashlib
import importlib.util
import io
import json
import os
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from course_tools import notebooks
from course_tools.grading import Course
from course_tools.instructor import autograde_reviews
from course_tools.review import TAMPERING

CORPUS = Path(__file__).resolve().parent / "files" / "hostile"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))
PROBLEM_SET = MANIFEST["problem_set"]
AS_ROOT = os.geteuid() == 0

# Cases that are only safe, or only meaningful, with the switch to the
# sandbox account: a fork bomb counts against the grader's own process
# limit otherwise, and the grader's own account may read the gradebook.
NEEDS_ACCOUNT_SWITCH = {"fork-bomb", "neighbour-reader"}

CELL_TIMEOUT_SECONDS = 15
SCRATCH_CONFIG = f"""
# Limits of the hostile-submission test (tests/test_hostile.py).
c.CourseSandbox.memory_mb = 1024
c.CourseSandbox.processes = 64
c.CourseSandbox.file_size_mb = 16
c.CourseSandbox.cpu_seconds = 60
c.CourseSandbox.output_kb = 256
c.CourseSandbox.submission_seconds = 300
"""

# Gradebook tables that describe the assignment; grading must not change them.
DEFINITION_TABLES = ("course", "assignment", "notebook", "base_cell", "grade_cells",
                     "solution_cells", "task_cells", "source_cell")

pytestmark = pytest.mark.grading


def _selected_cases():
    return [
        case for case in MANIFEST["cases"]
        if AS_ROOT or case["name"] not in NEEDS_ACCOUNT_SWITCH
    ]


def _tree_hashes(folder):
    """Return {relative path: sha256} of every file under ``folder``."""
    hashes = {}
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file():
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            hashes[str(path.relative_to(folder))] = digest.hexdigest()
    return hashes


def _definition_rows(gradebook):
    with sqlite3.connect(gradebook) as connection:
        return {
            table: sorted(map(repr, connection.execute(f"SELECT * FROM {table}")))
            for table in DEFINITION_TABLES
        }


def _modes(root):
    """Return {entry: permission bits} of the course root and its entries."""
    modes = {".": root.stat().st_mode & 0o7777}
    for entry in root.iterdir():
        modes[entry.name] = entry.stat().st_mode & 0o7777
    return modes


def _make_course(root):
    course = Course.scratch(root, [PROBLEM_SET])
    config = root / "nbgrader_config.py"
    text = config.read_text(encoding="utf-8")
    assert "CELL_TIMEOUT_SECONDS = 300" in text, "nbgrader_config.py changed its time limit"
    text = text.replace("CELL_TIMEOUT_SECONDS = 300",
                        f"CELL_TIMEOUT_SECONDS = {CELL_TIMEOUT_SECONDS}")
    config.write_text(text + SCRATCH_CONFIG, encoding="utf-8")
    course.generate(PROBLEM_SET)

    for name in MANIFEST["correct"] + [case["name"] for case in _selected_cases()]:
        shutil.copytree(CORPUS / name, root / "submitted" / name / PROBLEM_SET)
    for name, files in MANIFEST["large_files"].items():
        for file_name, mebibytes in files.items():
            # A sparse file: large to nbgrader, cheap on disk.
            path = root / "submitted" / name / PROBLEM_SET / file_name
            with path.open("wb") as handle:
                handle.truncate(mebibytes * 1024 * 1024)
    return course


class HostileRun:
    """What one autograde run of the corpus left behind."""

    def __init__(self, root):
        self.course = _make_course(root)
        self.root = root
        self.submitted_before = _tree_hashes(root / "submitted")
        self.private_before = {
            name: _tree_hashes(root / name) for name in ("source", "release")
        }
        self.definitions_before = _definition_rows(root / "gradebook.db")
        self.modes_before = _modes(root)
        stream = io.StringIO()
        start = time.monotonic()
        self.reviews = {
            review.student: review
            for review in autograde_reviews(PROBLEM_SET, stream, root=root)
        }
        self.seconds = time.monotonic() - start
        self.report = stream.getvalue()

    def printed(self, student):
        """Return the text of every stream output of the autograded notebook."""
        path = self.root / "autograded" / student / PROBLEM_SET / f"{PROBLEM_SET}.ipynb"
        return "".join(
            output.get("text", "")
            for cell in notebooks.read(path).cells
            for output in cell.get("outputs", [])
            if output.get("output_type") == "stream"
        )

    def autograded_text(self, student):
        path = self.root / "autograded" / student / PROBLEM_SET / f"{PROBLEM_SET}.ipynb"
        return path.read_text(encoding="utf-8") if path.is_file() else ""


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return HostileRun(tmp_path_factory.mktemp("hostile") / "course")


def test_run_grades_every_submission(hostile):
    expected = set(MANIFEST["correct"]) | {case["name"] for case in _selected_cases()}
    assert set(hostile.reviews) == expected, hostile.report
    print(f"Autograded {len(expected)} submissions in {hostile.seconds:.0f} s")


@pytest.mark.parametrize("student", MANIFEST["correct"])
def test_correct_submission_gets_full_marks(hostile, student):
    review = hostile.reviews[student]

    assert review.graded, review.summary()
    assert review.scored == MANIFEST["full"], review.summary()
    assert not review.tampering


@pytest.mark.parametrize("case", MANIFEST["cases"], ids=lambda case: case["name"])
def test_broken_submission_gets_its_score(hostile, case):
    if not AS_ROOT and case["name"] in NEEDS_ACCOUNT_SWITCH:
        pytest.skip(f"{case['name']} needs the switch to the sandbox account, "
                    "which only a grader running as root makes")
    review = hostile.reviews[case["name"]]

    assert review.scored == case["points"], (
        f"{case['name']} ({case['description']}) got {review.scored:g} points, "
        f"expected {case['points']}. Reasons: {review.summary()}"
    )
    assert case["reason"] in review.summary(), (
        f"The reasons for {case['name']} do not mention {case['reason']!r}: "
        f"{review.summary()}"
    )
    if review.scored < MANIFEST["full"]:
        assert review.reasons, f"{case['name']} lost points without a reason"
    assert case["reason"] in hostile.report or not case["reason"], hostile.report


@pytest.mark.parametrize(
    "case",
    [case for case in MANIFEST["cases"] if case["reason"] == TAMPERING],
    ids=lambda case: case["name"],
)
def test_tampering_is_flagged_not_rewarded(hostile, case):
    review = hostile.reviews[case["name"]]

    assert review.tampering, f"{case['name']} was not flagged: {review.summary()}"
    assert review.scored == 0
    course = hostile.course
    scores = course.cell_scores(PROBLEM_SET, PROBLEM_SET, case["name"])
    assert all(cell.score == 0 for cell in scores.values() if cell.autograded)


def test_only_tampering_cases_are_flagged(hostile):
    flagged = {student for student, review in hostile.reviews.items() if review.tampering}
    expected = {case["name"] for case in _selected_cases() if case.get("tampering")}

    assert flagged == expected


def test_submissions_are_unchanged(hostile):
    assert _tree_hashes(hostile.root / "submitted") == hostile.submitted_before


def test_source_and_release_are_unchanged(hostile):
    for name, before in hostile.private_before.items():
        assert _tree_hashes(hostile.root / name) == before, f"{name}/ changed"


def test_gradebook_keeps_its_definitions(hostile):
    gradebook = hostile.root / "gradebook.db"

    assert _definition_rows(gradebook) == hostile.definitions_before
    with gradebook.open("rb") as handle:
        handle.seek(-16, os.SEEK_END)
        assert b"tampered" not in handle.read()


@pytest.mark.skipif(not AS_ROOT, reason="the grader must run as root to switch "
                    "the kernel to the sandbox account")
def test_neighbour_reader_saw_nothing(hostile):
    printed = hostile.printed("neighbour-reader")
    # The probe may read and write the copy of its own notebook in its
    # working folder, ../ex12/ex12.ipynb, and nothing else.
    accessed = [line for line in printed.splitlines()
                if line.startswith(("READ ", "WROTE "))]
    foreign = [line[:120] for line in accessed
               if line.split(" ", 2)[1] != "../ex12/ex12.ipynb"]

    assert "found" in printed, "the neighbour reader's probe did not run"
    assert not foreign, f"the kernel reached files outside its working folder: {foreign}"
    assert MANIFEST["secret"] not in printed


def test_huge_output_is_truncated(hostile):
    size = len(hostile.autograded_text("huge-output"))

    assert 0 < size < 2_000_000, f"the autograded notebook has {size} bytes"


def test_sandbox_restores_file_modes(hostile):
    after = _modes(hostile.root)

    assert {name: after[name] for name in hostile.modes_before} == hostile.modes_before


def test_corpus_is_fresh():
    """The corpus was made from the current release and source of ex12."""
    spec = importlib.util.spec_from_file_location("make_corpus", CORPUS / "make_corpus.py")
    make_corpus = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_corpus)
    stored = notebooks.read(CORPUS / "good-plain" / f"{PROBLEM_SET}.ipynb")

    assert stored == make_corpus.reference(), (
        "tests/files/hostile/ is older than release/ex12 or source/ex12: run "
        ".venv/bin/python tests/files/hostile/make_corpus.py"
    )
