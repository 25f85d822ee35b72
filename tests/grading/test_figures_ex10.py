"""Figures that the ex10 reference solution prints when nbgrader runs it.

nbgrader's autograde executes the reference notebook in the shared grading
run, on the real MovieLens 100K ratings, so these tests check the numbers
that the notebook's text gives students as expected values.
"""

import re

import pytest

from tests.conftest import REFERENCE

pytestmark = pytest.mark.grading


@pytest.fixture(scope="module")
def output(graded):
    return graded("ex10").output_text(REFERENCE)


def _number(output, pattern):
    """Return the float that the one group of ``pattern`` finds in output."""
    match = re.search(pattern, output)
    assert match, f"no line matching {pattern!r} in the reference output"
    return float(match.group(1))


def test_ratings_matrix_figures(output):
    expected = (
        "ratings matrix: shape (1682, 943) (items x users), 100000 ratings"
    )
    assert expected in output
    assert "min number of ratings per user: 20, per item: 1" in output


def test_split_figures(output):
    match = re.search(
        r"valid ratings: shape \((\d+), (\d+)\), (\d+) ratings", output
    )
    assert match, "the reference output has no 'valid ratings' line"
    assert (int(match.group(1)), int(match.group(2))) == (1152, 943)
    assert int(match.group(3)) == 97953

    match = re.search(r"train: (\d+) ratings, test: (\d+) ratings", output)
    assert match, "the reference output has no 'train: ... test: ...' line"
    num_train, num_test = int(match.group(1)), int(match.group(2))
    assert num_train + num_test == 97953
    # 10% of each user's ratings, rounded down per user.
    assert 9300 <= num_test <= 9800


def test_baselines_in_expected_ranges(output):
    global_mean = _number(output, r"global mean baseline: test RMSE ([\d.]+)")
    user_mean = _number(output, r"user mean baseline: test RMSE ([\d.]+)")
    item_mean = _number(output, r"item mean baseline: test RMSE ([\d.]+)")

    assert 1.10 <= global_mean <= 1.14, global_mean
    assert 1.03 <= user_mean <= 1.05, user_mean
    assert 1.01 <= item_mean <= 1.02, item_mean


def test_sgd_beats_item_mean(output):
    item_mean = _number(output, r"item mean baseline: test RMSE ([\d.]+)")
    sgd = _number(output, r"SGD: test RMSE ([\d.]+)")

    assert sgd < item_mean, f"SGD {sgd}, item means {item_mean}"
    # The SGD test cell states "about 0.99".
    assert 0.98 <= sgd <= 1.0, sgd


def test_als_reaches_target(output):
    als = _number(output, r"ALS: test RMSE ([\d.]+)")

    # The ALS test cell states "about 0.96 and at most 0.99".
    assert 0.95 <= als <= 0.97, als


def test_data_source_is_named(output):
    match = re.search(r"^source: (.+)$", output, re.MULTILINE)
    assert match, "the reference output does not name the data source"
    assert "unknown" not in match.group(1)
