"""Explain each autograded submission's score, and zero tampered notebooks.

After nbgrader has autograded one student, ``review_submission`` reads the
submitted and the autograded notebooks and the gradebook, and returns a
``Review``. A review contains the autograded points and one line per
finding for the instructor. Findings are a missing or unreadable notebook,
a deleted, edited or retyped test cell, a file too large to grade, the first error of each cell
that lost points (a time-out, a MemoryError, a dead kernel), truncated
output, and tampering (see ``tamper.py``). A notebook with tampering gets 0
on every autograded cell, through the cells' manual score in the gradebook,
which a grader can still change in the formgrader.
"""

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader import utils as nbgrader_utils
from nbgrader.api import Gradebook, MissingEntry

from . import notebooks
from .check import failure_line
from .execute import NOT_RUN
from .tamper import find_tampering
from .validate import load_config

logger = logging.getLogger(__name__)

TRUNCATION_NOTE = "[output truncated"
TAMPERING = "tampering"

# nbgrader's default CourseDirectory.max_file_size, in kB.
DEFAULT_MAX_FILE_KB = 100000


@dataclass
class Review:
    """Autograded points of one student's submission and why."""

    student: str
    scored: float = 0.0
    available: float = 0.0
    graded: bool = True  # False when nbgrader left no grades
    error: str = ""  # why nbgrader failed on this submission, if it did
    reasons: list = field(default_factory=list)
    tampering: list = field(default_factory=list)  # tamper.Finding

    def summary(self):
        """Return the reasons as one line, or "" when there are none."""
        return "; ".join(self.reasons)


def review_submission(course, problem_set, student, grading_error=None):
    """Return the Review of one autograded student, zeroing tampered notebooks.

    ``grading_error`` is nbgrader's failure for this student, if it failed.
    """
    review = Review(student, error=grading_error or "")
    if grading_error:
        # Scores in the gradebook may be left from an earlier run.
        review.graded = False
        review.reasons.append(f"nbgrader failed: {grading_error}")
    folder = course.root / "submitted" / student / problem_set
    review.reasons.extend(_large_files(course.root, folder))
    for name in course.notebook_names(problem_set):
        _review_notebook(course, problem_set, name, student, folder, review)
    return review


def _review_notebook(course, problem_set, name, student, folder, review):
    path = folder / f"{name}.ipynb"
    release = course.released_notebook(problem_set, name)
    submitted = _read_submitted(path, folder, review)

    if submitted is not None:
        review.reasons.extend(_structure_changes(submitted, release, name))
        findings = find_tampering(submitted, course.source_notebook(problem_set, name))
        if findings:
            review.tampering.extend(findings)
            _zero_autograded_cells(course, problem_set, name, student)
            review.reasons.append(
                f"{TAMPERING} in {name}.ipynb, so every autograded cell scores 0 "
                f"(change it in the formgrader if this is wrong): "
                + "; ".join(str(finding) for finding in findings)
            )

    try:
        scores = course.cell_scores(problem_set, name, student)
    except MissingEntry:
        review.graded = False
        review.available += _release_points(release)
        return
    if not _has_auto_scores(course, problem_set, name, student):
        review.graded = False
    if not review.graded and submitted is not None and not review.reasons:
        review.reasons.append(
            f"{name}.ipynb has no autograded scores in the gradebook, so it "
            "counts 0 points"
        )
    for cell in scores.values():
        if cell.autograded:
            review.scored += cell.score
            review.available += cell.max_score

    autograded = course.root / "autograded" / student / problem_set / f"{name}.ipynb"
    if autograded.is_file():
        lost = {grade_id for grade_id, cell in scores.items() if cell.lost}
        review.reasons.extend(
            _cell_failures(notebooks.read(autograded), lost, bool(review.tampering))
        )


def _read_submitted(path, folder, review):
    if not path.is_file():
        found = sorted(entry.name for entry in folder.iterdir()) if folder.is_dir() else []
        review.reasons.append(
            f"no {path.name} in submitted/{folder.parent.name}/{folder.name}/ "
            f"(it holds: {', '.join(found) or 'nothing'})"
        )
        return None
    try:
        version = json.loads(path.read_text(encoding="utf-8")).get("nbformat")
        notebook = notebooks.read(path)
    except (ValueError, UnicodeDecodeError, AttributeError, nbformat.reader.NotJSONError) as error:
        review.reasons.append(
            f"{path.name} is not a readable notebook ({error.__class__.__name__}: "
            f"{str(error)[:120]})"
        )
        return None
    if isinstance(version, int) and version < 4:
        review.reasons.append(
            f"{path.name} was saved in nbformat {version}; it was converted to "
            "nbformat 4 for grading"
        )
    return notebook


