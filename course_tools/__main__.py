"""Command line of the course tools: ``python -m course_tools COMMAND``."""

import argparse
import logging
import sys

from . import problem_sets


def _selected(names):
    available = problem_sets()
    unknown = sorted(set(names) - set(available))
    if unknown:
        raise SystemExit(
            f"Unknown problem set(s): {', '.join(unknown)}. "
            f"source/ has: {', '.join(available)}."
        )
    return names or available


def command_release(arguments):
    from .release import release

    release(_selected(arguments.problem_sets))
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

    results = [validate(path, sys.stdout) for path in arguments.notebooks]
    return 0 if all(results) else 1


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m course_tools",
        description="Release, grade and validate the course's problem sets.",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="log warnings and errors only"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    release = commands.add_parser(
        "release", help="generate release/ and the student folders from source/"
    )
    release.add_argument("problem_sets", nargs="*", help="default: all of them")
    release.set_defaults(run=command_release)

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
    logging.basicConfig(
        level=logging.WARNING if arguments.quiet else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    return arguments.run(arguments)


if __name__ == "__main__":
    sys.exit(main())
