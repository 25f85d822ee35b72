"""Figures shared by the problem sets.

The functions draw on a new Matplotlib figure and never call ``plt.show()``:
JupyterLab's inline backend shows every new figure at the end of the cell,
and scripts and tests with the non-interactive Agg backend show nothing.
"""

import matplotlib.pyplot as plt
import numpy as np


def plot_raw_data(ratings):
    """Count and plot the ratings of every user and every item (ex10).

    Args:
        ratings: ratings matrix, a SciPy sparse matrix or a NumPy array with
            items as rows and users as columns, shape (num_items, num_users);
            0 means "not rated".

    Returns:
        num_items_per_user: int array of shape (num_users,), the number of
            items that each user rated.
        num_users_per_item: int array of shape (num_items,), the number of
            users that rated each item.

    The figure has two panels: the counts per user and per item, each sorted
    from the largest to the smallest.
    """
    rated = ratings != 0
    num_items_per_user = np.asarray(rated.sum(axis=0)).ravel().astype(np.int64)
    num_users_per_item = np.asarray(rated.sum(axis=1)).ravel().astype(np.int64)

    figure, (users_axis, items_axis) = plt.subplots(1, 2, figsize=(10, 4))
    users_axis.plot(np.sort(num_items_per_user)[::-1], color="tab:blue")
    users_axis.set_title("Ratings per user")
    users_axis.set_xlabel("users, sorted by their number of ratings")
    users_axis.set_ylabel("number of ratings")
    users_axis.grid(True)

    items_axis.plot(np.sort(num_users_per_item)[::-1], color="tab:orange")
    items_axis.set_title("Ratings per item")
    items_axis.set_xlabel("items, sorted by their number of ratings")
    items_axis.set_ylabel("number of ratings")
    items_axis.grid(True)

    figure.tight_layout()
    return num_items_per_user, num_users_per_item


def plot_train_test_data(train, test):
    """Show where the train and test ratings are, side by side (ex10).

    Args:
        train: ratings matrix of the training set, sparse or dense, items as
            rows and users as columns, shape (num_items, num_users).
        test: ratings matrix of the test set, the same shape as ``train``.

    Returns:
        The Matplotlib figure: one panel per matrix, with a dot for every
        rating, users along the x axis and items along the y axis.
    """
    if train.shape != test.shape:
        raise ValueError(
            f"train and test must have the same shape, got {train.shape} "
            f"and {test.shape}"
        )
    figure, axes = plt.subplots(1, 2, figsize=(10, 5), sharey=True)
    panels = [(axes[0], train, "Training data"), (axes[1], test, "Test data")]
    for axis, matrix, title in panels:
        axis.spy(matrix, precision=0, markersize=0.3, aspect="auto")
        axis.set_title(title)
        axis.set_xlabel("users")
    axes[0].set_ylabel("items")
    figure.tight_layout()
    return figure
