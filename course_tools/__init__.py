"""Course tools: releases, grading, publishing and the students' checks.

Every tool drives nbgrader's own commands and gradebook. The command line is
``python -m course_tools --help``; the Makefile calls it.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIR = ROOT / "source"
RELEASE_DIR = ROOT / "release"
CONFIG_FILE = ROOT / "nbgrader_config.py"


def problem_sets(root=ROOT):
    """Return the names of the problem sets in ``root``/source/, sorted."""
    source = Path(root) / "source"
    if not source.is_dir():
        raise FileNotFoundError(
            f"No source/ folder at {source}: run the course tools from a "
            "checkout of the course repository."
        )
    return _folders_with_notebooks(source)


def released_problem_sets(root=ROOT):
    """Return the names of the problem sets in ``root``/release/, sorted.

    The students' copy of the course has release/ but no source/.
    """
    release = Path(root) / "release"
    if not release.is_dir():
        return []
    return _folders_with_notebooks(release)


def _folders_with_notebooks(folder):
    return sorted(
        path.name
        for path in folder.iterdir()
        if path.is_dir() and any(path.glob("*.ipynb"))
    )

