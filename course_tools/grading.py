"""Run nbgrader in a course folder and read scores from its gradebook.

A ``Course`` wraps one nbgrader course root: a folder with ``source/``,
``nbgrader_config.py`` and, once used, ``gradebook.db``. The demo grading of
``make course`` and the grading tests use a scratch copy of the course, so the
instructor's own gradebook is never written by them.
"""

import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from . import CONFIG_FILE, SOURCE_DIR
from . import gradebook, notebooks
from .sandbox import open_sandbox

logger = logging.getLogger(__name__)


class NbgraderError(RuntimeError):
    """An nbgrader command failed; the message carries its output.

    ``returncode`` is nbgrader's exit status: negative when a signal killed
    it, None when it ran past its time limit.
    """

    def __init__(self, message, returncode=None):
        super().__init__(message)
        self.returncode = returncode


@dataclass(frozen=True)
class CellScore:
    """Score of one graded cell of one submission."""

    grade_id: str
    score: float
    max_score: float
    autograded: bool  # True for a test cell, False for a manual answer

    @property
    def lost(self):
        """True when an autograder test cell scored below its points."""
        return self.autograded and self.score < self.max_score


class Course:
    """An nbgrader course root.

    Its gradebook is ``url`` when given, else the one of GRADEBOOK_URL or
    the root's gradebook.db (course_tools.gradebook).
    """

    def __init__(self, root, url=None):
        self.root = Path(root)
        self._url = url

    @classmethod
    def scratch(cls, folder, problem_sets):
        """Create a course in ``folder`` from a copy of source/.

        ``folder`` is emptied first. Only the named problem sets are copied.
        """
        folder = Path(folder)
        if folder.exists():
            shutil.rmtree(folder)
        (folder / "source").mkdir(parents=True)
        for problem_set in problem_sets:
            shutil.copytree(
                SOURCE_DIR / problem_set,
                folder / "source" / problem_set,
                ignore=shutil.ignore_patterns(".ipynb_checkpoints"),
            )
        shutil.copy2(CONFIG_FILE, folder / "nbgrader_config.py")
        # A scratch course keeps its own SQLite gradebook whatever
        # GRADEBOOK_URL names, so it never writes the instructor's.
        return cls(folder, url=gradebook.sqlite_url(folder))

    @property
    def gradebook_url(self):
        return self._url or gradebook.gradebook_url(self.root)

    @property
    def course_id(self):
        from .validate import load_config

        config = load_config(self.root / "nbgrader_config.py")
        return config.CourseDirectory.get("course_id", "default_course")

    def nbgrader(self, *arguments, timeout=None, sandbox=None, environment=None,
                 die_with_parent=False, running=None):
        """Run ``nbgrader`` with ``arguments`` in the course root.

        With a ``sandbox`` (a Sandbox or KernelSlot of sandbox.py), nbgrader
        runs the notebooks in its sandboxed kernel. ``environment`` adds
        variables. With ``die_with_parent``, nbgrader is killed when the
        thread that started it ends, so a killed worker leaves no grading
        behind. ``running`` is a set that contains the nbgrader process while it
        runs, so that another thread can kill it. Returns the combined
        output. Raises NbgraderError with that output when the command exits
        with a non-zero status or times out.
        """
        command = [sys.executable, "-m", "nbgrader", *arguments]
        logger.info("Running %s in %s", " ".join(command[2:]), self.root)
        if die_with_parent:
            command = [sys.executable, "-m", "course_tools.child", *command]
        # nbgrader runs the `alembic` command by name when it creates a
        # gradebook, so this interpreter's scripts folder must be on PATH
        # even when the virtual environment is not activated. The gradebook
        # URL goes through the environment, where nbgrader_config.py reads
        # it, because a command line is visible to every user.
        variables = dict(os.environ)
        scripts = str(Path(sys.executable).parent)
        variables["PATH"] = os.pathsep.join([scripts, variables.get("PATH", "")])
        variables["GRADEBOOK_URL"] = self.gradebook_url
        variables.update(environment or {})
        if sandbox is not None:
            variables = sandbox.environment(variables)
        process = subprocess.Popen(
            command, cwd=self.root, env=variables, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        if running is not None:
            running.add(process)
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as error:
            process.kill()
            process.communicate()
            raise NbgraderError(
                f"'nbgrader {' '.join(arguments)}' timed out after {timeout} s in "
                f"{self.root}."
            ) from error
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            if running is not None:
                running.discard(process)
        output = stdout + stderr
        if process.returncode != 0:
            raise NbgraderError(
                f"'nbgrader {' '.join(arguments)}' failed with exit status "
                f"{process.returncode} in {self.root}:\n{output[-6000:]}",
                returncode=process.returncode,
            )
        return output

    def notebook_names(self, problem_set):
        """Return the notebook names (without .ipynb) of a problem set."""
        return sorted(
            path.stem for path in (self.root / "source" / problem_set).glob("*.ipynb")
        )

    def generate(self, problem_set):
        """Generate the student version of a problem set into release/."""
        return self.nbgrader("generate_assignment", problem_set, "--force")

    def released_notebook(self, problem_set, name):
        return notebooks.read(self.root / "release" / problem_set / f"{name}.ipynb")

    def source_notebook(self, problem_set, name):
        return notebooks.read(self.root / "source" / problem_set / f"{name}.ipynb")

    def submit(self, student, problem_set, name, notebook):
        """Place ``notebook`` as the student's submission, as collected."""
        folder = self.root / "submitted" / student / problem_set
        folder.mkdir(parents=True, exist_ok=True)
        notebooks.write(notebook, folder / f"{name}.ipynb")

    def autograde(self, problem_set, students=None):
        """Autograde the submissions of a problem set with nbgrader.

        Student code runs in the sandboxed kernel of sandbox.py unless
        COURSE_SANDBOX=0. Students missing from the gradebook are created by
        nbgrader itself.
        Raises NbgraderError when nbgrader fails or when a submission of
        ``students`` has no notebook in the gradebook afterwards.
        """
        arguments = ["autograde", problem_set, "--force"]
        with open_sandbox(self.root) as sandbox:
            output = self.nbgrader(*arguments, sandbox=sandbox)
        for student in students or ():
            for name in self.notebook_names(problem_set):
                try:
                    self.cell_scores(problem_set, name, student)
                except MissingEntry as error:
                    raise NbgraderError(
                        f"nbgrader autograde left no grades for {student}'s "
                        f"{problem_set}/{name}.ipynb. Its output:\n{output[-6000:]}"
                    ) from error
        return output

    def cell_scores(self, problem_set, name, student):
        """Return {grade id: CellScore} of one submitted notebook."""
        source = self.source_notebook(problem_set, name)
        test_ids = {
            notebooks.grade_id(cell)
            for cell in source.cells
            if notebooks.is_test(cell)
        }
        with Gradebook(self.gradebook_url) as gradebook:
            submission = gradebook.find_submission_notebook(name, problem_set, student)
            return {
                grade.name: CellScore(
                    grade_id=grade.name,
                    score=float(grade.score),
                    max_score=float(grade.max_score),
                    autograded=grade.name in test_ids,
                )
                for grade in submission.grades
            }

    def autograded_notebook(self, problem_set, name, student):
        path = self.root / "autograded" / student / problem_set / f"{name}.ipynb"
        return notebooks.read(path)


def autograded_total(scores):
    """Return (points scored, points available) over the autograder tests.

    Manually graded answers are left out, because a person grades them.
    """
    tests = [cell for cell in scores.values() if cell.autograded]
    return (
        sum(cell.score for cell in tests),
        sum(cell.max_score for cell in tests),
    )
