"""Time autograding a generated class with one worker and with two.

Not a test. Run it from the repository root with

    .venv/bin/python benchmarks/parallel_grading.py [--ex12 40] [--ex10 10]

(``make bench`` runs every benchmark). It needs the MovieLens cache, which
``make data`` builds, and takes about 10 minutes on 2 cores.

One scratch course under .scratch/bench-grading/ releases ex12 and ex10 and
receives a generated class (tests/grading/classes.py: the reference, the
blank release and the mutants of each problem set, in turn). Two copies of
it are graded, exactly as ``make autograde PS=ex12`` then ``PS=ex10`` grade,
once with JOBS=1 and once with JOBS=2, into each copy's own SQLite
gradebook. The script checks that both gradebooks hold the same scores,
then prints the wall time of each run, their ratio, the seconds per
submission, and what those imply for 1,000 students on 16 workers.

The estimate assumes that each of the 16 workers keeps the parallel
efficiency measured here (the ratio divided by 2) and that the 1,000
submissions mix ex12 and ex10 as this class does. ex13 trains networks
and takes minutes per submission on a CPU, so it is not part of the mix.
"""

import argparse
import io
import logging
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_tools import gradebook  # noqa: E402
from course_tools.grading import Course  # noqa: E402
from course_tools.instructor import autograde_reviews  # noqa: E402
from tests.grading.classes import scratch_course, submit_class  # noqa: E402

FOLDER = ROOT / ".scratch" / "bench-grading"
STUDENTS = 1000
WORKERS = 16


def grade_class(root, problem_sets, jobs):
    """Grade every problem set of the course at ``root``; return seconds."""
    start = time.perf_counter()
    for problem_set in problem_sets:
        stream = io.StringIO()
        reviews = autograde_reviews(problem_set, stream, root=root, jobs=jobs)
        failed = [review.student for review in reviews if not review.graded]
        if failed:
            raise SystemExit(f"Not graded with JOBS={jobs}: {failed}\n{stream.getvalue()}")
    return time.perf_counter() - start


def scores(root, problem_sets):
    course = Course(root, url=gradebook.sqlite_url(root))
    return {
        problem_set: {
            student: saved.grades
            for student, saved in gradebook.grading_state(
                course.gradebook_url, course.course_id, problem_set).items()
        }
        for problem_set in problem_sets
    }


def minutes(seconds):
    return f"{seconds / 60:.1f} min"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ex12", type=int, default=40, help="ex12 submissions")
    parser.add_argument("--ex10", type=int, default=10, help="ex10 submissions")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    sizes = {"ex12": arguments.ex12, "ex10": arguments.ex10}
    problem_sets = [name for name, size in sizes.items() if size > 0]
    total = sum(sizes.values())
    if FOLDER.exists():
        shutil.rmtree(FOLDER)
    course = scratch_course(FOLDER / "jobs-1", problem_sets)
    for problem_set in problem_sets:
        submit_class(course, problem_set, sizes[problem_set])
    shutil.copytree(course.root, FOLDER / "jobs-2", symlinks=True)
    # The copy's gradebook is its own file; nothing in it names the folder.

    print(f"Class: {', '.join(f'{sizes[name]} {name}' for name in problem_sets)} "
          f"submissions; {os.cpu_count()} CPU cores; sandbox "
          f"{'off' if os.environ.get('COURSE_SANDBOX') == '0' else 'on'}")
    times = {}
    for jobs in (1, 2):
        times[jobs] = grade_class(FOLDER / f"jobs-{jobs}", problem_sets, jobs)
        print(f"JOBS={jobs}: {times[jobs]:7.1f} s wall, "
              f"{times[jobs] / total:5.2f} s per submission")

    same = scores(FOLDER / "jobs-1", problem_sets) == scores(FOLDER / "jobs-2", problem_sets)
    print(f"Scores of both runs identical: {'yes' if same else 'NO'}")
    ratio = times[1] / times[2]
    efficiency = ratio / 2
    per_submission = times[1] / total
    estimate = STUDENTS * per_submission / (WORKERS * efficiency)
    print(f"Speed-up JOBS=1 / JOBS=2: {ratio:.2f} (goal at least 1.7); "
          f"parallel efficiency {efficiency:.0%}")
    print(f"Estimate for {STUDENTS:,} students of this mix on {WORKERS} workers: "
          f"{STUDENTS:,} x {per_submission:.2f} s / ({WORKERS} x {efficiency:.2f}) = "
          f"{minutes(estimate)} per problem set; one worker alone would take "
          f"{minutes(STUDENTS * per_submission)}")
    shutil.rmtree(FOLDER)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
