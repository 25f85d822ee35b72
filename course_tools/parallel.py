"""Autograde the students of a problem set in parallel workers.

One task autogrades one student: ``nbgrader autograde PS --student S
--create --force`` in the course root, in a sandboxed kernel slot of the
machine it runs on (sandbox.py). ``grade_students`` sends the tasks to

- N worker threads of this process (``jobs``), each starting one nbgrader
  process at a time, or
- a Dask distributed cluster (``scheduler``, the address of its
  scheduler), whose workers must see the course root at the same path and
  run the course's virtual environment.

Workers write the grades themselves, into the gradebook that
course_tools.gradebook names: SQLite on one machine, PostgreSQL for many.
Everything else stays in the calling process, one student at a time.

A worker that dies in the middle of a student (killed, out of memory, a
lost machine) is retried ``retries`` times. Before the first try, the
student's grades and autograded folder are saved. They are put back when
every try was lost, when nbgrader failed or timed out on the student, and
when the grading stops early (Ctrl-C, SIGTERM, a lost database), so the
gradebook never keeps half of a grading.
"""

import concurrent.futures
import logging
import os
import queue
import shutil
import signal
import socket
import tempfile
import time
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass
from pathlib import Path

from . import gradebook

logger = logging.getLogger(__name__)

# Threads the numerical libraries of one kernel may start, per variable.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class ParallelError(RuntimeError):
    """Grading cannot start; the message names what to change."""


@dataclass(frozen=True)
class Task:
    """Everything a worker needs to autograde one student."""

    root: str
    problem_set: str
    student: str
    url: str
    limits: object  # sandbox.Limits, or None to grade without the sandbox
    threads: int  # 0 leaves the numerical libraries their default


@dataclass(frozen=True)
class Outcome:
    """Result of one student's task."""

    student: str
    error: str | None  # one line; None when nbgrader graded the student
    lost: bool  # the worker died before nbgrader finished
    seconds: float
    host: str
    tries: int = 1
    kept_earlier: bool = False  # the earlier grades were put back


def run_task(task, slot=None, running=None):
    """Autograde one student; return an Outcome. Runs in the worker.

    ``slot`` is an open KernelSlot to reuse; without one, a task with limits
    opens its own for the time of the task. ``running`` is the set that
    contains the nbgrader process while it runs (Course.nbgrader).
    """
    from .grading import Course, NbgraderError
    from .instructor import failure_reason
    from .sandbox import KernelSlot

    start = time.monotonic()
    host = socket.gethostname()
    root = Path(task.root)

    def outcome(error=None, lost=False):
        return Outcome(task.student, error, lost, time.monotonic() - start, host)

    if not (root / "nbgrader_config.py").is_file():
        return outcome(
            f"worker {host} finds no course at {root}: mount the course root "
            "at the same path on every worker"
        )
    environment = {}
    if task.threads:
        environment.update({name: str(task.threads) for name in THREAD_VARIABLES})
    if slot is None and task.limits is not None:
        context = KernelSlot(task.limits)
    else:
        context = nullcontext(slot)
    timeout = task.limits.submission_seconds if task.limits is not None else None
    course = Course(root, url=task.url)
    with context as kernels:
        try:
            course.nbgrader(
                "autograde", task.problem_set, "--student", task.student,
                "--create", "--force",
                timeout=timeout, sandbox=kernels, environment=environment,
                die_with_parent=True, running=running,
            )
        except NbgraderError as error:
            if error.returncode is not None and error.returncode < 0:
                return outcome(f"the worker was killed (signal {-error.returncode})",
                               lost=True)
            if error.returncode is None:
                return outcome(
                    f"grading took longer than the limit of {timeout} s per "
                    "submission (c.CourseSandbox.submission_seconds in "
                    "nbgrader_config.py); look for a slow or endless loop, or "
                    "raise the limit"
                )
            return outcome(failure_reason(str(error)))
        finally:
            if kernels is not None:
                kernels.clean_up()
    return outcome()


