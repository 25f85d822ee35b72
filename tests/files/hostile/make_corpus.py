"""Generate the corpus of broken and hostile ex12 submissions.

Every case is a folder ``<case>/`` holding what a student handed in, i.e.
the contents of ``submitted/<case>/ex12/``, built from the reference
solution (the release filled in from source/). ``manifest.json`` lists each
case with the autograded points it must get and a text that the grader's
reason for that score must contain. tests/test_hostile.py grades the corpus.

Regenerate after a change to source/ex12 or release/ex12 with:

    .venv/bin/python tests/files/hostile/make_corpus.py
"""

import copy
import json
import shutil
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))

from course_tools import notebooks  # noqa: E402

PROBLEM_SET = "ex12"
NOTEBOOK = "ex12.ipynb"
MANIFEST = HERE / "manifest.json"

# Points of the autograded test cells of ex12.
POINTS = {
    "test_sigmoid": 1,
    "test_grad_sigmoid": 1,
    "test_simple_feed_forward": 2,
    "test_simple_backpropagation": 4,
}
FULL = sum(POINTS.values())

# The text a neighbour's submission carries; no other submission's output
# may contain it.
NEIGHBOUR_SECRET = "NEIGHBOUR-SECRET-7f3a9c"


def reference():
    release = notebooks.read(ROOT / "release" / PROBLEM_SET / NOTEBOOK)
    source = notebooks.read(ROOT / "source" / PROBLEM_SET / NOTEBOOK)
    return notebooks.fill_in(release, source)


def cell(notebook, grade_id):
    return notebooks.cells_by_grade_id(notebook)[grade_id]


def append_code(notebook, grade_id, code):
    """Return a copy with ``code`` appended to one answer cell."""
    changed = copy.deepcopy(notebook)
    target = cell(changed, grade_id)
    target.source = target.source.rstrip("\n") + "\n\n\n" + code.strip("\n") + "\n"
    return changed


def prepend_to_body(notebook, grade_id, function, code):
    """Return a copy whose ``function`` starts by running ``code``."""
    changed = copy.deepcopy(notebook)
    target = cell(changed, grade_id)
    marker = '    """\n'
    head, docstring_end, body = target.source.partition(marker)
    if not docstring_end or f"def {function}(" not in head:
        raise ValueError(f"cannot find the docstring of {function} in {grade_id}")
    indented = "".join(f"    {line}\n" for line in code.strip("\n").splitlines())
    target.source = head + docstring_end + indented + body
    return changed


def without_cell(notebook, grade_id):
    changed = copy.deepcopy(notebook)
    changed.cells = [c for c in changed.cells if notebooks.grade_id(c) != grade_id]
    return changed


# Answers that are wrong, to show that a trick would have paid off.
WRONG_SIGMOID = "def sigmoid(t):\n    return 1.0 / (1.0 + np.exp(t))\n"
WRONG_BACKPROPAGATION = (
    "def simple_backpropagation(y, x, W):\n"
    "    return {key: np.zeros_like(value) for key, value in W.items()}\n"
)


def with_answer(notebook, grade_id, source):
    changed = copy.deepcopy(notebook)
    cell(changed, grade_id).source = source
    return changed


INFINITE_LOOP = "while True:\n    pass"

LOOP_IGNORING_INTERRUPT = """
import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)
while True:
    pass
"""

MEMORY_BOMB = """
hoard = []
while True:
    hoard.append(bytearray(50 * 1024 * 1024))
"""

FORK_BOMB = """
import os
while True:
    os.fork()
"""

KERNEL_EXIT = """
import os
os._exit(3)
"""

SEGFAULT = """
import ctypes
ctypes.string_at(0)
"""

HUGE_OUTPUT = """
for _ in range(40):
    print("x" * 1_000_000)
"""

STDERR_NOISE = """
import sys
print("debugging: sigmoid defined", file=sys.stderr)
"""

STDERR_IN_FUNCTION = """
import sys
print("sigmoid called", file=sys.stderr)
"""

