"""Location of the gradebook, and the grading state of one submission.

The gradebook is nbgrader's database. By default it is the SQLite file
``gradebook.db`` of the course root. ``GRADEBOOK_URL`` in the environment
names another database in nbgrader's URL form, e.g.
``postgresql://grader:secret@127.0.0.1:5432/ml_course`` (characters such as
``@ # / ?`` in the password percent-encoded), for grading in
parallel workers or on several machines; nbgrader_config.py passes it to
nbgrader as ``CourseDirectory.db_url``.

SQLite lets one writer at a time change the file. Parallel workers each
wait for the others' writes, for up to ``SQLITE_BUSY_SECONDS``, through
the ``timeout`` of the SQLite driver, which the URL carries.

``snapshot`` and ``restore`` save and put back everything autograding
writes for one student's submission, so a worker killed half way through
leaves the earlier grades, or none, instead of a mix.
"""

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy.exc import SAWarning

GRADEBOOK_FILE = "gradebook.db"
SQLITE_BUSY_SECONDS = 600


class GradebookError(RuntimeError):
    """The gradebook cannot be opened; the message names what to check."""


def gradebook_url(root):
    """Return the course's gradebook URL: GRADEBOOK_URL, else the SQLite file."""
    configured = os.environ.get("GRADEBOOK_URL", "").strip()
    if configured:
        return configured
    return sqlite_url(root)


def sqlite_url(root):
    """Return the URL of ``root``/gradebook.db, with the busy timeout."""
    path = Path(root).resolve() / GRADEBOOK_FILE
    return f"sqlite:///{path}?timeout={SQLITE_BUSY_SECONDS}"


def is_sqlite(url):
    return url.startswith("sqlite:")


def describe(url):
    """Return ``url`` without its password and query, for messages and logs.

    The text up to the last "@" is the user and password, whatever
    characters the password holds, because a host name has no "@".
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        return "<gradebook URL without a scheme>"
    if "@" in rest:
        credentials, rest = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        rest = f"{user}:***@{rest}"
    return f"{scheme}://{rest.split('?', 1)[0]}"


def exists(url):
    """True when the gradebook has nbgrader's tables.

    A SQLite file is never created by asking. Another database that cannot
    be reached raises the driver's error.
    """
    if is_sqlite(url):
        path = url[len("sqlite:///"):].split("?", 1)[0]
        return Path(path).is_file()
    from sqlalchemy import create_engine, inspect

    engine = create_engine(url)
    try:
        return "assignment" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def require_reachable(url):
    """Raise GradebookError unless the gradebook's database can be opened.

    A SQLite file needs no check: nbgrader creates it. Returns whether the
    gradebook has nbgrader's tables.
    """
    try:
        return exists(url)
    except Exception as error:  # noqa: BLE001: whatever the database driver raises
        raise GradebookError(
            f"Cannot open the gradebook {describe(url)} (GRADEBOOK_URL): "
            f"{type(error).__name__}: {first_line(error)}. Check that "
            "the database server runs, that the database exists (create it with "
            "createdb, then run make release), and that the address, user and "
            "password are right."
        ) from error


def first_line(error):
    """Return the first line of a database error, without SQLAlchemy's link."""
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines() or [type(cause).__name__]
    return lines[0][:300]


def prepare(url, course_id, students):
    """Create the rows that parallel workers would otherwise race to create.

    nbgrader creates missing tables, the course and the students when a
    command first needs them. Two workers doing that at once on PostgreSQL
    both insert, and one fails. Run once, before the workers start.
    """
    # nbgrader's SaveAutoGrades opens the gradebook with the default course
    # id, so that course row is needed too.
    with Gradebook(url):
        pass
    with Gradebook(url, course_id) as gradebook:
        for student in students:
            gradebook.update_or_create_student(student)


@dataclass(frozen=True)
class Snapshot:
    """Everything autograding writes for one submission."""

    timestamp: object
    notebooks: dict  # name -> (flagged, late penalty)
    grades: dict  # (notebook, cell) -> (auto, manual, extra credit)
    comments: dict  # (notebook, cell) -> (auto comment, manual comment)


def snapshot(url, course_id, problem_set, student):
    """Return the Snapshot of a student's submission, or None."""
    with Gradebook(url, course_id) as gradebook:
        try:
            submission = gradebook.find_submission(problem_set, student)
        except MissingEntry:
            return None
        return Snapshot(
            timestamp=submission.timestamp,
            notebooks={
                notebook.name: (notebook.flagged, notebook.late_submission_penalty)
                for notebook in submission.notebooks
            },
            grades={
                (notebook.name, grade.name):
                    (grade.auto_score, grade.manual_score, grade.extra_credit)
                for notebook in submission.notebooks
                for grade in notebook.grades
            },
            comments={
                (notebook.name, comment.name):
                    (comment.auto_comment, comment.manual_comment)
                for notebook in submission.notebooks
                for comment in notebook.comments
            },
        )


def restore(url, course_id, problem_set, student, saved):
    """Put back a Snapshot.

    With None (no earlier grading), the submission stays in the gradebook
    with no autograder scores, which ``make grades`` reports as "not
    autograded": the student did hand it in.
    """
    with Gradebook(url, course_id) as gradebook:
        try:
            submission = gradebook.find_submission(problem_set, student)
        except MissingEntry:
            # nbgrader's add_submission warns about its own autoflush while
            # it creates the rows; the rows are created all the same.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SAWarning)
                submission = gradebook.add_submission(problem_set, student)
        if saved is None:
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    grade.auto_score = None
                for comment in notebook.comments:
                    comment.auto_comment = None
            gradebook.db.commit()
            return
        submission.timestamp = saved.timestamp
        for notebook in submission.notebooks:
            if notebook.name in saved.notebooks:
                notebook.flagged, notebook.late_submission_penalty = saved.notebooks[notebook.name]
            for grade in notebook.grades:
                values = saved.grades.get((notebook.name, grade.name))
                if values is not None:
                    grade.auto_score, grade.manual_score, grade.extra_credit = values
            for comment in notebook.comments:
                values = saved.comments.get((notebook.name, comment.name))
                if values is not None:
                    comment.auto_comment, comment.manual_comment = values
        gradebook.db.commit()


def grading_state(url, course_id, problem_set):
    """Return {student: Snapshot} of every submission of a problem set."""
    with Gradebook(url, course_id) as gradebook:
        students = sorted(
            submission.student.id
            for submission in gradebook.find_assignment(problem_set).submissions
        )
    return {
        student: snapshot(url, course_id, problem_set, student)
        for student in students
    }
