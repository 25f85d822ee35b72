"""nbgrader configuration of the course.

nbgrader reads this file from the folder it runs in, which is the course root:
source/, release/, submitted/, autograded/ and feedback/ sit beside it.
"""

c = get_config()  # noqa: F821 (traitlets injects get_config)

c.CourseDirectory.course_id = "ml-course"

# Seconds one cell may run before nbgrader interrupts it and scores the cell
# as failed. The heaviest cells train models: a vectorised ex10 SGD or ex13
# training loop takes well under a minute on a 2-core CPU, a correct but
# naive per-rating SGD about three minutes. An infinite loop in a submission
# costs this long once per cell, not forever.
CELL_TIMEOUT_SECONDS = 300
c.Execute.timeout = CELL_TIMEOUT_SECONDS

# What the student's feedback shows for a cell stopped by the timeout; by
# default nbgrader shows a CellTimeoutError with an empty message.
c.Execute.error_on_timeout = {
    "ename": "CellTimeoutError",
    "evalue": f"the cell ran longer than {CELL_TIMEOUT_SECONDS} s and was interrupted",
    "traceback": [
        f"CellTimeoutError: the cell ran longer than {CELL_TIMEOUT_SECONDS} s, "
        "nbgrader's limit per cell, and was interrupted. Look for an infinite "
        "loop, or for code much slower than the task needs. Every later cell "
        "that calls the same code waits for the limit again."
    ],
}

# Report every failing cell, answer cells included, not only the first
# failing test cell.
c.Validator.validate_all = True

# `nbgrader validate` exits with status 0 even when cells fail, so a script
# or a CI step cannot rely on it. The course's own command exits with 1:
#   python -m course_tools validate PATH/TO/NOTEBOOK.ipynb
c.Validator.failed_warning = (
    "VALIDATION FAILED ON {num_failed} CELL(S)! If you submit your notebook "
    "as it is, you WILL NOT receive full credit.\n"
    "Note: nbgrader validate still exits with status 0. To get a failing exit "
    "status, run: python -m course_tools validate NOTEBOOK.ipynb\n"
)

# Feedback shows each test cell without its hidden tests: students see which
# hidden check failed and its message, not the test code, so the hidden tests
# stay usable in later terms. Delete this line to show the full tests.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