class LocalWorkers:
    """``jobs`` worker threads, each with its own kernel slot."""

    def __init__(self, jobs, sandbox):
        self.jobs = jobs
        self.sandbox = sandbox
        self.running = set()
        self.stopped = False
        self._stack = ExitStack()

    def __enter__(self):
        self.slots = queue.Queue()
        if self.sandbox is None:
            for _ in range(self.jobs):
                self.slots.put(None)
        else:
            # The sandbox's own slot serves the first worker.
            self.slots.put(self.sandbox)
            for _ in range(self.jobs - 1):
                self.slots.put(self._stack.enter_context(self.sandbox.slot()))
        self.executor = self._stack.enter_context(
            concurrent.futures.ThreadPoolExecutor(self.jobs, thread_name_prefix="grader")
        )
        return self

    def __exit__(self, exc_type, *exc_info):
        if exc_type is not None:
            self.stop()
        return self._stack.__exit__(exc_type, *exc_info)

    def stop(self):
        """Cancel the tasks not started and kill the nbgrader processes."""
        self.stopped = True
        self.executor.shutdown(wait=False, cancel_futures=True)
        for process in list(self.running):
            process.kill()

    def submit(self, task):
        return self.executor.submit(self._run, task)

    def _run(self, task):
        if self.stopped:
            return Outcome(task.student, "grading was stopped", lost=True,
                           seconds=0.0, host=socket.gethostname())
        slot = self.slots.get()
        try:
            return run_task(task, slot, self.running)
        finally:
            self.slots.put(slot)

    def describe(self):
        return f"{self.jobs} worker(s) on this machine"


