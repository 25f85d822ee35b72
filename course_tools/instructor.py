"""Grade a class with nbgrader: collect, autograde, feedback and grades.

Every function acts on a course root, the folder with source/, release/,
nbgrader_config.py and gradebook.db, and runs nbgrader there. Submissions
live in ``submitted/<student>/<ps>/<ps>.ipynb``, as nbgrader expects.
"""

import contextlib
import csv
import logging
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy.exc import SQLAlchemyError

from . import ROOT, released_problem_sets
from . import gradebook
from .grading import Course, NbgraderError
from .parallel import ParallelError, grade_students
from .review import review_submission
from .sandbox import open_sandbox
from .validate import load_config

logger = logging.getLogger(__name__)

# The last line of a Python traceback: "package.module.NameError: message".
_EXCEPTION_LINE = re.compile(
    r"^\s*(?:[A-Za-z_][\w]*\.)*([A-Za-z_]\w*(?:Error|Exception|Interrupt|Exit)):\s?(.*)$"
)

NAMING_SCHEME = "<student_id>_<anything>_<notebook>.ipynb"


class InstructorError(RuntimeError):
    """A command cannot run; the message names the step to run first."""


@dataclass(frozen=True)
class GradingFailure:
    """A submission that nbgrader could not grade."""

    student: str
    reason: str


def submitted_students(root, problem_set):
    """Return the students with a folder submitted/<student>/<ps>/, sorted."""
    submitted = Path(root) / "submitted"
    if not submitted.is_dir():
        return []
    return sorted(
        path.parent.name
        for path in submitted.glob(f"*/{problem_set}")
        if path.is_dir()
    )


def require_problem_set(root, problem_set, example="make autograde PS=ex12"):
    """Raise InstructorError unless release/ has ``problem_set``."""
    available = released_problem_sets(root)
    if not problem_set:
        raise InstructorError(
            f"Name the problem set, e.g. {example}. release/ has: "
            f"{', '.join(available) or 'nothing; run make release first'}."
        )
    if problem_set not in available:
        raise InstructorError(
            f"Unknown problem set {problem_set!r}. release/ has: "
            f"{', '.join(available) or 'nothing'}. Run make release after "
            "adding a problem set to source/."
        )


def autograde(problem_set, stream, root=ROOT, jobs=1, scheduler=None, retries=1):
    """Autograde every submission of ``problem_set``, one student per task.

    Returns the GradingFailures; the other submissions are graded even
    when some fail. ``jobs``, ``scheduler`` and ``retries`` are those of
    autograde_reviews.
    """
    reviews = autograde_reviews(problem_set, stream, root, jobs=jobs,
                                scheduler=scheduler, retries=retries)
    failures = [
        GradingFailure(review.student, review.error or review.summary())
        for review in reviews if not review.graded
    ]
    graded = len(reviews) - len(failures)
    stream.write(f"Graded {graded} of {len(reviews)} submission(s) of {problem_set}.\n")
    if failures:
        stream.write(f"Could not grade {len(failures)} submission(s):\n")
        for failure in failures:
            stream.write(f"  {failure.student}: {failure.reason}\n")
        stream.write(
            "Fix or replace those notebooks in submitted/<student>/"
            f"{problem_set}/ and run make autograde PS={problem_set} again. "
            "A student whose worker was lost needs only the second step.\n"
        )
    flagged = [review.student for review in reviews if review.tampering]
    if flagged:
        stream.write(
            f"Tampering found in {len(flagged)} submission(s): {', '.join(flagged)}. "
            "Their autograded cells score 0; review them in the formgrader.\n"
        )
    return failures


