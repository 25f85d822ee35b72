"""Find solution and hidden-test code in the files that students receive.

The secret lines of a course are the lines inside the ``### BEGIN SOLUTION``
and ``### BEGIN HIDDEN TESTS`` regions of its source notebooks that are at
least ``MIN_SECRET_LENGTH`` characters long (stripped) and occur nowhere
outside those regions in any source notebook. A notebook leaks when one of
its lines, stripped, equals a secret line; cells and outputs are compared.
Any other file leaks when ``MIN_SECRET_LINES_ELSEWHERE`` of its lines do.
Every file leaks when it still contains a region delimiter line.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from . import notebooks, problem_sets

# Shorter region lines (`return s`, `pass`, `s = sigmoid(t)`) also occur in
# ordinary code, so they would report leaks that are not.
MIN_SECRET_LENGTH = 20

# A single common line such as `by_user = np.lexsort((items, users))` can
# occur in a helper module and in a solution alike; a pasted solution brings
# several lines. NOTE: a leak of one line into a file other than a notebook
# goes unreported.
MIN_SECRET_LINES_ELSEWHERE = 2

DELIMITER = re.compile(r"^#+[ \t]*(BEGIN|END) (SOLUTION|HIDDEN TESTS)[ \t]*$")

# Folders that neither git nor a publish carries.
SKIPPED_FOLDERS = {".ipynb_checkpoints", "__pycache__", ".git"}


@dataclass(frozen=True)
class Leak:
    """One line of a student-facing file that gives a solution away."""

    path: Path
    location: str  # "line 12" or "cell 7, line 3"
    reason: str
    text: str

    def __str__(self):
        return f"{self.path}: {self.location}: {self.reason}: {self.text!r}"


def secret_lines(source_notebooks):
    """Return the secret lines of ``source_notebooks``, stripped."""
    inside, outside = set(), set()
    for notebook in source_notebooks:
        for cell in notebook.cells:
            region_texts = notebooks.regions(cell.source, "SOLUTION")
            region_texts += notebooks.regions(cell.source, "HIDDEN TESTS")
            inside |= {
                line.strip() for text in region_texts for line in text.splitlines()
            }
            remainder = notebooks.without_regions(cell.source)
            outside |= {line.strip() for line in remainder.splitlines()}
    return {line for line in inside - outside if len(line) >= MIN_SECRET_LENGTH}


def course_secret_lines(root):
    """Return the secret lines of every source notebook of the course."""
    source = Path(root) / "source"
    return secret_lines(
        notebooks.read(path)
        for problem_set in problem_sets(root)
        for path in sorted((source / problem_set).glob("*.ipynb"))
    )


def student_files(folder):
    """Yield the files under ``folder``, leaving out caches and checkpoints."""
    for path in sorted(Path(folder).rglob("*")):
        relative = path.relative_to(folder)
        if SKIPPED_FOLDERS & set(relative.parts):
            continue
        if path.is_file():
            yield path


def find_leaks(paths, secrets, relative_to):
    """Return the Leaks in the files ``paths``, named relative to a folder."""
    leaks = []
    for path in paths:
        name = Path(path).relative_to(relative_to)
        found = []
        for location, line in _readable_lines(Path(path)):
            stripped = line.strip()
            if stripped in secrets:
                reason = "contains a line of a solution or hidden test"
            elif DELIMITER.match(stripped):
                reason = "contains a solution or hidden-test delimiter"
            else:
                continue
            found.append(Leak(name, location, reason, stripped))
        shared = sum(leak.text in secrets for leak in found)
        if Path(path).suffix != ".ipynb" and shared < MIN_SECRET_LINES_ELSEWHERE:
            found = [leak for leak in found if leak.text not in secrets]
        leaks.extend(found)
    return leaks


def release_leaks(root, selected=None):
    """Return the Leaks in release/ and the student folders of the course.

    ``selected`` limits the scan to some problem sets; the secret lines
    always come from every source notebook.
    """
    root = Path(root)
    secrets = course_secret_lines(root)
    paths = []
    for problem_set in selected or problem_sets(root):
        for folder in (root / "release" / problem_set, root / problem_set):
            if folder.is_dir():
                paths.extend(student_files(folder))
    return find_leaks(paths, secrets, root)


def format_leaks(leaks, limit=20):
    """Return a report of ``leaks``, one per line, at most ``limit`` lines.

    The first leak of every file comes before the further leaks of any
    file, so a long list in one notebook cannot hide another file.
    """
    seen, firsts, others = set(), [], []
    for position, leak in enumerate(leaks):
        (others if leak.path in seen else firsts).append(position)
        seen.add(leak.path)
    reported = sorted((firsts + others)[:limit])
    lines = [str(leaks[position]) for position in reported]
    if len(leaks) > len(reported):
        lines.append(f"... and {len(leaks) - len(reported)} more")
    return "\n".join(lines)


def _readable_lines(path):
    """Yield (location, line) for every line of text a student can read."""
    if path.suffix == ".ipynb":
        try:
            notebook = notebooks.read(path)
        except (nbformat.reader.NotJSONError, ValueError, UnicodeDecodeError):
            notebook = None
        if notebook is not None:
            yield from _notebook_lines(notebook)
            return
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return  # a binary file: an image, a zip, a database
    for number, line in enumerate(text.splitlines(), start=1):
        yield f"line {number}", line
        # An unreadable notebook is scanned as JSON text, where each source
        # line is a quoted string.
        for inner in _json_string_lines(line):
            yield f"line {number}", inner


def _notebook_lines(notebook):
    for cell_number, cell in enumerate(notebook.cells, start=1):
        for number, line in enumerate(cell.source.splitlines(), start=1):
            yield f"cell {cell_number}, line {number}", line
        for text in _output_texts(cell):
            for number, line in enumerate(text.splitlines(), start=1):
                yield f"cell {cell_number} output, line {number}", line


def _output_texts(cell):
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            yield output.get("text", "")
        elif output.get("output_type") == "error":
            yield output.get("evalue", "")
            yield from output.get("traceback", [])
        for value in output.get("data", {}).values():
            if isinstance(value, str):
                yield value
            elif isinstance(value, list):
                yield "".join(str(part) for part in value)


def _json_string_lines(line):
    stripped = line.strip().rstrip(",")
    if not (stripped.startswith('"') and stripped.endswith('"')):
        return []
    try:
        value = json.loads(stripped)
    except ValueError:
        return []
    return value.splitlines() if isinstance(value, str) else []
