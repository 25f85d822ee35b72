"""Generate the student versions of the problem sets from source/.

``nbgrader generate_assignment`` writes ``release/<ps>/`` in the course root
and records the assignment in the instructor's gradebook, which autograding
needs later. The student workspace ``<ps>/`` then gets a copy of the release,
unless a student has already edited the notebook there.
"""

import json
import logging
import shutil

from pathlib import Path

from . import ROOT
from . import gradebook, notebooks
from .grading import Course

logger = logging.getLogger(__name__)


def cell_sources(notebook):
    """Return the (type, source) of every cell: what a student edits."""
    return [(cell.cell_type, cell.source) for cell in notebook.cells]


def canonical(notebook):
    """Return the notebook as sorted JSON, for comparing two files."""
    return json.dumps(notebook, sort_keys=True, indent=1)


def release(problem_sets, root=ROOT):
    """Regenerate release/ and the student folders of ``problem_sets``.

    ``root`` is the course root that holds source/; the student folder of a
    problem set is ``root/<ps>/``.
    """
    root = Path(root)
    course = Course(root)
    # nbgrader deletes release/<ps>/ before it opens the gradebook, so an
    # unreachable database would cost the release.
    gradebook.require_reachable(course.gradebook_url)
    for problem_set in problem_sets:
        previous = {
            path.name: notebooks.read(path)
            for path in (root / "release" / problem_set).glob("*.ipynb")
        }
        course.generate(problem_set)
        logger.info("Generated release/%s from source/%s", problem_set, problem_set)
        update_student_folder(problem_set, previous, root)


def update_student_folder(problem_set, previous_release, root=ROOT):
    """Copy release/<ps>/ into the student folder <ps>/.

    A notebook in the student folder whose cells differ from the previous
    release holds a student's work: it is kept, and a warning names the fresh
    copy in release/ instead.
    """
    root = Path(root)
    target = root / problem_set
    target.mkdir(exist_ok=True)
    for released in sorted((root / "release" / problem_set).iterdir()):
        if released.is_dir():
            continue
        destination = target / released.name
        if released.suffix == ".ipynb" and destination.exists():
            mine = notebooks.read(destination)
            before = previous_release.get(released.name)
            untouched = before is not None and cell_sources(mine) == cell_sources(before)
            fresh = cell_sources(mine) == cell_sources(notebooks.read(released))
            if not (untouched or fresh):
                logger.warning(
                    "Kept %s because it differs from the previous release, so it "
                    "holds your work. The new release is %s; copy your answers "
                    "over, or delete %s and run `make release` again.",
                    destination.relative_to(root),
                    released.relative_to(root),
                    destination.relative_to(root),
                )
                continue
        shutil.copy2(released, destination)
