"""Instructor tools of the course: releases, demo grading and validation.

Every tool drives nbgrader's own commands and gradebook. The command line is
``python -m course_tools --help``; the Makefile calls it.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIR = ROOT / "source"
RELEASE_DIR = ROOT / "release"
CONFIG_FILE = ROOT / "nbgrader_config.py"


def problem_sets():
    """Return the names of the problem sets in source/, sorted."""
    if not SOURCE_DIR.is_dir():
        raise FileNotFoundError(
            f"No source/ folder at {SOURCE_DIR}: run the course tools from a "
            "checkout of the course repository."
        )
    return sorted(
        path.name
        for path in SOURCE_DIR.iterdir()
        if path.is_dir() and any(path.glob("*.ipynb"))
    )

