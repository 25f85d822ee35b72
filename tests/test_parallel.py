"""Parallel autograding: worker threads, PostgreSQL and a Dask cluster.

A generated class of ex12 (the reference, the blank release, mutants and
one student whose notebook sleeps in an answer cell, long enough to be
killed mid-grading) is graded one student at a time into SQLite; that is
the baseline. Parallel grading must give exactly its scores: with SQLite,
with PostgreSQL and on a Dask cluster of local worker processes. Killing a
worker in the middle of the slow student must either grade the student
again or report it and leave the earlier grades in place.

PostgreSQL: ``.ci/run`` starts a server on 127.0.0.1 and sets
``COURSE_TEST_POSTGRES`` to its admin URL; each test creates its own
database there. Without that variable the PostgreSQL tests are skipped,
unless ``COURSE_REQUIRE_POSTGRES=1`` makes that a failure.
"""

import io
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from course_tools import ROOT, gradebook, notebooks
from course_tools.instructor import autograde_reviews
from tests.grading.classes import scratch_course, submit_class

pytestmark = pytest.mark.grading

PROBLEM_SET = "ex12"
CLASS_SIZE = 4
SLOW = "slow-sleeper"
SLEEP_SECONDS = 8
# The top of the answer cell; the slow student's notebook sleeps before it.
SLOW_OLD = "def sigmoid(t):"
SLOW_NEW = f"import time\ntime.sleep({SLEEP_SECONDS})\n\n\ndef sigmoid(t):"


def postgres_admin_url():
    url = os.environ.get("COURSE_TEST_POSTGRES", "").strip()
    if not url:
        if os.environ.get("COURSE_REQUIRE_POSTGRES") == "1":
            pytest.fail("COURSE_REQUIRE_POSTGRES=1 but COURSE_TEST_POSTGRES is not "
                        "set: start PostgreSQL as .ci/run does.")
        pytest.skip("COURSE_TEST_POSTGRES is not set; .ci/run starts PostgreSQL "
                    "and sets it")
    return url


@pytest.fixture
def postgres_url():
    """Create an empty database for one test; drop it afterwards."""
    import psycopg

    admin = postgres_admin_url()
    name = f"course_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(admin)
    yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_class(folder, url=None):
    """Release ex12 in a scratch course and submit the generated class."""
    course = scratch_course(folder, [PROBLEM_SET], url=url)
    students = submit_class(course, PROBLEM_SET, CLASS_SIZE)
    release = course.released_notebook(PROBLEM_SET, PROBLEM_SET)
    reference = notebooks.fill_in(release, course.source_notebook(PROBLEM_SET, PROBLEM_SET))
    course.submit(SLOW, PROBLEM_SET, PROBLEM_SET,
                  notebooks.replace_in_cell(reference, "sigmoid", SLOW_OLD, SLOW_NEW))
    return course, sorted(students + [SLOW])


def grade(course, **options):
    """Autograde the class in-process; return (output, reviews).

    The gradebook reaches the grading as an instructor's would: through
    GRADEBOOK_URL.
    """
    previous = os.environ.get("GRADEBOOK_URL")
    os.environ["GRADEBOOK_URL"] = course.gradebook_url
    stream = io.StringIO()
    try:
        reviews = autograde_reviews(PROBLEM_SET, stream, root=course.root, **options)
    finally:
        if previous is None:
            del os.environ["GRADEBOOK_URL"]
        else:
            os.environ["GRADEBOOK_URL"] = previous
    return stream.getvalue(), reviews


def scores(course):
    """Return {student: {(notebook, cell): (auto, manual, extra)}} of ex12."""
    state = gradebook.grading_state(course.gradebook_url, course.course_id, PROBLEM_SET)
    return {student: saved.grades for student, saved in state.items()}


@pytest.fixture(scope="module")
def sequential(tmp_path_factory):
    """Grade the class one student at a time into SQLite.

    Returns (course, {student: autograded points}, report).
    """
    course, students = make_class(tmp_path_factory.mktemp("sequential") / "course")
    output, reviews = grade(course, jobs=1)
    assert [review.student for review in reviews] == students
    scored = {review.student: review.scored for review in reviews}
    return course, scored, output


@pytest.fixture(scope="module")
def baseline(sequential):
    """{student: {(notebook, cell): (auto, manual, extra)}} of the sequential run."""
    return scores(sequential[0])


