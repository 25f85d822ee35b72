"""Export the student-facing copy of the course: ``make publish DEST=...``.

The copy contains the student folders and the release notebooks, which
``make check`` compares with. It also contains ``helpers/``,
``course_tools/`` for the check and validate commands, and
``nbgrader_config.py`` for the time limits the check uses. The package and
environment files follow, and the student Makefile, README and .gitignore
come from ``course_tools/student/``. source/, the gradebook and the
submissions stay out. The copy is assembled in a staging folder next to
DEST and checked for leaks there, and DEST changes only when the check
passes.
"""

import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from . import ROOT, problem_sets
from .leaks import SKIPPED_FOLDERS, course_secret_lines, find_leaks, format_leaks, student_files


# A file that marks DEST as the output of an earlier publish, which a new
# publish may replace.
MARKER = ".course-publish"

TEMPLATE_NAMES = {"Makefile": "Makefile", "README.md": "README.md", "gitignore": ".gitignore"}
COPIED_FOLDERS = ["helpers", "course_tools"]
COPIED_FILES = ["nbgrader_config.py", "pyproject.toml", "requirements.txt", "environment.yml"]

# Paths that must never reach students, checked in the staged copy.
FORBIDDEN_PARTS = {"source", "submitted", "autograded", "feedback", "downloaded"}
FORBIDDEN_NAMES = {"gradebook.db", "gradebook.db-journal", "grades.csv"}


class PublishError(RuntimeError):
    """DEST was rejected or the staged copy failed its checks."""


def publish(dest, stream, root=ROOT):
    """Write the student copy of the course at ``root`` to ``dest``.

    Raises PublishError, leaving ``dest`` as it was, when ``dest`` is
    inside the course, is neither empty nor an earlier publish, or when the
    staged copy leaks a solution or contains an instructor file.
    """
    root = Path(root).resolve()
    dest = Path(dest).expanduser().resolve()
    _check_destination(dest, root)

    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.staging-", dir=dest.parent))
    # mkdtemp makes the folder private; the students' copy is for sharing.
    staging.chmod(0o755)
    try:
        _assemble(staging, root)
        problems = _forbidden_paths(staging)
        leaks = find_leaks(student_files(staging), course_secret_lines(root), staging)
        if leaks:
            problems.append(format_leaks(leaks))
        if problems:
            report = "\n".join(problems)
            raise PublishError(
                f"The student copy failed its checks, so nothing was written "
                f"to {dest}:\n{report}\nRemove the solution code from those "
                "files (in the student folders, run make release) and publish "
                "again."
            )
        _replace(dest, staging)
    finally:
        if staging.exists():
            shutil.rmtree(staging)

    files = list(student_files(dest))
    stream.write(f"Published {len(files)} files to {dest}:\n")
    for entry in sorted(dest.iterdir()):
        if entry.name not in (MARKER, ".git"):
            stream.write(f"  {entry.name}{'/' if entry.is_dir() else ''}\n")
    stream.write(
        "Commit that folder to the students' repository, or hand it out as "
        "it is; its README.md walks students through make check.\n"
    )
    return files


def _check_destination(dest, root):
    if dest == root or root in dest.parents:
        raise PublishError(
            f"DEST {dest} is inside the course repository {root}; choose a "
            "folder outside it, e.g. make publish DEST=../ml-course-students"
        )
    if dest in root.parents:
        raise PublishError(
            f"DEST {dest} contains the course repository {root}; choose an "
            "empty folder outside it."
        )
    if dest.exists() and not dest.is_dir():
        raise PublishError(f"DEST {dest} is a file; choose a folder.")
    if dest.is_dir() and any(dest.iterdir()) and not (dest / MARKER).is_file():
        raise PublishError(
            f"DEST {dest} is not empty and is not an earlier publish (it has "
            f"no {MARKER} file); choose an empty or new folder."
        )


def _assemble(staging, root):
    ignore = shutil.ignore_patterns(*SKIPPED_FOLDERS, "*.pyc", "*.egg-info")
    for problem_set in problem_sets(root):
        student_folder = root / problem_set
        if not student_folder.is_dir():
            raise PublishError(
                f"No student folder {problem_set}/ in {root}: run make release first."
            )
        shutil.copytree(student_folder, staging / problem_set, ignore=ignore)
        released = staging / "release" / problem_set
        released.mkdir(parents=True)
        for notebook in sorted((root / "release" / problem_set).glob("*.ipynb")):
            shutil.copy2(notebook, released / notebook.name)
    for folder in COPIED_FOLDERS:
        shutil.copytree(root / folder, staging / folder, ignore=ignore)
    # The templates are in place already; students need no second copy.
    shutil.rmtree(staging / "course_tools" / "student", ignore_errors=True)
    for name in COPIED_FILES:
        shutil.copy2(root / name, staging / name)
    templates = root / "course_tools" / "student"
    for template, name in TEMPLATE_NAMES.items():
        shutil.copy2(templates / template, staging / name)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    (staging / MARKER).write_text(
        f"Student copy written by `python -m course_tools publish` at {stamp}.\n"
        "The next publish to this folder replaces everything but .git/.\n",
        encoding="utf-8",
    )


def _forbidden_paths(staging):
    problems = []
    for path in sorted(staging.rglob("*")):
        relative = path.relative_to(staging)
        if FORBIDDEN_PARTS & set(relative.parts) or path.name in FORBIDDEN_NAMES:
            problems.append(f"{relative}: instructor file in the student copy")
    return problems


def _replace(dest, staging):
    """Move the staged copy to ``dest``, keeping the .git of an earlier one."""
    if not dest.exists():
        staging.rename(dest)
        return
    # The marker goes first and comes back last, so a publish interrupted
    # here leaves a folder that the next publish rejects instead of a
    # half-replaced copy that looks complete.
    (dest / MARKER).unlink(missing_ok=True)
    for entry in dest.iterdir():
        if entry.name == ".git":
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    for entry in staging.iterdir():
        if entry.name != MARKER:
            entry.rename(dest / entry.name)
    (staging / MARKER).rename(dest / MARKER)