def autograde_reviews(problem_set, stream, root=ROOT, jobs=1, scheduler=None,
                      retries=1):
    """Autograde every submission of ``problem_set`` and explain each score.

    nbgrader grades one student per task (parallel.py): in ``jobs`` worker
    processes on this machine, or on the Dask cluster whose scheduler
    address is ``scheduler``, in the sandboxed kernel of sandbox.py unless
    COURSE_SANDBOX=0. A task whose worker died is tried ``retries`` more
    times. Each student is then reviewed here, one at a time (review.py):
    tampering sets the notebook's autograded cells to 0, and every reason
    found is written below the student's line. Returns the Reviews in the
    order of the students.
    """
    root = Path(root)
    require_problem_set(root, problem_set)
    course = Course(root)
    _require_assignment(course, problem_set)
    students = submitted_students(root, problem_set)
    if not students:
        raise InstructorError(
            f"No submissions of {problem_set}: submitted/<student>/"
            f"{problem_set}/ does not exist for any student. Import them "
            "with make collect ZIP=<zip of submissions>, or copy each "
            f"notebook to submitted/<student>/{problem_set}/{problem_set}.ipynb."
        )
    if jobs < 1:
        raise InstructorError(f"JOBS must be 1 or more, not {jobs}.")

    width = max(len(student) for student in students)
    where = f" on the Dask cluster at {scheduler}" if scheduler else (
        f" in {jobs} parallel workers" if jobs > 1 else "")
    stream.write(f"Autograding {len(students)} submission(s) of {problem_set}{where}\n")
    stream.flush()
    reviews = {}
    try:
        with open_sandbox(root) as sandbox:
            outcomes = grade_students(course, problem_set, students, sandbox,
                                      jobs=jobs, scheduler=scheduler, retries=retries)
            with contextlib.closing(outcomes):
                for outcome in outcomes:
                    reviews[outcome.student] = _review(course, problem_set, outcome,
                                                       width, stream)
    except ParallelError as error:
        raise InstructorError(str(error)) from error
    except SQLAlchemyError as error:
        _report_unfinished(stream, problem_set, students, reviews, restored=False)
        raise InstructorError(
            f"The gradebook {gradebook.describe(course.gradebook_url)} failed during "
            f"grading: {type(error).__name__}: {gradebook.first_line(error)}. "
            f"Check the database server, then run make autograde PS={problem_set} again."
        ) from error
    except (KeyboardInterrupt, SystemExit):
        _report_unfinished(stream, problem_set, students, reviews)
        raise
    return [reviews[student] for student in students]


def _review(course, problem_set, outcome, width, stream):
    """Review one graded student and print their lines; return the Review."""
    student = outcome.student
    error = outcome.error or _missing_notebook(course, problem_set, student)
    review = review_submission(course, problem_set, student, error)
    if review.graded:
        stream.write(
            f"  {student:<{width}}  {review.scored:g} / "
            f"{review.available:g} autograded points\n"
        )
    else:
        stream.write(f"  {student:<{width}}  not graded\n")
    for reason in review.reasons:
        stream.write(f"  {'':<{width}}    - {reason}\n")
    if outcome.kept_earlier:
        stream.write(f"  {'':<{width}}    - the gradebook keeps the grades of the "
                     "earlier autograding\n")
    if outcome.tries > 1:
        stream.write(f"  {'':<{width}}    - graded in {outcome.tries} tries: "
                     "a worker was lost\n")
    stream.flush()
    return review


def _report_unfinished(stream, problem_set, students, reviews, restored=True):
    """Say which students an interrupted grading left as they were.

    ``restored`` is False when the gradebook failed, so putting back the
    earlier grades may have failed too (the log names those students).
    """
    left = [student for student in students if student not in reviews]
    earlier_grades = ("with their earlier grades kept" if restored
                      else "with their earlier grades put back where the gradebook allowed")
    stream.write(
        f"Grading stopped after {len(reviews)} of {len(students)} submission(s) of "
        f"{problem_set}. Not graded, {earlier_grades}: {', '.join(left) or 'none'}.\n"
    )
    stream.flush()


def _missing_notebook(course, problem_set, student):
    """Return why a graded student lacks a notebook's grades, or None."""
    for name in course.notebook_names(problem_set):
        try:
            course.cell_scores(problem_set, name, student)
        except MissingEntry:
            found = sorted(
                path.name
                for path in (course.root / "submitted" / student / problem_set).iterdir()
            )
            return (
                f"no {name}.ipynb in submitted/{student}/{problem_set}/ "
                f"(it holds: {', '.join(found) or 'nothing'})"
            )
    return None


def failure_reason(output):
    """Return one line saying why nbgrader failed, from its output."""
    lines = [line for line in output.splitlines() if line.strip()]
    for line in reversed(lines):
        match = _EXCEPTION_LINE.match(line)
        if match:
            return f"{match.group(1)}: {match.group(2).strip()}"[:300]
    for line in lines:
        if "| ERROR]" in line:
            return line.split("]", 1)[1].strip()[:300]
    return lines[-1][:300] if lines else "nbgrader failed without output"


def _require_gradebook(course, step):
    """Raise InstructorError unless the course's gradebook exists."""
    url = course.gradebook_url
    try:
        found = gradebook.require_reachable(url)
    except gradebook.GradebookError as error:
        raise InstructorError(str(error)) from error
    if not found:
        raise InstructorError(
            f"No gradebook at {gradebook.describe(url)}: run {step} first, which "
            "records the problem sets in the gradebook."
        )


