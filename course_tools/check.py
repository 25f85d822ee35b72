"""Check a student's notebook task by task: ``make check PS=ex12``.

The check runs the notebook in the student folder ``<ps>/`` with nbgrader's
Validator and the course configuration (see ``validate.py``), then prints one
line per graded cell of the release: ``passed`` or ``failed`` with its points
and the first line of the failure, or ``graded by hand`` for a written
answer. It ends with the autograded points passed. Hidden tests run only
when the instructor grades, so a full total here is no guarantee.
"""

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from nbgrader import utils as nbgrader_utils

from . import ROOT, notebooks, released_problem_sets
from .execute import GRADER_ERRORS
from .validate import _course_validator_class, read_or_report, student_config

logger = logging.getLogger(__name__)

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# IPython marks the failing line of a traceback with "---->" or "----> 12".
_FAILING_LINE = re.compile(r"^\s*-{2,}>\s*(?:\d+\s+)?(.*)$")

NOT_IMPLEMENTED_HINT = (
    "NotImplementedError: write your answer in place of "
    "`raise NotImplementedError()`"
)


class UsageError(ValueError):
    """The problem set named on the command line does not exist."""


@dataclass(frozen=True)
class TaskResult:
    """Outcome of one graded cell, or of an answer cell that failed."""

    grade_id: str
    status: str  # "passed", "failed", "graded by hand" or "error"
    points: float  # the cell's points; 0 for an ungraded answer cell
    message: str = ""

    @property
    def failed(self):
        return self.status in ("failed", "error")


def check_problem_set(problem_set, stream, root=ROOT):
    """Check every notebook of ``problem_set`` in the student folder.

    Writes the report to ``stream`` and returns True when every graded cell
    passes. Raises UsageError for an unknown or missing problem set.
    """
    root = Path(root)
    available = released_problem_sets(root)
    if not problem_set:
        raise UsageError(
            "Name the problem set to check: make check PS=<problem set>, "
            f"one of {', '.join(available) or '(none in release/)'}."
        )
    if problem_set not in available:
        raise UsageError(
            f"Unknown problem set {problem_set!r}. release/ has: "
            f"{', '.join(available) or 'nothing'}. Use one of those, e.g. "
            f"make check PS={available[0] if available else 'ex12'}."
        )
    passed = True
    for release in sorted((root / "release" / problem_set).glob("*.ipynb")):
        path = root / problem_set / release.name
        passed = check_notebook(path, release, stream, root) and passed
    return passed


def check_notebook(path, release_path, stream, root=ROOT):
    """Run one student notebook and report its graded cells.

    ``release_path`` is the released copy: its graded cells are the tasks,
    and a cell missing from the student's notebook fails.
    """
    name = _display_name(path, root)
    if not path.is_file():
        stream.write(
            f"{name}: notebook not found. Copy "
            f"{_display_name(release_path, root)} to {name} and work there.\n"
        )
        return False
    notebook = read_or_report(path, name, _display_name(release_path, root), stream)
    if notebook is None:
        return False
    release = notebooks.read(release_path)

    stream.write(f"Running {name} with nbgrader, as Restart & Run All does...\n")
    validator = _course_validator_class()(
        config=student_config(Path(root) / "nbgrader_config.py")
    )
    results = validator.validate(str(path))
    if results.get("type_changed"):
        stream.write(
            f"{name}: {len(results['type_changed'])} graded cell(s) changed "
            "type (code to markdown or back), so nbgrader cannot run the "
            f"tests. Copy those cells back from "
            f"{_display_name(release_path, root)}.\n"
        )
        return False

    tasks = task_results(validator.executed, notebook, release, release_path, root)
    stream.write(format_report(tasks) + "\n")
    return not any(task.failed for task in tasks)