def test_baseline_scores_differ_between_students(sequential, baseline):
    _, scored, output = sequential
    grades = baseline
    assert scored[f"{PROBLEM_SET}-000"] == 8, output  # the reference
    assert scored[f"{PROBLEM_SET}-001"] == 0, output  # the blank release
    assert scored[SLOW] == 8, output
    assert len(set(scored.values())) >= 3, scored
    assert sorted(grades) == sorted(scored)
    # Every test cell has its autograder score; only the written answer
    # may wait for a person (an unchanged blank answer scores 0 at once).
    for student, cells in grades.items():
        unscored = {cell for cell, (auto, _, _) in cells.items() if auto is None}
        assert unscored <= {(PROBLEM_SET, "symmetric_weights_answer")}, (student, unscored)
        assert len(cells) == 5, cells


def test_parallel_sqlite_matches_sequential(tmp_path, baseline):
    course, _ = make_class(tmp_path / "course")
    environment = {key: value for key, value in os.environ.items()
                   if key != "GRADEBOOK_URL"}

    # The command that `make autograde PS=ex12 JOBS=2` runs.
    result = subprocess.run(
        [sys.executable, "-m", "course_tools", "--root", str(course.root),
         "autograde", PROBLEM_SET, "--jobs", "2"],
        capture_output=True, text=True, env=environment, cwd=ROOT,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "in 2 parallel workers" in result.stdout
    assert scores(course) == baseline, result.stdout


class Killer:
    """Kill the process that grades SLOW once its notebook has run a while.

    Only an nbgrader process working in ``course``'s root counts, so other
    grading runs on the machine are left alone. ``target`` picks the
    process to kill from the nbgrader process: itself (a worker of this
    machine) or its parent (a Dask worker).
    """

    def __init__(self, course, target=lambda pid: pid, after=3.0):
        self.root = str(course.root.resolve())
        self.target = target
        self.after = after
        self.killed = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()

    def _run(self):
        seen = None
        while not self._stop.is_set() and not self.killed:
            pid = _grading_process(SLOW, self.root)
            if pid is not None and seen is None:
                seen = time.monotonic()
            if pid is not None and time.monotonic() - seen >= self.after:
                victim = self.target(pid)
                os.kill(victim, signal.SIGKILL)
                self.killed.append(victim)
            time.sleep(0.1)


def _grading_process(student, root):
    """Return the pid of ``nbgrader autograde ... --student student`` in
    ``root``, or None."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                words = handle.read().split(b"\0")
        except OSError:
            continue
        if not (b"nbgrader" in words and b"autograde" in words
                and student.encode() in words):
            continue
        try:
            if os.readlink(f"/proc/{entry}/cwd") == root:
                return int(entry)
        except OSError:
            continue
    return None


def _parent(pid):
    with open(f"/proc/{pid}/stat") as handle:
        return int(handle.read().rsplit(")", 1)[1].split()[1])


def _autograded_files(course):
    folder = course.root / "autograded"
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def test_postgres_parallel_grading(tmp_path, baseline, postgres_url):
    course, students = make_class(tmp_path / "course", url=postgres_url)
    assert course.gradebook_url.startswith("postgresql://")

    first_output, _ = grade(course, jobs=2)
    first = gradebook.grading_state(course.gradebook_url, course.course_id, PROBLEM_SET)
    assert {student: saved.grades for student, saved in first.items()} == baseline, \
        first_output
    files = _autograded_files(course)
    assert len(files) == len(students)

    # The same grading again changes nothing, timestamps included.
    again_output, _ = grade(course, jobs=2)
    assert gradebook.grading_state(
        course.gradebook_url, course.course_id, PROBLEM_SET) == first, again_output
    assert _autograded_files(course) == files

    # A worker killed with no retry left: reported, earlier grades kept.
    with Killer(course) as killer:
        output, reviews = grade(course, jobs=2, retries=0)
    assert killer.killed, "the slow student's nbgrader process never showed up"
    lost = {review.student: review for review in reviews}[SLOW]
    assert not lost.graded, output
    assert "the worker was killed (signal 9)" in output, output
    assert "the gradebook keeps the grades of the earlier autograding" in output, output
    assert gradebook.grading_state(
        course.gradebook_url, course.course_id, PROBLEM_SET) == first, output
    assert _autograded_files(course) == files

    # With a retry, the student is graded again and nothing differs.
    with Killer(course) as killer:
        output, reviews = grade(course, jobs=2, retries=1)
    assert killer.killed
    assert all(review.graded for review in reviews), output
    assert "graded in 2 tries" in output, output
    assert scores(course) == baseline, output


def _interrupt_grading(course):
    """Run the autograde command with JOBS=2 and press Ctrl-C while it grades
    the slow student; return (result, seconds from Ctrl-C to exit)."""
    environment = dict(os.environ, GRADEBOOK_URL=course.gradebook_url)
    process = subprocess.Popen(
        [sys.executable, "-m", "course_tools", "--root", str(course.root),
         "autograde", PROBLEM_SET, "--jobs", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=environment, cwd=ROOT, start_new_session=True,
        # A shell without job control starts background commands with
        # SIGINT ignored, which the command would inherit.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    root = str(course.root.resolve())
    deadline = time.monotonic() + 120
    while _grading_process(SLOW, root) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(3)
    # A terminal sends Ctrl-C to the whole foreground process group.
    os.killpg(process.pid, signal.SIGINT)
    pressed = time.monotonic()
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), \
        time.monotonic() - pressed


def test_ctrl_c_restores_unfinished_students(tmp_path, postgres_url):
    course, students = make_class(tmp_path / "course", url=postgres_url)
    modes = {path.name: path.stat().st_mode for path in course.root.iterdir()}

    result, seconds = _interrupt_grading(course)

    output = result.stdout + result.stderr
    assert result.returncode == 130, output
    assert seconds < 30, f"the command took {seconds:.0f} s to stop:\n{output}"
    assert "Grading stopped after" in result.stdout, output
    left = result.stdout.split("earlier grades kept: ", 1)[1].split(".\n", 1)[0].split(", ")
    assert SLOW in left, output
    state = gradebook.grading_state(course.gradebook_url, course.course_id, PROBLEM_SET)
    for student in left:
        # Graded for the first time: an entry without autograder scores.
        if student in state:
            assert _autograder_scores(state[student]) == [], student
        assert not (course.root / "autograded" / student).exists(), student
    assert _grading_process(SLOW, str(course.root.resolve())) is None
    assert {path.name: path.stat().st_mode for path in course.root.iterdir()
            if path.name in modes} == modes


def _autograder_scores(saved):
    return [auto for auto, _, _ in saved.grades.values() if auto is not None]


def test_killed_first_grading_leaves_no_scores(tmp_path, postgres_url):
    course, students = make_class(tmp_path / "course", url=postgres_url)

    with Killer(course) as killer:
        output, reviews = grade(course, jobs=2, retries=0)

    assert killer.killed
    state = gradebook.grading_state(course.gradebook_url, course.course_id, PROBLEM_SET)
    assert sorted(state) == students
    assert _autograder_scores(state[SLOW]) == [], f"half-written grades: {state[SLOW]}"
    assert all(_autograder_scores(state[student]) for student in students if student != SLOW)
    assert not (course.root / "autograded" / SLOW).exists()
    assert f"  {SLOW}  not graded" in output, output
    assert "earlier autograding" not in output, output


@pytest.fixture
def dask_cluster():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, silence_logs=40,
    )
    try:
        yield cluster
    finally:
        cluster.close()


def test_dask_cluster_grading(tmp_path, baseline, postgres_url, dask_cluster):
    course, _ = make_class(tmp_path / "course", url=postgres_url)
    address = dask_cluster.scheduler_address

    output, _ = grade(course, scheduler=address)
    assert f"on the Dask cluster at {address}" in output
    assert scores(course) == baseline, output

    # Kill the Dask worker process that runs the slow student's nbgrader:
    # the scheduler runs the task again on a worker that is alive.
    with Killer(course, target=_parent) as killer:
        output, reviews = grade(course, scheduler=address)
    assert killer.killed
    assert all(review.graded for review in reviews), output
    assert scores(course) == baseline, output


def test_unreachable_scheduler_is_a_clear_error(sequential, baseline):
    from course_tools.instructor import InstructorError

    course = sequential[0]
    with pytest.raises(InstructorError, match="Cannot reach the Dask scheduler"):
        grade(course, scheduler="tcp://127.0.0.1:9")
    assert scores(course) == baseline
