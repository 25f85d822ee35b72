"""Validate a notebook like ``nbgrader validate``, with an exit status.

``nbgrader validate`` prints "VALIDATION FAILED" but exits with status 0, so a
script cannot tell a failing notebook from a passing one. This runs the same
nbgrader Validator with the course configuration, adds the checks nbgrader
leaves out (a deleted test cell, a file that is not a notebook), and returns
whether the notebook passed, so the command line can exit with 1.
"""

import re
from pathlib import Path

import nbformat
from traitlets.config.loader import PyFileConfigLoader

from . import CONFIG_FILE, RELEASE_DIR, ROOT
from . import notebooks

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

STDERR_EXPLANATION = (
    "This cell wrote to stderr (a warning, logging, or print(..., "
    "file=sys.stderr)), and nbgrader scores any stderr output in a test cell "
    "as a failure, even after 'Your implementation is correct!'. Remove the "
    "cause of this output:"
)


def _course_validator_class():
    """Return nbgrader's Validator, explaining failures caused by stderr.

    nbgrader 0.9 reports a cell's stderr text as its error without saying
    that the text alone made the cell fail. ``_extract_error`` is private, so
    on another nbgrader version the override may simply not be called, and
    the report then lacks only the explanation. The class also keeps the
    executed notebook in ``executed``, through the private ``_preprocess``,
    for ``course_tools check``.
    """
    from nbgrader.preprocessors import CheckCellMetadata, ClearOutput
    from nbgrader.validator import Validator
    from traitlets import List

    from .execute import LimitedExecute

    class CourseValidator(Validator):
        executed = None  # the notebook as the last validate() ran it

        # LimitedExecute fails the cell, instead of stopping the whole run
        # with a traceback, when the kernel dies or ignores the interrupt at
        # the time limit.
        preprocessors = List([CheckCellMetadata, ClearOutput, LimitedExecute])

        def _preprocess(self, notebook):
            self.executed = super()._preprocess(notebook)
            return self.executed

        def _extract_error(self, cell):
            error = super()._extract_error(cell)
            wrote_stderr = any(
                output.output_type == "stream" and output.name == "stderr"
                for output in cell.get("outputs", [])
            )
            return f"{STDERR_EXPLANATION}\n{error}" if wrote_stderr else error

    return CourseValidator


def load_config(config_file=CONFIG_FILE):
    """Load nbgrader_config.py of the course."""
    config_file = Path(config_file)
    loader = PyFileConfigLoader(config_file.name, path=str(config_file.parent))
    return loader.load_config()


def student_config(config_file=CONFIG_FILE):
    """Return the course configuration with full tracebacks.

    The course keeps hidden tests out of feedback by asking the kernel for
    one-line tracebacks; a student validating their own notebook has no
    hidden tests to protect and needs the failing line. The kernel's own
    startup warnings, which land between the report's lines, are silenced;
    what the notebook's cells write to stderr is still captured and reported.
    """
    config = load_config(config_file)
    arguments = list(config.Execute.get("extra_arguments", []))
    config.Execute.extra_arguments = [
        argument for argument in arguments
        if not argument.startswith("--InteractiveShell.xmode")
    ] + ["--IPKernelApp.log_level=ERROR"]
    return config


def released_copy(path, release_dir=RELEASE_DIR):
    """Return the release notebook with the same file name, or None."""
    matches = sorted(Path(release_dir).glob(f"*/{Path(path).name}"))
    return matches[0] if len(matches) == 1 else None


def missing_graded_cells(notebook, release):
    """Return the grade ids of the release's graded cells absent from notebook.

    nbgrader cannot restore a graded cell that a student deleted: its points
    silently become "needs manual grading".
    """
    present = set(notebooks.cells_by_grade_id(notebook))
    return [
        notebooks.grade_id(cell)
        for cell in release.cells
        if notebooks.is_graded(cell) and notebooks.grade_id(cell) not in present
    ]


def read_or_report(path, name, release_name, stream):
    """Return the notebook at ``path``, or None after reporting why it is unreadable.

    ``name`` and ``release_name`` are how the report refers to the notebook
    and to the release copy that the student can start again from.
    """
    try:
        return notebooks.read(path)
    except (nbformat.reader.NotJSONError, ValueError, UnicodeDecodeError) as error:
        stream.write(
            f"{name}: not a readable notebook ({error.__class__.__name__}: "
            f"{str(error)[:200]}). Restore it from a checkpoint or from git, "
            f"or copy your answers into a fresh copy of {release_name}.\n"
        )
        return None


def validate(path, stream, root=ROOT):
    """Run the notebook at ``path`` and report its failing cells.

    Returns True when every cell passes, no test cell was changed and none
    is missing. Writes the report to ``stream``. ``root`` is the course
    root, whose release/ and nbgrader_config.py are used.
    """
    path = Path(path)
    root = Path(root)
    if not path.is_file():
        stream.write(f"{path}: notebook not found.\n")
        return False
    notebook = read_or_report(path, path, "the release", stream)
    if notebook is None:
        return False

    passed = True
    release = released_copy(path, root / "release")
    if release is not None:
        missing = missing_graded_cells(notebook, notebooks.read(release))
        if missing:
            passed = False
            stream.write(
                f"{path}: {len(missing)} graded cell(s) were deleted: "
                f"{', '.join(missing)}. Copy them back from "
                f"{release.relative_to(root)}.\n"
            )

    validator = _course_validator_class()(
        config=student_config(root / "nbgrader_config.py")
    )
    results = validator.validate(str(path))

    problems = {
        "type_changed": "cell(s) had their type changed",
        "changed": "test cell(s) were edited: restore them from the release",
        "failed": "cell(s) failed",
    }
    for key, summary in problems.items():
        cells = results.get(key, [])
        if not cells:
            continue
        passed = False
        stream.write(f"{path}: {len(cells)} {summary}.\n")
        for number, cell in enumerate(cells, start=1):
            stream.write(f"\n--- {key} cell {number} of {len(cells)} ---\n")
            stream.write(cell["source"][:800] + "\n")
            if key != "failed":
                continue
            error = _ANSI_ESCAPE.sub("", cell.get("raw_error") or "").strip()
            stream.write(error + "\n")
    if passed:
        stream.write(f"{path}: every cell passes.\n")
    return passed
