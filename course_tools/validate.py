"""Validate a notebook like ``nbgrader validate``, with an exit status.

``nbgrader validate`` prints "VALIDATION FAILED" but exits with status 0, so a
script cannot tell a failing notebook from a passing one. This runs the same
nbgrader Validator with the course configuration and returns whether the
notebook passed, so the command line can exit with 1 on a failure.
"""

from pathlib import Path

from traitlets.config.loader import PyFileConfigLoader

from . import CONFIG_FILE


def load_config():
    """Load nbgrader_config.py of the course."""
    loader = PyFileConfigLoader(CONFIG_FILE.name, path=str(CONFIG_FILE.parent))
    return loader.load_config()


def validate(path, stream):
    """Run the notebook at ``path`` and report its failing cells.

    Returns True when every cell passes and no test cell was changed.
    Writes the report to ``stream``.
    """
    from nbgrader.validator import Validator

    path = Path(path)
    if not path.is_file():
        stream.write(f"{path}: notebook not found.\n")
        return False

    validator = Validator(config=load_config())
    results = validator.validate(str(path))

    problems = {
        "type_changed": "cell(s) had their type changed",
        "changed": "test cell(s) were edited: restore them from the release",
        "failed": "cell(s) failed",
    }
    passed = True
    for key, summary in problems.items():
        cells = results.get(key, [])
        if not cells:
            continue
        passed = False
        stream.write(f"{path}: {len(cells)} {summary}.\n")
        for number, cell in enumerate(cells, start=1):
            stream.write(f"\n--- {key} cell {number} of {len(cells)} ---\n")
            stream.write(cell["source"][:800] + "\n")
            if cell.get("raw_error"):
                stream.write(cell["raw_error"] + "\n")
    if passed:
        stream.write(f"{path}: every cell passes.\n")
    return passed