def _structure_changes(submitted, release, name):
    """Return lines about graded cells deleted, edited, retyped or repeated."""
    lines = []
    released = {
        notebooks.grade_id(cell): cell
        for cell in release.cells if notebooks.is_graded(cell)
    }
    present = Counter(notebooks.grade_id(cell) for cell in submitted.cells)
    missing = [grade_id for grade_id in released if grade_id not in present]
    if missing:
        lines.append(
            f"{name}.ipynb lacks the graded cell(s) {', '.join(missing)} "
            "(deleted, or their nbgrader metadata removed), which score 0"
        )
    repeated = sorted(grade_id for grade_id, count in present.items() if grade_id and count > 1)
    if repeated:
        lines.append(
            f"{name}.ipynb has the grade id(s) {', '.join(repeated)} more than "
            "once (a split or copied cell); nbgrader graded the last as the "
            "test and ran the others as plain code"
        )
    seen = set()
    for cell in submitted.cells:
        grade_id = notebooks.grade_id(cell)
        original = released.get(grade_id)
        if original is None or grade_id in seen or not notebooks.is_test(original):
            continue
        seen.add(grade_id)
        if cell.cell_type != original.cell_type:
            lines.append(
                f"test cell {grade_id} was changed to {cell.cell_type}; the "
                "grader ran the original"
            )
        elif _edited(cell):
            lines.append(f"test cell {grade_id} was edited; the grader ran the original")
    return lines


def _edited(cell):
    checksum = notebooks.nbgrader_metadata(cell).get("checksum")
    return checksum is not None and checksum != nbgrader_utils.compute_checksum(cell)


def _cell_failures(autograded, lost, tampered):
    """Return one line per failing answer cell and per test that lost points.

    In a ``tampered`` notebook every test lost its points; only those whose
    run failed get a line.
    """
    lines = []
    for cell in autograded.cells:
        if cell.cell_type != "code":
            continue
        grade_id = notebooks.grade_id(cell) or "an ungraded cell"
        error = failure_line(cell)
        if error.startswith(f"KernelLost: {NOT_RUN}"):
            if grade_id in lost:
                lines.append(f"{grade_id} lost its points: {error.removeprefix('KernelLost: ')}")
            continue
        if grade_id in lost and (error or not tampered):
            lines.append(f"{grade_id} lost its points: {error or _no_output_reason(cell)}")
        elif notebooks.is_answer(cell) and _raised(cell):
            # Stderr alone costs no points in an answer cell.
            lines.append(f"answer cell {grade_id} failed: {error}")
        if any(TRUNCATION_NOTE in output.get("text", "") for output in cell.get("outputs", [])):
            lines.append(f"{grade_id}: output truncated at the grader's limit")
    return lines


def _raised(cell):
    return any(output.get("output_type") == "error" for output in cell.get("outputs", []))


def _no_output_reason(cell):
    if cell.get("execution_count") is None:
        return "the cell never ran: the kernel died before it"
    return "it failed without an error message"


def _has_auto_scores(course, problem_set, name, student):
    with Gradebook(course.gradebook_url) as gradebook:
        submission = gradebook.find_submission_notebook(name, problem_set, student)
        code = [grade for grade in submission.grades if grade.cell_type == "code"]
        return not code or any(grade.auto_score is not None for grade in code)


def _release_points(release):
    return sum(
        float(notebooks.nbgrader_metadata(cell).get("points", 0))
        for cell in release.cells if notebooks.is_test(cell)
    )


def _zero_autograded_cells(course, problem_set, name, student):
    """Set the manual score of every autograder test cell of a notebook to 0.

    The cells are also marked as needing manual grading, so the formgrader
    lists the submission. NOTE: like any manual score, the 0 survives a
    later autograde of a fixed submission; clear it in the formgrader.
    """
    source = course.source_notebook(problem_set, name)
    tests = {notebooks.grade_id(cell) for cell in source.cells if notebooks.is_test(cell)}
    with Gradebook(course.gradebook_url) as gradebook:
        try:
            submission = gradebook.find_submission_notebook(name, problem_set, student)
        except MissingEntry:
            return
        for grade in submission.grades:
            if grade.name in tests:
                grade.manual_score = 0
                grade.needs_manual_grade = True
        gradebook.db.commit()


def _large_files(root, folder):
    """Return lines for files that nbgrader skips as too large to copy."""
    if not folder.is_dir():
        return []
    config = load_config(Path(root) / "nbgrader_config.py")
    limit_kb = int(config.CourseDirectory.get("max_file_size", DEFAULT_MAX_FILE_KB))
    lines = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.stat().st_size > limit_kb * 1024:
            lines.append(
                f"{path.relative_to(folder)} ({path.stat().st_size / 1e6:.0f} MB) was "
                f"not copied for grading: above nbgrader's max_file_size of "
                f"{limit_kb / 1000:g} MB"
            )
    return lines