PATCH_ALLCLOSE = """
np.allclose = lambda *args, **kwargs: True
np.isclose = lambda *args, **kwargs: True
"""

PATCH_BUILTINS = """
import builtins
builtins.sorted = lambda *args, **kwargs: []
setattr(np, "array_equal", lambda *args, **kwargs: True)
"""

INPUT_TRANSFORMER = """
def _pass_everything(lines):
    return ["print('Your implementation is correct!')\\n"]


get_ipython().input_transformers_cleanup.append(_pass_everything)
"""

ARRAY_FUNCTION_TRICK = """
class AlwaysClose(float):
    def __array_function__(self, func, types, args, kwargs):
        return True


def sigmoid(t):
    return AlwaysClose(0.5)
"""

# Tries every way out of the working folder that a student might think of,
# and prints what it found, so the test can check that nothing leaked.
NEIGHBOUR_READER = """
import glob
import os

targets = (
    glob.glob("../../../gradebook.db")
    + glob.glob("../../../submitted/*/ex12/*.ipynb")
    + glob.glob("../../../autograded/*/ex12/*.ipynb")
    + glob.glob("../../../source/ex12/*.ipynb")
    + glob.glob("../*/ex12.ipynb")
)
try:
    grader_folder = os.readlink(f"/proc/{os.getppid()}/cwd")
    targets += [os.path.join(grader_folder, "gradebook.db")]
    targets += glob.glob(os.path.join(grader_folder, "submitted", "*", "ex12", "*.ipynb"))
except OSError as error:
    print("cannot see the grader's folder:", type(error).__name__)
print("found", len(targets), "paths")
for path in targets:
    try:
        with open(path, "rb") as handle:
            print("READ", path, handle.read()[:20000])
    except OSError as error:
        print("no read", path, type(error).__name__)
    try:
        with open(path, "ab") as handle:
            handle.write(b"tampered")
        print("WROTE", path)
    except OSError as error:
        print("no write", path, type(error).__name__)
"""

DISK_FILLER = """
chunk = b"0" * (1024 * 1024)
with open("filler.bin", "wb") as handle:
    for _ in range(1024):
        handle.write(chunk)
"""


def split_cell(notebook, grade_id):
    """Return a copy where one test cell is split in two at an assert."""
    changed = copy.deepcopy(notebook)
    for index, current in enumerate(changed.cells):
        if notebooks.grade_id(current) == grade_id:
            break
    lines = current.source.splitlines(keepends=True)
    half = len(lines) // 2
    second = copy.deepcopy(current)
    current.source = "".join(lines[:half])
    second.source = "".join(lines[half:])
    second.id = f"{current.id}-split"
    changed.cells.insert(index + 1, second)
    return changed


def assert_true(notebook, grade_id):
    changed = copy.deepcopy(notebook)
    cell(changed, grade_id).source = (
        "assert True\nprint(\"Your implementation is correct!\")\n"
    )
    return changed


def to_markdown(notebook, grade_id):
    changed = copy.deepcopy(notebook)
    target = cell(changed, grade_id)
    target.cell_type = "markdown"
    target.pop("outputs", None)
    target.pop("execution_count", None)
    return changed


def strip_metadata(notebook):
    changed = copy.deepcopy(notebook)
    for current in changed.cells:
        current.metadata.pop("nbgrader", None)
    return changed


def write_notebook(folder, notebook, name=NOTEBOOK):
    notebooks.write(notebook, folder / name)


def write_text(folder, text, name=NOTEBOOK):
    (folder / name).write_text(text, encoding="utf-8")


def write_v3(folder, notebook):
    old = nbformat.convert(copy.deepcopy(notebook), 3)
    (folder / NOTEBOOK).write_text(nbformat.writes(old, version=3), encoding="utf-8")


def lose(*grade_ids):
    return FULL - sum(POINTS[grade_id] for grade_id in grade_ids)


