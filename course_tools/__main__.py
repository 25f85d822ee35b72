"""Command line of the course tools: ``python -m course_tools COMMAND``."""

import argparse
import logging
import sys
from pathlib import Path

from . import ROOT, problem_sets


def _selected(names, root=ROOT):
    available = problem_sets(root)
    unknown = sorted(set(names) - set(available))
    if unknown:
        raise SystemExit(
            f"Unknown problem set(s): {', '.join(unknown)}. "
            f"source/ has: {', '.join(available)}."
        )
    return names or available


def command_release(arguments):
    from .release import release

    selected = _selected(arguments.problem_sets, arguments.root)
    release(selected, root=arguments.root)
    return _report_leaks(arguments.root, selected)


def command_leaks(arguments):
    return _report_leaks(
        arguments.root, _selected(arguments.problem_sets, arguments.root)
    )


def _report_leaks(root, selected):
    from .leaks import format_leaks, release_leaks

    leaks = release_leaks(root, selected)
    if leaks:
        print(
            f"Leak check failed: {len(leaks)} line(s) of solutions or hidden "
            f"tests in generated or student files:\n{format_leaks(leaks)}\n"
            "A student folder keeps a notebook that differs from the release "
            "(see the warnings above); delete or fix it and run make release "
            "again. A leak in release/ means nbgrader kept code of a region: "
            "check that region's delimiter lines in source/.",
            file=sys.stderr,
        )
        return 1
    print(
        f"Leak check passed: no solution or hidden-test line in release/ or "
        f"the student folders of {', '.join(selected)}."
    )
    return 0


def command_check(arguments):
    from .check import UsageError, check_problem_set

    try:
        passed = check_problem_set(arguments.problem_set, sys.stdout, arguments.root)
    except UsageError as error:
        print(f"Usage error: {error}", file=sys.stderr)
        return 2
    return 0 if passed else 1


def command_autograde(arguments):
    from .instructor import autograde

    failures = autograde(
        arguments.problem_set, sys.stdout, arguments.root, jobs=arguments.jobs,
        scheduler=arguments.scheduler, retries=arguments.retries,
    )
    return 1 if failures else 0


def command_feedback(arguments):
    from .instructor import feedback

    missing = feedback(arguments.problem_set, sys.stdout, arguments.root)
    return 1 if missing else 0


def command_grades(arguments):
    from .instructor import export_grades

    output = arguments.output or Path(arguments.root) / "grades.csv"
    export_grades(output, sys.stdout, arguments.root)
    return 0


def command_collect(arguments):
    from .instructor import collect

    skipped = collect(arguments.zip, sys.stdout, arguments.root, arguments.problem_set)
    notebooks_skipped = [name for name in skipped if name.endswith(".ipynb")]
    return 1 if notebooks_skipped else 0


def command_publish(arguments):
    from .publish import publish

    publish(arguments.dest, sys.stdout, arguments.root)
    return 0


def command_demo(arguments):
    from .demo import demo_row_ok, format_table, grade_demo

    rows = grade_demo(_selected(arguments.problem_sets))
    print()
    print(format_table(rows))
    failures = [row for row in rows if not demo_row_ok(row[1], row[2], row[3])]
    if failures:
        print(
            "\nThe reference must get every autograded point and the blank "
            "release none. Open the autograded notebooks under "
            ".scratch/demo/autograded/ to see which cells failed.",
            file=sys.stderr,
        )
        return 1
    return 0


def command_data(arguments):
    from .data import fetch

    fetch(_selected(arguments.problem_sets))
    return 0


def command_validate(arguments):
    from .validate import validate

    results = [
        validate(path, sys.stdout, arguments.root) for path in arguments.notebooks
    ]
    return 0 if all(results) else 1


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m course_tools",
        description="Release, check, grade and publish the course's problem sets.",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="log warnings and errors only"
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=ROOT,
        help="course root with source/, release/ and gradebook.db "
        f"(default: {ROOT})",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    release = commands.add_parser(
        "release", help="generate release/ and the student folders from source/"
    )
    release.add_argument("problem_sets", nargs="*", help="default: all of them")
    release.set_defaults(run=command_release)

    leaks = commands.add_parser(
        "leaks",
        help="check release/ and the student folders for solution code",
    )
    leaks.add_argument("problem_sets", nargs="*", help="default: all of them")
    leaks.set_defaults(run=command_leaks)

    check = commands.add_parser(
        "check",
        help="run the student's notebook <ps>/<ps>.ipynb and list each graded task",
    )
    check.add_argument("problem_set", nargs="?", help="e.g. ex12")
    check.set_defaults(run=command_check)

    autograde = commands.add_parser(
        "autograde",
        help="autograde submitted/<student>/<ps>/ one student at a time",
    )
    autograde.add_argument("problem_set", nargs="?", help="e.g. ex12")
    autograde.add_argument(
        "--jobs", type=int, default=1,
        help="students graded at the same time on this machine (default 1)",
    )
    autograde.add_argument(
        "--scheduler",
        help="address of a Dask scheduler, e.g. tls://10.0.0.5:8786, whose "
        "workers grade instead of this machine; --jobs is then ignored",
    )
    autograde.add_argument(
        "--retries", type=int, default=1,
        help="times to grade a student again whose worker died (default 1)",
    )
    autograde.set_defaults(run=command_autograde)

    feedback = commands.add_parser(
        "feedback", help="write HTML feedback to feedback/<student>/<ps>/"
    )
    feedback.add_argument("problem_set", nargs="?", help="e.g. ex12")
    feedback.set_defaults(run=command_feedback)

    grades = commands.add_parser(
        "grades", help="export every score of the gradebook to a CSV file"
    )
    grades.add_argument(
        "--output", type=Path, help="CSV file to write (default: ROOT/grades.csv)"
    )
    grades.set_defaults(run=command_grades)

    collect = commands.add_parser(
        "collect",
        help="import a zip of <student_id>_<anything>_<notebook>.ipynb files "
        "into submitted/ with nbgrader zip_collect",
    )
    collect.add_argument("zip", type=Path, help="zip file of submissions")
    collect.add_argument(
        "--problem-set",
        help="import only this problem set (default: every problem set "
        "whose notebooks the zip holds)",
    )
    collect.set_defaults(run=command_collect)

    publish = commands.add_parser(
        "publish",
        help="write the student copy of the course (no source/, no grades) to DEST",
    )
    publish.add_argument("dest", type=Path, help="empty folder, or an earlier publish")
    publish.set_defaults(run=command_publish)

    demo = commands.add_parser(
        "demo",
        help="autograde the reference and the blank release in a scratch course",
    )
    demo.add_argument("problem_sets", nargs="*", help="default: all of them")
    demo.set_defaults(run=command_demo)

    data = commands.add_parser(
        "data", help="download or build the data sets the problem sets use"
    )
    data.add_argument("problem_sets", nargs="*", help="default: all of them")
    data.set_defaults(run=command_data)

    validate = commands.add_parser(
        "validate",
        help="run notebooks like `nbgrader validate`; exit with 1 on a failure",
    )
    validate.add_argument("notebooks", nargs="+", help="paths of .ipynb files")
    validate.set_defaults(run=command_validate)

    arguments = parser.parse_args(argv)
    arguments.root = arguments.root.resolve()
    logging.basicConfig(
        level=logging.WARNING if arguments.quiet else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    from .gradebook import GradebookError
    from .instructor import InstructorError
    from .publish import PublishError

    try:
        return arguments.run(arguments)
    except (GradebookError, InstructorError, PublishError) as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
