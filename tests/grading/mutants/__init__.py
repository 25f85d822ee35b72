"""Plausible wrong answers ("mutants") for every graded function.

Each problem set has a module here, named after it, with a list ``MUTANTS``.
A mutant takes the reference submission, replaces ``old`` with ``new`` in one
answer cell, and names the test cells that must lose their points. Every
other test cell must keep all of its points, so a mutant shows both that the
tests catch the mistake and that the blame lands on the right task.
"""

import importlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mutant:
    name: str  # student id in the gradebook: letters, digits and dashes
    cell: str  # grade id of the answer cell to change
    old: str  # text of the reference answer, found exactly once in the cell
    new: str  # the wrong version
    loses: frozenset = field(default_factory=frozenset)  # test grade ids

    def __post_init__(self):
        object.__setattr__(self, "loses", frozenset(self.loses))


def load(problem_set):
    """Return the mutants of a problem set, or an empty list."""
    try:
        module = importlib.import_module(f"{__name__}.{problem_set}")
    except ModuleNotFoundError as error:
        if error.name != f"{__name__}.{problem_set}":
            raise
        return []
    return list(module.MUTANTS)