class DaskWorkers:
    """The workers of a Dask distributed cluster."""

    def __init__(self, scheduler, root):
        self.scheduler = scheduler
        self.root = str(root)
        self.futures = []

    def __enter__(self):
        try:
            from distributed import Client
        except ImportError as error:
            raise ParallelError(
                "Dask distributed is not installed: run make venv, which "
                "installs requirements.txt."
            ) from error
        try:
            self.client = Client(self.scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as error:
            raise ParallelError(
                f"Cannot reach the Dask scheduler at {self.scheduler}: {error}. "
                "Start it with `dask scheduler` and its workers with `dask "
                f"worker {self.scheduler}`, then grade again."
            ) from error
        self.executor = self.client.get_executor(pure=False)
        workers = self.client.scheduler_info()["workers"]
        if not workers:
            self.client.close()
            raise ParallelError(
                f"The Dask scheduler at {self.scheduler} has no workers: start "
                f"some with `dask worker {self.scheduler}`."
            )
        return self

    def __exit__(self, exc_type, *exc_info):
        try:
            if exc_type is not None:
                self.stop()
        finally:
            self.client.close()

    def stop(self):
        """Cancel the tasks and kill the nbgrader processes that the workers
        run for this course."""
        # Cancelling a running task does not stop its thread on the worker,
        # so the nbgrader processes are killed as well.
        self.executor.shutdown(wait=False)
        try:
            self.client.run(kill_grading, self.root)
        except Exception as error:  # noqa: BLE001: report and go on stopping
            logger.error("Could not stop the grading on the Dask workers: %s", error)

    def submit(self, task):
        future = self.executor.submit(run_task, task)
        self.futures.append(future)
        return future

    def describe(self):
        count = len(self.client.scheduler_info()["workers"])
        return f"{count} Dask worker(s) of {self.scheduler}"


def kill_grading(root):
    """Kill the nbgrader processes that this process started in ``root``.

    Runs in each Dask worker process, through Client.run, when grading
    stops early. Returns the ids of the killed processes.
    """
    killed = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            if parent != os.getpid() or os.readlink(f"/proc/{entry}/cwd") != root:
                continue
            os.kill(int(entry), signal.SIGKILL)
        except (OSError, ValueError):
            continue
        killed.append(int(entry))
    return killed


def worker_threads(jobs):
    """Threads per kernel that keep ``jobs`` parallel kernels to the cores."""
    if jobs <= 1:
        return 0
    return max(1, (os.cpu_count() or 1) // jobs)


def grade_students(course, problem_set, students, sandbox=None, jobs=1,
                   scheduler=None, retries=1):
    """Autograde ``students`` in parallel; yield an Outcome as each ends.

    ``sandbox`` is the open Sandbox of the run, or None without one. When
    the grading of a student fails, the grades and autograded folder saved
    before are put back. A student graded for the first time has none, so
    the folder that nbgrader left is deleted. When the caller stops early (an exception, Ctrl-C,
    closing the generator), the workers are stopped and every student not
    yet handed to the caller gets back what was saved.
    """
    url = course.gradebook_url
    course_id = course.course_id
    gradebook.prepare(url, course_id, students)
    limits = sandbox.limits if sandbox is not None else None
    root = course.root.resolve()
    if scheduler:
        workers = DaskWorkers(scheduler, root)
        threads = 0
    else:
        workers = LocalWorkers(max(1, jobs), sandbox)
        threads = worker_threads(jobs)
    backups = Path(tempfile.mkdtemp(prefix="course-grading-backup-"))
    saved, finished = {}, set()
    complete = False
    try:
        with workers:
            logger.info("Grading %d student(s) of %s with %s into %s", len(students),
                        problem_set, workers.describe(), gradebook.describe(url))
            pending = {}
            for student in students:
                saved[student] = _save(course, course_id, problem_set, student, backups)
                task = Task(str(root), problem_set, student, url, limits, threads)
                pending[workers.submit(task)] = (task, 1)
            while pending:
                done, _ = concurrent.futures.wait(
                    pending, return_when=concurrent.futures.FIRST_COMPLETED
                )
                for future in done:
                    task, tries = pending.pop(future)
                    result = _result(future, task)
                    if result.lost and tries <= retries:
                        logger.warning("Worker on %s lost while grading %s (%s); trying again",
                                       result.host, task.student, result.error)
                        _restore(course, course_id, problem_set, task.student,
                                 saved[task.student], backups)
                        pending[workers.submit(task)] = (task, tries + 1)
                        continue
                    kept_earlier = False
                    if result.error is not None:
                        _restore(course, course_id, problem_set, task.student,
                                 saved[task.student], backups)
                        kept_earlier = _has_scores(saved[task.student])
                    yield Outcome(result.student, result.error, result.lost,
                                  result.seconds, result.host, tries, kept_earlier)
                    finished.add(task.student)
        complete = True
    finally:
        failed = []
        if not complete:
            failed = _restore_unfinished(course, course_id, problem_set, saved,
                                         finished, backups)
        if failed:
            logger.error(
                "The earlier grades of %s may not be back in the gradebook. Their "
                "earlier autograded folders are back, and copies stay in %s; grade "
                "them again once the gradebook works.", ", ".join(failed), backups,
            )
        else:
            shutil.rmtree(backups, ignore_errors=True)


def _result(future, task):
    """Return the future's Outcome; a worker lost by Dask becomes one too."""
    try:
        return future.result()
    except Exception as error:  # noqa: BLE001: any failure of the cluster
        name = type(error).__name__
        return Outcome(task.student, f"the worker failed ({name}: {error})"[:300],
                       lost=True, seconds=0.0, host="?")


def _save(course, course_id, problem_set, student, backups):
    """Save the student's grades and a copy of the autograded folder."""
    folder = course.root / "autograded" / student / problem_set
    if folder.is_dir():
        shutil.copytree(folder, backups / student, symlinks=True)
    return gradebook.snapshot(course.gradebook_url, course_id, problem_set, student)


def _has_scores(saved):
    """True when a Snapshot contains autograder scores of an earlier grading."""
    return saved is not None and any(
        auto is not None for auto, _, _ in saved.grades.values()
    )


def _restore(course, course_id, problem_set, student, saved, backups):
    """Put back what _save kept, removing what a failed grading wrote.

    The folder goes first, so that it is back even when the gradebook
    cannot be reached. A student graded for the first time keeps a
    gradebook entry with no autograder scores, which ``make grades``
    reports as "not autograded".
    """
    folder = course.root / "autograded" / student / problem_set
    if folder.exists():
        shutil.rmtree(folder)
    if (backups / student).is_dir():
        shutil.copytree(backups / student, folder, symlinks=True)
    elif folder.parent.is_dir() and not any(folder.parent.iterdir()):
        folder.parent.rmdir()
    gradebook.restore(course.gradebook_url, course_id, problem_set, student, saved)


def _restore_unfinished(course, course_id, problem_set, saved, finished, backups):
    """Put back the saved state of every student not handed to the caller.

    Returns the students whose gradebook rows could not be put back.
    """
    failed = []
    for student in saved:
        if student in finished:
            continue
        try:
            _restore(course, course_id, problem_set, student, saved[student], backups)
        except Exception as error:  # noqa: BLE001: restore the others
            logger.error("Could not put back the earlier grades of %s: %s", student,
                         gradebook.first_line(error))
            failed.append(student)
    return failed