def cases(good):
    """Return (name, writer, expected points, reason text, description)."""
    ff = "simple_feed_forward"
    bp = "simple_backpropagation"
    return [
        ("infinite-loop",
         lambda f: write_notebook(f, prepend_to_body(good, bp, bp, INFINITE_LOOP)),
         lose("test_simple_backpropagation"), "time limit",
         "simple_backpropagation loops forever; its test cell times out"),
        ("loop-ignoring-interrupt",
         lambda f: write_notebook(f, prepend_to_body(good, bp, bp, LOOP_IGNORING_INTERRUPT)),
         lose("test_simple_backpropagation"), "time limit",
         "the loop ignores SIGINT, so nbgrader's interrupt cannot stop it"),
        ("memory-bomb",
         lambda f: write_notebook(f, prepend_to_body(good, "grad_sigmoid", "grad_sigmoid", MEMORY_BOMB)),
         lose("test_grad_sigmoid", "test_simple_backpropagation"), "MemoryError",
         "grad_sigmoid allocates until the memory limit"),
        ("fork-bomb",
         lambda f: write_notebook(f, prepend_to_body(good, ff, ff, FORK_BOMB)),
         lose("test_simple_feed_forward", "test_simple_backpropagation"), "BlockingIOError",
         "simple_feed_forward forks until the process limit"),
        ("kernel-exit",
         lambda f: write_notebook(f, append_code(good, "grad_sigmoid", KERNEL_EXIT)),
         lose("test_grad_sigmoid", "test_simple_feed_forward",
              "test_simple_backpropagation"), "kernel died",
         "the grad_sigmoid answer cell ends the kernel with os._exit"),
        ("segfault",
         lambda f: write_notebook(f, append_code(good, "sigmoid", SEGFAULT)),
         0, "kernel died",
         "the sigmoid answer cell crashes the kernel through ctypes"),
        ("test-deleted",
         lambda f: write_notebook(f, without_cell(good, "test_grad_sigmoid")),
         lose("test_grad_sigmoid"), "test_grad_sigmoid",
         "the test cell test_grad_sigmoid was deleted"),
        ("test-assert-true",
         lambda f: write_notebook(f, assert_true(
             with_answer(good, bp, WRONG_BACKPROPAGATION), "test_simple_backpropagation")),
         lose("test_simple_backpropagation"), "edited",
         "a wrong backpropagation whose test cell was replaced by assert True"),
        ("test-to-markdown",
         lambda f: write_notebook(f, to_markdown(
             with_answer(good, "sigmoid", WRONG_SIGMOID), "test_sigmoid")),
         lose("test_sigmoid", "test_simple_feed_forward", "test_simple_backpropagation"),
         "test_sigmoid",
         "a wrong sigmoid whose test cell was turned into markdown; grad_sigmoid "
         "still passes, because sigmoid(-t) has the same derivative"),
        ("test-split",
         lambda f: write_notebook(f, split_cell(good, "test_simple_feed_forward")),
         FULL, "",
         "the test cell test_simple_feed_forward was split in two, both with its metadata"),
        ("metadata-stripped",
         lambda f: write_notebook(f, strip_metadata(good)),
         0, "graded cell",
         "every cell lost its nbgrader metadata"),
        ("invalid-json",
         lambda f: write_text(f, "{ this is not a notebook"),
         0, "not a readable notebook",
         "the notebook file is not JSON"),
        ("truncated-json",
         lambda f: write_text(f, nbformat.writes(good)[:20000]),
         0, "not a readable notebook",
         "the notebook file was cut off during an upload"),
        ("nbformat-v3",
         lambda f: write_v3(f, good),
         FULL, "",
         "a correct notebook saved in the old nbformat 3"),
        ("missing-notebook",
         lambda f: write_text(f, "I forgot to attach it.\n", name="notes.txt"),
         0, "no ex12.ipynb",
         "the folder holds no notebook"),
        ("misnamed-notebook",
         lambda f: write_notebook(f, good, name="ex12 (1).ipynb"),
         0, "ex12 (1).ipynb",
         "the notebook was renamed by a browser download"),
        ("huge-output",
         lambda f: write_notebook(f, append_code(good, "sigmoid", HUGE_OUTPUT)),
         FULL, "output truncated",
         "the sigmoid answer cell prints 40 MB"),
        ("stderr-in-answer-cell",
         lambda f: write_notebook(f, append_code(good, "sigmoid", STDERR_NOISE)),
         FULL, "",
         "an answer cell writes to stderr once, outside any test"),
        ("stderr-in-function",
         lambda f: write_notebook(f, prepend_to_body(good, "sigmoid", "sigmoid", STDERR_IN_FUNCTION)),
         0, "stderr",
         "sigmoid writes to stderr on every call, so every test cell fails"),
        ("patch-allclose",
         lambda f: write_notebook(f, append_code(
             with_answer(good, "sigmoid", WRONG_SIGMOID), "sigmoid", PATCH_ALLCLOSE)),
         0, "tampering",
         "a wrong sigmoid, with np.allclose and np.isclose replaced to always agree"),
        ("patch-builtins",
         lambda f: write_notebook(f, append_code(good, "grad_sigmoid", PATCH_BUILTINS)),
         0, "tampering",
         "builtins.sorted and np.array_equal replaced"),
        ("input-transformer",
         lambda f: write_notebook(f, append_code(
             notebooks.read(ROOT / "release" / PROBLEM_SET / NOTEBOOK), "sigmoid",
             INPUT_TRANSFORMER)),
         0, "tampering",
         "the blank release, with an input transformer that replaces every later cell"),
        ("array-function-trick",
         lambda f: write_notebook(f, with_answer(good, "sigmoid", ARRAY_FUNCTION_TRICK)),
         0, "tampering",
         "sigmoid returns an object whose __array_function__ makes np.allclose true"),
        ("neighbour-reader",
         lambda f: write_notebook(f, append_code(good, "sigmoid", NEIGHBOUR_READER)),
         FULL, "",
         "correct answers, plus code that reads and appends to the gradebook "
         "and the other submissions"),
        ("large-extra-file",
         lambda f: write_notebook(f, good),
         FULL, "weights.bin",
         "a correct notebook beside a 150 MB file, created by the test"),
        ("disk-filler",
         lambda f: write_notebook(f, append_code(good, "sigmoid", DISK_FILLER)),
         FULL, "File too large",
         "the sigmoid answer cell writes a 1 GB file"),
    ]