def task_results(executed, submitted, release, release_path, root=ROOT):
    """Return a TaskResult for every graded cell of ``release``, in order.

    ``executed`` is the student's notebook after the run and ``submitted``
    the same notebook as saved, whose test cells are compared with the
    release's checksums. Answer cells that raised an error come right before
    the task they belong to.
    """
    ran = notebooks.cells_by_grade_id(executed)
    saved = notebooks.cells_by_grade_id(submitted)
    restore = f"copy it back from {_display_name(release_path, root)}"
    tasks = []
    for cell in release.cells:
        grade_id = notebooks.grade_id(cell)
        if notebooks.is_autograded_answer(cell) and grade_id in ran:
            error = failure_line(ran[grade_id])
            if error:
                tasks.append(TaskResult(grade_id, "error", 0.0, error))
        if not notebooks.is_graded(cell):
            continue
        points = float(notebooks.nbgrader_metadata(cell).get("points", 0))
        if grade_id not in ran:
            tasks.append(TaskResult(grade_id, "failed", points, f"cell deleted: {restore}"))
        elif notebooks.is_answer(cell):
            tasks.append(TaskResult(grade_id, "graded by hand", points, _hand_note(ran[grade_id])))
        elif _edited(saved[grade_id]):
            tasks.append(TaskResult(
                grade_id, "failed", points,
                f"test cell edited, and the grader runs the original: {restore}",
            ))
        else:
            score, _ = nbgrader_utils.determine_grade(ran[grade_id], logger)
            if score is not None and score >= points:
                tasks.append(TaskResult(grade_id, "passed", points))
            else:
                tasks.append(TaskResult(
                    grade_id, "failed", points,
                    failure_line(ran[grade_id]) or f"partial credit: {score:g} points",
                ))
    return tasks


def failure_line(cell):
    """Return the first line of a code cell's failure, or "" when it passed.

    For an exception this is ``Name: first line of the message``; an assert
    without a message is shown with the failing line instead.
    """
    for output in cell.get("outputs", []):
        # The time limit's error explains more than the KeyboardInterrupt
        # that the interrupt raised before it.
        if output.get("output_type") == "error" and output.get("ename") in GRADER_ERRORS:
            return f"{output['ename']}: {_first_line(output.get('evalue', ''))}"
    for output in cell.get("outputs", []):
        if output.get("output_type") != "error":
            continue
        name = output.get("ename", "Error")
        message = _first_line(output.get("evalue", ""))
        if message:
            return f"{name}: {message}"
        if name == "NotImplementedError":
            return NOT_IMPLEMENTED_HINT
        failing = _failing_source_line(output.get("traceback", []))
        return f"{name} at `{failing}`" if failing else f"{name} (no message)"
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            return (
                "wrote to stderr, which nbgrader scores as a failure: "
                f"{_first_line(output.get('text', ''))}"
            )
    return ""


def format_report(tasks):
    """Format the task lines and the total."""
    width = max((len(task.grade_id) for task in tasks), default=10)
    lines = []
    for task in tasks:
        points = "" if task.status == "error" else _points(task)
        line = f"  {task.status:<14}  {task.grade_id:<{width}}  {points:>9}"
        lines.append(f"{line}  {task.message}".rstrip())
    autograded = [task for task in tasks if task.status in ("passed", "failed")]
    scored = sum(task.points for task in autograded if task.status == "passed")
    available = sum(task.points for task in autograded)
    by_hand = sum(task.points for task in tasks if task.status == "graded by hand")
    total = f"Total: {scored:g} / {available:g} autograded points passed."
    if by_hand:
        total += f" {by_hand:g} more points are graded by hand."
    lines.append(total)
    if any(task.failed for task in tasks):
        lines.append("Fix the failed lines above, save, and run the check again.")
    else:
        lines.append(
            "Every visible test passes. The grader adds hidden tests, so "
            "make sure your code is general, not tuned to these cases."
        )
    return "\n".join(lines)


def _points(task):
    if task.status == "passed":
        return f"{task.points:g} / {task.points:g}"
    if task.status == "failed":
        return f"0 / {task.points:g}"
    return f"{task.points:g} points"


def _hand_note(cell):
    meta = notebooks.nbgrader_metadata(cell)
    unchanged = meta.get("checksum") == nbgrader_utils.compute_checksum(cell)
    return "not answered yet" if unchanged else ""


def _edited(cell):
    meta = notebooks.nbgrader_metadata(cell)
    if "checksum" not in meta:
        return False
    return meta["checksum"] != nbgrader_utils.compute_checksum(cell)


def _first_line(text):
    lines = _ANSI_ESCAPE.sub("", text or "").strip().splitlines()
    return lines[0].strip() if lines else ""


def _failing_source_line(traceback):
    for entry in reversed(traceback):
        for line in _ANSI_ESCAPE.sub("", entry).splitlines():
            match = _FAILING_LINE.match(line)
            if match and match.group(1).strip():
                return match.group(1).strip()
    return ""


def _display_name(path, root):
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)
