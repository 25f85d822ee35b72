"""Locate the data folder that the course caches its downloads in."""

import os
from pathlib import Path

DATA_DIR_ENV = "COURSE_DATA_DIR"
OFFLINE_ENV = "COURSE_OFFLINE"

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def data_dir():
    """Return the data folder, creating it when missing.

    The folder is, in this order: the path in the ``COURSE_DATA_DIR``
    environment variable; ``data/`` beside the helpers package when it is
    installed from a checkout of the course (``pip install -e .``); or
    ``~/.cache/ml-course``. A notebook therefore finds the same files whether
    it runs from ``source/``, ``release/``, a student folder or nbgrader's
    ``autograded/`` folder.
    """
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        folder = Path(configured).expanduser()
    elif (_PACKAGE_ROOT / "pyproject.toml").is_file():
        folder = _PACKAGE_ROOT / "data"
    else:
        folder = Path.home() / ".cache" / "ml-course"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def offline():
    """Return True when ``COURSE_OFFLINE`` is set to 1, true or yes.

    Offline, the fetch functions skip the real-world downloads (GroupLens,
    torchvision's MNIST mirrors) and go straight to the offline sources.
    """
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes"}