# Cases whose code the tampering check must flag. The segfault reaches
# memory through ctypes, which can change any object, so it is flagged too.
TAMPERING_CASES = {"patch-allclose", "patch-builtins", "input-transformer",
                   "array-function-trick", "segfault"}

# Files the test creates in a case's folder before grading, as
# {case: {file name: size in MiB}}, because they are too large for git.
LARGE_FILES = {"large-extra-file": {"weights.bin": 150}}

# Correct submissions graded with the corpus; "good-secret" carries the
# text that the neighbour reader must not be able to print.
CORRECT = ("good-plain", "good-secret")


def secret_notebook(good):
    changed = copy.deepcopy(good)
    changed.cells.append(nbformat.v4.new_markdown_cell(f"Private note: {NEIGHBOUR_SECRET}"))
    return changed


def main():
    good = reference()
    for folder in HERE.iterdir():
        if folder.is_dir() and folder.name != "__pycache__":
            shutil.rmtree(folder)
    manifest = {"problem_set": PROBLEM_SET, "full": FULL, "secret": NEIGHBOUR_SECRET,
                "large_files": LARGE_FILES, "correct": list(CORRECT), "cases": []}
    for name in CORRECT:
        folder = HERE / name
        folder.mkdir()
        write_notebook(folder, secret_notebook(good) if name == "good-secret" else good)
    for name, writer, points, reason, description in cases(good):
        folder = HERE / name
        folder.mkdir()
        writer(folder)
        manifest["cases"].append({
            "name": name, "points": points, "reason": reason,
            "tampering": name in TAMPERING_CASES, "description": description,
        })
    MANIFEST.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    print(f"Wrote {len(manifest['cases'])} cases and {len(CORRECT)} correct "
          f"submissions to {HERE}")


if __name__ == "__main__":
    main()