def _require_assignment(course, problem_set):
    _require_gradebook(course, "make release")
    with Gradebook(course.gradebook_url) as book:
        try:
            book.find_assignment(problem_set)
        except MissingEntry:
            raise InstructorError(
                f"The gradebook has no assignment {problem_set}: run make "
                "release first, which records it."
            ) from None


def feedback(problem_set, stream, root=ROOT):
    """Write the HTML feedback of every autograded submission.

    Returns the students whose feedback is missing afterwards.
    """
    root = Path(root)
    require_problem_set(root, problem_set, example="make feedback PS=ex12")
    course = Course(root)
    # nbgrader deletes the earlier feedback before it opens the gradebook.
    _require_gradebook(course, "make release and make autograde PS=<problem set>")
    students = sorted(
        path.parent.name
        for path in (root / "autograded").glob(f"*/{problem_set}")
        if path.is_dir()
    )
    if not students:
        raise InstructorError(
            f"No autograded submissions of {problem_set} in autograded/: run "
            f"make autograde PS={problem_set} first."
        )
    try:
        course.nbgrader("generate_feedback", problem_set, "--force")
    except NbgraderError as error:
        # One broken notebook stops nbgrader for everyone, so retry each
        # student alone to write the others' feedback.
        logger.warning("generate_feedback failed (%s); retrying one student at a time",
                       failure_reason(str(error)))
        for student in students:
            try:
                course.nbgrader("generate_feedback", problem_set, "--student", student, "--force")
            except NbgraderError as student_error:
                stream.write(f"  {student}: {failure_reason(str(student_error))}\n")

    missing = []
    stream.write(f"Feedback of {problem_set}, one HTML file per notebook:\n")
    for student in students:
        files = sorted((root / "feedback" / student / problem_set).glob("*.html"))
        if not files:
            missing.append(student)
        for path in files:
            stream.write(f"  {path.relative_to(root)}\n")
    if missing:
        stream.write(
            f"No feedback for: {', '.join(missing)}. Check their notebooks in "
            f"autograded/<student>/{problem_set}/ and run make feedback "
            f"PS={problem_set} again.\n"
        )
    else:
        stream.write(
            f"Wrote the feedback of {len(students)} student(s) under "
            f"{root / 'feedback'}; send each student their folder.\n"
        )
    return missing


GRADE_COLUMNS = ["student_id", "problem_set", "score", "max_score", "status"]


def grade_rows(root=ROOT):
    """Return one row per student and problem set of the gradebook.

    ``score`` includes the manually graded points given so far and is empty
    when the student has no graded submission. ``status`` is "graded",
    "needs manual grading", "not autograded" (nbgrader failed on it) or "no
    submission".
    """
    root = Path(root)
    course = Course(root)
    _require_gradebook(course, "make release and make autograde PS=<problem set>")
    rows = []
    with Gradebook(course.gradebook_url) as book:
        assignments = sorted(book.assignments, key=lambda item: item.name)
        students = sorted(student.id for student in book.students)
        for student in students:
            for assignment in assignments:
                maximum = f"{assignment.max_score:g}"
                try:
                    submission = book.find_submission(assignment.name, student)
                except MissingEntry:
                    rows.append([student, assignment.name, "", maximum, "no submission"])
                    continue
                if not _autograded(submission):
                    rows.append([student, assignment.name, "", maximum, "not autograded"])
                    continue
                status = "needs manual grading" if submission.needs_manual_grade else "graded"
                rows.append([student, assignment.name, f"{submission.score:g}", maximum, status])
    return rows


def _autograded(submission):
    """False for a submission that nbgrader failed to autograde.

    A failed ``nbgrader autograde`` leaves the submission in the gradebook
    with no score on any code cell, which would otherwise read as 0 points.
    """
    code_grades = [
        grade
        for notebook in submission.notebooks
        for grade in notebook.grades
        if grade.cell_type == "code"
    ]
    return not code_grades or any(
        grade.auto_score is not None or grade.manual_score is not None
        for grade in code_grades
    )


def export_grades(output, stream, root=ROOT):
    """Write every score of the gradebook to the CSV file ``output``."""
    rows = grade_rows(root)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(GRADE_COLUMNS)
        writer.writerows(rows)
    students = len({row[0] for row in rows})
    pending = sum(row[4] == "needs manual grading" for row in rows)
    stream.write(f"Wrote {len(rows)} row(s) for {students} student(s) to {output}.\n")
    if pending:
        stream.write(
            f"{pending} submission(s) still need manual grading; their score "
            "lacks those points. Grade them in the formgrader and export again.\n"
        )
    return rows


