"""ex10 figures: counts against a dense computation, and no plt.show()."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from helpers import plots  # noqa: E402


@pytest.fixture(autouse=True)
def no_show(monkeypatch):
    """Fail on plt.show() and close the figures that a test opened."""

    def show(*args, **kwargs):
        raise AssertionError("the helpers must not call plt.show()")

    monkeypatch.setattr(plt, "show", show)
    yield
    plt.close("all")


@pytest.fixture
def dense_ratings():
    rng = np.random.default_rng(6)
    dense = rng.integers(1, 6, size=(11, 8)) * (rng.random((11, 8)) < 0.45)
    dense[3] = 0  # an item without ratings
    return dense.astype(float)


@pytest.mark.parametrize("as_sparse", [True, False])
def test_plot_raw_data_counts(dense_ratings, as_sparse):
    ratings = sp.csr_matrix(dense_ratings) if as_sparse else dense_ratings

    num_items_per_user, num_users_per_item = plots.plot_raw_data(ratings)

    expected_per_user = np.count_nonzero(dense_ratings, axis=0)
    expected_per_item = np.count_nonzero(dense_ratings, axis=1)
    assert num_items_per_user.shape == (8,)
    assert num_users_per_item.shape == (11,)
    assert np.array_equal(num_items_per_user, expected_per_user)
    assert np.array_equal(num_users_per_item, expected_per_item)
    assert num_users_per_item[3] == 0


def test_plot_raw_data_draws_sorted_counts(dense_ratings):
    num_items_per_user, num_users_per_item = plots.plot_raw_data(dense_ratings)

    users_axis, items_axis = plt.gcf().axes
    plotted_users = users_axis.get_lines()[0].get_ydata()
    plotted_items = items_axis.get_lines()[0].get_ydata()
    assert np.array_equal(plotted_users, np.sort(num_items_per_user)[::-1])
    assert np.array_equal(plotted_items, np.sort(num_users_per_item)[::-1])
    assert users_axis.get_title() == "Ratings per user"
    assert items_axis.get_title() == "Ratings per item"


def test_plot_train_test_data_panels(dense_ratings):
    train = sp.csr_matrix(dense_ratings)
    test = sp.csr_matrix(np.where(dense_ratings == 0, 2.0, 0.0))

    figure = plots.plot_train_test_data(train, test)

    titles = [axis.get_title() for axis in figure.axes]
    assert titles == ["Training data", "Test data"]
    assert figure.axes[0].get_ylabel() == "items"
    assert figure.axes[1].get_xlabel() == "users"


def test_plot_train_test_data_rejects_shape_mismatch():
    with pytest.raises(ValueError, match="same shape"):
        plots.plot_train_test_data(
            sp.csr_matrix((3, 4)), sp.csr_matrix((4, 3))
        )
