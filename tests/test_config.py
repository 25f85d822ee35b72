"""nbgrader_config.py: time limits and the settings graders rely on."""

import nbformat

from course_tools import SOURCE_DIR
from course_tools.validate import load_config


def _cell(tags=()):
    cell = nbformat.v4.new_code_cell("pass")
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def test_cell_timeout_by_tag():
    config = load_config()
    timeout_of = config.Execute.timeout_func

    assert timeout_of(_cell()) == config.Execute.timeout == 300
    assert timeout_of(_cell(["long-running"])) == 1800
    assert timeout_of(_cell(["other"])) == 300


def test_timeout_message_is_not_empty():
    config = load_config()

    assert "interrupted" in config.Execute.error_on_timeout["traceback"][0]


def test_validate_reports_every_cell():
    assert load_config().Validator.validate_all is True


def test_only_training_cells_run_long():
    for path in sorted(SOURCE_DIR.glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if "long-running" not in cell.metadata.get("tags", []):
                continue
            nbgrader = cell.metadata.get("nbgrader", {})
            assert not nbgrader.get("grade") and not nbgrader.get("solution"), (
                f"{path.name}: graded or answer cell {cell.get('id')} is tagged "
                "long-running; only ungraded training cells may be"
            )
