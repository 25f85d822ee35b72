"""Grade the reference, the blank release and every mutant with nbgrader.

The scores come from nbgrader's gradebook after its own generate_assignment
and autograde commands, so these tests check what an instructor would see.
"""

import pytest

from course_tools import SOURCE_DIR, notebooks, problem_sets
from tests.conftest import BLANK, REFERENCE
from tests.grading import mutants as mutant_tables

PROBLEM_SETS = problem_sets()
MUTANT_CASES = [
    pytest.param(problem_set, mutant, id=f"{problem_set}-{mutant.name}")
    for problem_set in PROBLEM_SETS
    for mutant in mutant_tables.load(problem_set)
]

pytestmark = pytest.mark.grading


def _source_notebooks(problem_set):
    return [
        notebooks.read(path)
        for path in sorted((SOURCE_DIR / problem_set).glob("*.ipynb"))
    ]


def _describe(scores):
    return ", ".join(
        f"{grade_id} {cell.score:g}/{cell.max_score:g}"
        for grade_id, cell in sorted(scores.items())
    )


@pytest.mark.parametrize("problem_set", PROBLEM_SETS)
def test_reference_gets_every_point(problem_set, graded):
    scores = graded(problem_set).scores(REFERENCE)
    tests = {grade_id: cell for grade_id, cell in scores.items() if cell.autograded}

    assert tests, f"{problem_set} has no autograded test cells"
    lost = {grade_id for grade_id, cell in tests.items() if cell.lost}
    assert not lost, (
        f"The reference solution of {problem_set} lost points in {sorted(lost)}: "
        f"{_describe(scores)}"
    )


@pytest.mark.parametrize("problem_set", PROBLEM_SETS)
def test_blank_release_gets_zero(problem_set, graded):
    scores = graded(problem_set).scores(BLANK)

    scored = {grade_id: cell.score for grade_id, cell in scores.items() if cell.score}
    assert not scored, (
        f"The untouched release of {problem_set} scored points in "
        f"{sorted(scored)}: {_describe(scores)}"
    )


@pytest.mark.parametrize("problem_set", PROBLEM_SETS)
def test_manual_answers_await_a_grader(problem_set, graded):
    scores = graded(problem_set).scores(REFERENCE)

    for grade_id, cell in scores.items():
        if not cell.autograded:
            assert cell.score == 0, (
                f"The manually graded answer {grade_id} of {problem_set} got "
                f"{cell.score} points without a person grading it"
            )


@pytest.mark.parametrize(("problem_set", "mutant"), MUTANT_CASES)
def test_mutant_loses_its_points(problem_set, mutant, graded):
    scores = graded(problem_set).scores(mutant.name)
    lost = {grade_id for grade_id, cell in scores.items() if cell.lost}

    missed = set(mutant.loses) - lost
    assert not missed, (
        f"Mutant {mutant.name} still gets full points in {sorted(missed)}: "
        f"the tests do not catch it. Scores: {_describe(scores)}"
    )
    blamed = lost - set(mutant.loses)
    assert not blamed, (
        f"Mutant {mutant.name} of cell {mutant.cell} also loses points in "
        f"{sorted(blamed)}, which should not depend on it. Scores: {_describe(scores)}"
    )


@pytest.mark.parametrize("problem_set", PROBLEM_SETS)
def test_every_graded_function_has_a_mutant(problem_set):
    table = mutant_tables.load(problem_set)
    for source in _source_notebooks(problem_set):
        for answer, own_tests in notebooks.tests_by_answer(source).items():
            assert own_tests, f"Answer cell {answer} of {problem_set} has no test cell after it"
            mutants = [mutant for mutant in table if mutant.cell == answer]
            assert mutants, f"Answer cell {answer} of {problem_set} has no mutant"
            isolated = [mutant for mutant in mutants if mutant.loses == frozenset(own_tests)]
            assert isolated, (
                f"No mutant of {answer} in {problem_set} loses exactly the points "
                f"of its own tests {own_tests}; write one whose mistake only "
                "those tests see"
            )


def test_feedback_hides_hidden_test_code(graded):
    run = graded("ex12")
    run.course.nbgrader("generate_feedback", "ex12", "--force")
    feedback = run.course.root / "feedback" / REFERENCE / "ex12" / "ex12.html"

    html = feedback.read_text(encoding="utf-8")
    assert "Your implementation is correct!" in html
    assert "BEGIN HIDDEN TESTS" not in html
    assert "finite_difference_gradients" not in html

    # A hidden check that fails shows its message, not its source lines.
    failed = run.course.root / "feedback" / "backprop-updates-weights" / "ex12" / "ex12.html"
    failed_html = failed.read_text(encoding="utf-8")
    assert "must not modify W" in failed_html
    assert "W_hidden_before" not in failed_html
    assert "finite_difference_gradients" not in failed_html