def collect(zip_path, stream, root=ROOT, problem_set=None):
    """Import a zip of submissions with ``nbgrader zip_collect``.

    Each notebook's file name must match ``named_regexp`` of
    nbgrader_config.py: ``<student_id>_<anything>_<notebook>.ipynb``. The
    problem set is the one whose release has that notebook. Returns the
    names in the zip that were not imported.
    """
    root = Path(root)
    zip_path = Path(zip_path).resolve()
    if not zip_path.exists():
        raise InstructorError(
            f"{zip_path} not found. Pass the archive of submissions that the "
            "learning-management system downloads: make collect "
            "ZIP=path/to/submissions.zip"
        )
    if not zip_path.is_file() or not zipfile.is_zipfile(zip_path):
        raise InstructorError(
            f"{zip_path} is not a zip file. Pass the archive of submissions "
            "that the learning-management system downloads: make collect "
            "ZIP=path/to/submissions.zip"
        )
    if problem_set:
        require_problem_set(root, problem_set, example="make collect ZIP=... PS=ex12")
    config = load_config(root / "nbgrader_config.py")
    expression = config.FileNameCollectorPlugin.get("named_regexp")
    if not expression:
        raise InstructorError(
            f"{root / 'nbgrader_config.py'} sets no "
            "c.FileNameCollectorPlugin.named_regexp, so nbgrader zip_collect "
            "cannot read student ids from file names. Copy that setting from "
            "the course's nbgrader_config.py."
        )
    pattern = re.compile(expression)
    notebook_owners = _notebook_owners(root)

    with zipfile.ZipFile(zip_path) as archive:
        names = [
            name for name in archive.namelist()
            if not name.endswith("/") and not name.startswith("__MACOSX/")
        ]
    plan, skipped = {}, []
    for name in names:
        match = pattern.match("/" + name)
        notebook = match.group("file_id") if match else None
        owner = notebook_owners.get(notebook)
        if not name.endswith(".ipynb") or owner is None:
            skipped.append(name)
            continue
        if problem_set and owner != problem_set:
            continue
        key = (owner, match.group("student_id"), notebook)
        plan.setdefault(key, []).append(name)

    duplicates = {key: files for key, files in plan.items() if len(files) > 1}
    if duplicates:
        details = "; ".join(
            f"{student} has {len(files)} files for {notebook}.ipynb: {', '.join(files)}"
            for (_, student, notebook), files in sorted(duplicates.items())
        )
        raise InstructorError(
            f"{details}. Keep one file per student and notebook in the zip "
            "and run make collect again."
        )

    for owner in sorted({key[0] for key in plan}):
        _zip_collect(root, owner, zip_path)
        imported = sorted({student for (ps, student, _) in plan if ps == owner})
        for student in imported:
            for (ps, who, notebook) in plan:
                target = root / "submitted" / who / ps / f"{notebook}.ipynb"
                if ps == owner and who == student and not target.is_file():
                    raise InstructorError(
                        f"nbgrader zip_collect did not write {target}; run "
                        f"`nbgrader zip_collect {owner} --force` in {root} to "
                        "see its log."
                    )
        stream.write(
            f"Imported {len(imported)} submission(s) of {owner} into "
            f"submitted/: {', '.join(imported)}\n"
        )
    if not plan:
        stream.write(f"Imported nothing from {zip_path.name}.\n")
    if skipped:
        stream.write(
            f"Skipped {len(skipped)} file(s) whose names do not match "
            f"{NAMING_SCHEME} for a notebook in release/:\n"
        )
        for name in skipped:
            stream.write(f"  {name}\n")
        stream.write(
            "Rename them, or copy each to submitted/<student_id>/<ps>/<ps>.ipynb "
            "by hand.\n"
        )
    return skipped


def _notebook_owners(root):
    """Map each released notebook name (no .ipynb) to its problem set."""
    owners = {}
    for problem_set in released_problem_sets(root):
        for path in (Path(root) / "release" / problem_set).glob("*.ipynb"):
            owners[path.stem] = problem_set
    return owners


def _zip_collect(root, problem_set, zip_path):
    """Run nbgrader zip_collect for one problem set on a copy of the zip."""
    archive = root / "downloaded" / problem_set / "archive"
    if archive.exists():
        shutil.rmtree(archive)
    archive.mkdir(parents=True)
    shutil.copy2(zip_path, archive / zip_path.name)
    try:
        Course(root).nbgrader("zip_collect", problem_set, "--force")
    except NbgraderError as error:
        raise InstructorError(
            f"nbgrader zip_collect {problem_set} failed: {failure_reason(str(error))}"
        ) from error
