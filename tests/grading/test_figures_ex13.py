"""Accuracies of ex13's reference solution, read from its autograded output.

The reference notebook ends with a table of the test accuracy under FGSM
for each epsilon and model. Two of its rows, from the autograded reference
on the 4,000-image offline subset of MNIST on a CPU:

    epsilon | logistic regression |  LeNet | robust LeNet
       0.00 |              0.8960 | 0.9380 |       0.9280
       0.25 |              0.0010 | 0.1430 |       0.5940

The bounds below hold on that subset. The full MNIST gives higher clean
accuracies.
"""

import re

import pytest

from tests.conftest import REFERENCE

pytestmark = pytest.mark.grading

EPSILONS = [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3]
TABLE_ROW = re.compile(
    r"^\s*(\d\.\d\d) \|\s*(\d\.\d+) \|\s*(\d\.\d+) \|\s*(\d\.\d+)\s*$",
    re.MULTILINE,
)


@pytest.fixture(scope="module")
def reference_output(graded):
    return graded("ex13").output_text(REFERENCE)


@pytest.fixture(scope="module")
def attack_table(reference_output):
    """Map epsilon -> (logistic regression, LeNet, robust LeNet) accuracy."""
    rows = TABLE_ROW.findall(reference_output)
    table = {
        float(epsilon): (float(logreg), float(lenet), float(robust))
        for epsilon, logreg, lenet, robust in rows
    }
    assert sorted(table) == EPSILONS, (
        f"expected one table row per epsilon {EPSILONS}, found {sorted(table)}"
    )
    return table


def test_source_and_counts_printed(reference_output):
    assert "MNIST source: " in reference_output
    assert re.search(r"training set: [\d,]+ images", reference_output)
    assert re.search(r"test set: [\d,]+ images", reference_output)


def test_logistic_regression_accuracy(attack_table):
    logreg_accuracy = attack_table[0.0][0]
    assert logreg_accuracy >= 0.85, (
        f"logistic regression reached {logreg_accuracy:.4f}, expected >= 0.85"
    )


def test_lenet_accuracy(attack_table):
    lenet_accuracy = attack_table[0.0][1]
    assert lenet_accuracy >= 0.92, (
        f"LeNet reached {lenet_accuracy:.4f}, expected >= 0.92"
    )


def test_robust_lenet_resists_attack(attack_table):
    _, lenet_attacked, robust_attacked = attack_table[0.25]
    assert robust_attacked >= lenet_attacked + 0.3, (
        f"at epsilon 0.25 the robust LeNet keeps {robust_attacked:.4f} and "
        f"the plain LeNet {lenet_attacked:.4f}; expected a gap of at least 0.3"
    )


def test_attack_lowers_plain_models_accuracy(attack_table):
    for column, name in enumerate(["logistic regression", "LeNet"]):
        clean, attacked = attack_table[0.0][column], attack_table[0.3][column]
        assert attacked < clean - 0.5, (
            f"FGSM at epsilon 0.3 should cut the accuracy of {name} by more "
            f"than 0.5, but it went from {clean:.4f} to {attacked:.4f}"
        )
