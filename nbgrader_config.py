"""nbgrader configuration of the course.

nbgrader reads this file from the folder it runs in, which is the course root:
source/, release/, submitted/, autograded/ and feedback/ sit beside it.
"""

import os

c = get_config()  # noqa: F821 (traitlets injects get_config)

c.CourseDirectory.course_id = "ml-course"

# The gradebook: gradebook.db beside this file unless GRADEBOOK_URL names
# another database, e.g. postgresql://grader:PASSWORD@127.0.0.1:5432/ml_course
# for grading in parallel workers on several machines (README, "Grading a
# large class"). The course's commands set it for every nbgrader they run.
if os.environ.get("GRADEBOOK_URL"):
    c.CourseDirectory.db_url = os.environ["GRADEBOOK_URL"]

# Seconds one cell may run before nbgrader interrupts it and scores the cell
# as failed. An infinite loop in a submission costs this long once for every
# cell that runs the looping code, so the limit stays short. Answer and test
# cells run in seconds with the reference solutions. A correct per-rating
# SGD for ex10 that reads each rating with sparse indexing takes about a
# minute for its 20 epochs (benchmarks/ex10_matrix_factorization.py times
# one epoch at about 3 s on a 2-core CPU).
CELL_TIMEOUT_SECONDS = 300

# Cells tagged "long-running" train models on the full data set. ex13's
# training cells take 5 to 20 s each with the offline subset of 4,000
# training images on one CPU thread; with the full MNIST (60,000 images)
# that scales to an estimated 5 minutes, and to seconds on a GPU.
LONG_CELL_TIMEOUT_SECONDS = 1800
LONG_RUNNING_TAG = "long-running"


def cell_timeout(cell):
    """Return the time limit of one cell, in seconds."""
    if LONG_RUNNING_TAG in cell.get("metadata", {}).get("tags", []):
        return LONG_CELL_TIMEOUT_SECONDS
    return CELL_TIMEOUT_SECONDS


c.Execute.timeout = CELL_TIMEOUT_SECONDS
c.Execute.timeout_func = cell_timeout

# What the student's feedback shows for a cell stopped by the time limit;
# by default nbgrader shows a CellTimeoutError with an empty message.
c.Execute.error_on_timeout = {
    "ename": "CellTimeoutError",
    "evalue": "the cell ran past its time limit and was interrupted",
    "traceback": [
        f"CellTimeoutError: the cell ran longer than nbgrader's limit of "
        f"{CELL_TIMEOUT_SECONDS} s per cell ({LONG_CELL_TIMEOUT_SECONDS} s for "
        f"cells tagged {LONG_RUNNING_TAG}) and was interrupted. Look for an "
        "infinite loop, or for code much slower than the task needs. Every "
        "later cell that calls the same code waits for the limit again."
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
# stay usable in later terms. Delete the ClearHiddenTests line to show the
# full tests. ExplainStderr explains why a cell whose checks passed
# scored 0 when it wrote to stderr.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "course_tools.feedback.ExplainStderr",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# Tracebacks in the autograded notebooks, and so in the feedback, show only
# the exception and its message. IPython's default tracebacks print the
# source lines around the failure, which would show the hidden tests.
# `python -m course_tools validate` removes this setting, so students get
# full tracebacks when they validate their own notebook.
c.Execute.extra_arguments = ["--InteractiveShell.xmode=Minimal"]

# `make collect ZIP=submissions.zip` runs `nbgrader zip_collect`, which reads
# the student id and the notebook from each file name in the zip, the way a
# learning-management system names the files it downloads:
#   <student_id>_<anything>_<notebook>.ipynb   e.g. jdoe42_4711_ex12.ipynb
# The student id is letters, digits, dots and dashes. The middle part is
# optional (jdoe42_ex12.ipynb) and may hold underscores. A "-1" that some
# systems add before .ipynb for a resubmission is dropped. nbgrader matches
# the expression against the file's whole path after it unzips the archive,
# hence the leading ".*/".
c.FileNameCollectorPlugin.named_regexp = (
    r".*/(?P<student_id>[A-Za-z0-9.-]+)_(?:[^/]*_)?"
    r"(?P<file_id>[A-Za-z0-9]+)(?:-\d+)?\.ipynb$"
)
# Skip a notebook of another problem set instead of copying it into the one
# being collected, so one zip can hold several problem sets.
c.ZipCollectApp.strict = True
