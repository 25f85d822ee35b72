"""Time the ex10 reference SGD and ALS against per-rating loops.

Not a test. Run it from the repository root with

    .venv/bin/python benchmarks/ex10_matrix_factorization.py

(``make bench`` runs every benchmark). It needs the MovieLens cache, which
``make data`` builds.

The reference code is read from the solution cells of
source/ex10/ex10.ipynb, so the timed code is the code students see as the
solution. Both sides run on the course's MovieLens split from the same
starting features:

- SGD: the reference ``matrix_factorization_SGD`` against a loop that
  reads every rating with ``train[d, n]`` and updates one column pair at a
  time. Each side runs with ``num_epochs = 1`` and ``num_epochs = 0``, and
  the difference is the time of one epoch: shuffling, the updates and the
  training RMSE that every epoch prints, without the shared setup.
- ALS: one iteration, ``update_user_feature`` then ``update_item_feature``,
  against two loops: a per-rating loop that adds each rating's outer product
  to its user's (or item's) normal equations, reading the rating with
  ``train[d, n]``, and a per-user loop that reads each user's ratings with
  ``train[items, user]`` and each item's with ``train[item, users]``. Both
  solve one system at a time.

The script checks that both sides give the same numbers, then prints both
times and their ratio. Every time is the fastest of three to five runs. The
times still vary with the machine and its load, so run it more than once on
a busy machine.

NOTE: against the per-user loop the ALS ratio stays near 10 on 2 CPU cores.
Both versions do the same O(nnz K^2) arithmetic to form the normal
equations and solve the same 2,095 systems. The per-user loop adds roughly
0.1 to 0.2 ms of Python, sparse indexing and call overhead per user or
item, and that overhead is all that batching can remove.
"""

import contextlib
import io
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_tools import notebooks  # noqa: E402

NOTEBOOK = ROOT / "source" / "ex10" / "ex10.ipynb"
DEFINITIONS_TAG = "definitions"


def load_reference(replacements=()):
    """Execute the notebook's definitions and solutions; return the namespace.

    Runs, in notebook order, the code cells tagged ``definitions`` (imports
    and provided helpers, without IPython magics such as ``%matplotlib``) and
    the autograded answer cells without their BEGIN/END SOLUTION lines.
    ``replacements`` is a list of (grade id, old, new) text substitutions,
    each of which must apply exactly once.
    """
    namespace = {"__name__": "ex10_reference"}
    pending = list(replacements)
    for cell in notebooks.read(NOTEBOOK).cells:
        if cell.cell_type != "code":
            continue
        tagged = DEFINITIONS_TAG in cell.metadata.get("tags", [])
        if not (tagged or notebooks.is_autograded_answer(cell)):
            continue
        source = notebooks.strip_solution_delimiters(cell.source)
        source = "\n".join(
            line for line in source.splitlines() if not line.startswith("%")
        )
        for grade_id, old, new in list(pending):
            if grade_id == notebooks.grade_id(cell):
                if source.count(old) != 1:
                    raise ValueError(
                        f"expected {old!r} once in cell {grade_id}, found it "
                        f"{source.count(old)} times"
                    )
                source = source.replace(old, new)
                pending.remove((grade_id, old, new))
        code = compile(source, f"{NOTEBOOK.name}:{cell.get('id')}", "exec")
        with contextlib.redirect_stdout(io.StringIO()):
            exec(code, namespace)
    if pending:
        raise ValueError(f"cells not found for replacements: {pending}")
    return namespace


def loop_sgd(train, test, reference, num_epochs):
    """SGD rating by rating, with the reference's random draws."""
    init_MF = reference["init_MF"]
    compute_error = reference["compute_error"]
    build_index_groups = reference["build_index_groups"]
    gamma, num_features = 0.01, 20
    lambda_user, lambda_item = 0.1, 0.7

    np.random.seed(988)
    user_features, item_features = init_MF(train, num_features)
    nz_train, _, _ = build_index_groups(train)
    nz_test, _, _ = build_index_groups(test)

    for _ in range(num_epochs):
        order = np.random.permutation(len(nz_train))
        gamma /= 1.2
        for d, n in nz_train[order]:
            # Copies, so both steps use the values from before the step.
            item_info = item_features[:, d].copy()
            user_info = user_features[:, n].copy()
            error = train[d, n] - item_info @ user_info
            item_features[:, d] += gamma * (
                error * user_info - lambda_item * item_info)
            user_features[:, n] += gamma * (
                error * item_info - lambda_user * user_info)
        compute_error(train, user_features, item_features, nz_train)

    return compute_error(test, user_features, item_features, nz_test)


def loop_update_user_feature(train, item_features, lambda_user,
                             nnz_items_per_user, nz_user_itemindices):
    num_features = item_features.shape[0]
    user_features = np.zeros((num_features, train.shape[1]))
    for user, items in nz_user_itemindices:
        features = item_features[:, items]
        ratings = train[items, user].toarray().ravel()
        penalty = lambda_user * nnz_items_per_user[user]
        system = features @ features.T + penalty * np.eye(num_features)
        user_features[:, user] = np.linalg.solve(system, features @ ratings)
    return user_features


def loop_update_item_feature(train, user_features, lambda_item,
                             nnz_users_per_item, nz_item_userindices):
    num_features = user_features.shape[0]
    item_features = np.zeros((num_features, train.shape[0]))
    for item, users in nz_item_userindices:
        features = user_features[:, users]
        ratings = train[item, users].toarray().ravel()
        penalty = lambda_item * nnz_users_per_item[item]
        system = features @ features.T + penalty * np.eye(num_features)
        item_features[:, item] = np.linalg.solve(system, features @ ratings)
    return item_features


def _per_rating_update(train, fixed_features, penalty_per_rating,
                       ratings_per_row, groups, transpose):
    """Solve every row's ridge system, built rating by rating.

    ``groups`` is a list of (row, indices of its ratings); a row is a user
    when ``transpose`` is True, an item otherwise.
    """
    num_features = fixed_features.shape[0]
    num_rows = train.shape[1] if transpose else train.shape[0]
    systems = np.zeros((num_rows, num_features, num_features))
    right_hand_sides = np.zeros((num_rows, num_features))
    for row, indices in groups:
        for index in indices:
            rating = train[index, row] if transpose else train[row, index]
            features = fixed_features[:, index]
            systems[row] += np.outer(features, features)
            right_hand_sides[row] += rating * features
    solutions = np.zeros((num_features, num_rows))
    identity = np.eye(num_features)
    for row, _ in groups:
        penalty = penalty_per_rating * ratings_per_row[row]
        solutions[:, row] = np.linalg.solve(
            systems[row] + penalty * identity, right_hand_sides[row])
    return solutions


def rating_update_user_feature(train, item_features, lambda_user,
                               nnz_items_per_user, nz_user_itemindices):
    return _per_rating_update(train, item_features, lambda_user,
                              nnz_items_per_user, nz_user_itemindices,
                              transpose=True)


def rating_update_item_feature(train, user_features, lambda_item,
                               nnz_users_per_item, nz_item_userindices):
    return _per_rating_update(train, user_features, lambda_item,
                              nnz_users_per_item, nz_item_userindices,
                              transpose=False)


def timed(function, *arguments, repeat=1):
    """Return the last call's result and the fastest of ``repeat`` times.

    Times are in seconds. The function's printed output is discarded.
    """
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            result = function(*arguments)
        best = min(best, time.perf_counter() - start)
    return result, best


def main():
    reference = load_reference()
    sgd_with_epochs = {
        num_epochs: load_reference([(
            "matrix_factorization_SGD",
            "num_epochs = 20",
            f"num_epochs = {num_epochs}",
        )])["matrix_factorization_SGD"]
        for num_epochs in (0, 1)
    }

    ratings = reference["load_data"](reference["fetch_movielens"]())
    num_items_per_user = ratings.getnnz(axis=0)
    num_users_per_item = ratings.getnnz(axis=1)
    _, train, test = reference["split_data"](
        ratings, num_items_per_user, num_users_per_item, 10, 0.1)
    print(f"MovieLens split: train {train.shape}, {train.nnz} ratings")

    # SGD: one epoch from the same start and the same shuffled order, timed
    # as (setup + one epoch) - (setup alone).
    fast_rmse, fast_with_epoch = timed(
        sgd_with_epochs[1], train, test, repeat=5)
    _, fast_setup = timed(sgd_with_epochs[0], train, test, repeat=5)
    loop_rmse, loop_with_epoch = timed(
        loop_sgd, train, test, reference, 1, repeat=3)
    _, loop_setup = timed(loop_sgd, train, test, reference, 0, repeat=5)
    fast_seconds = fast_with_epoch - fast_setup
    loop_seconds = loop_with_epoch - loop_setup
    if not np.isclose(fast_rmse, loop_rmse, rtol=0, atol=1e-10):
        raise SystemExit(
            f"SGD results differ: reference test RMSE {fast_rmse!r}, "
            f"loop {loop_rmse!r}"
        )
    print(f"SGD, one epoch:      reference {fast_seconds * 1000:7.1f} ms, "
          f"per-rating loop {loop_seconds * 1000:7.1f} ms, "
          f"ratio {loop_seconds / fast_seconds:5.1f}  "
          f"(test RMSE {fast_rmse:.6f} for both)")

    # ALS: one iteration, users then items, from the same starting features.
    np.random.seed(988)
    user_start, item_start = reference["init_MF"](train, 20)
    nnz_items_per_user = train.getnnz(axis=0)
    nnz_users_per_item = train.getnnz(axis=1)
    _, nz_item_userindices, nz_user_itemindices = (
        reference["build_index_groups"](train))

    def iteration(update_user, update_item):
        user_features = update_user(
            train, item_start, 0.1, nnz_items_per_user, nz_user_itemindices)
        item_features = update_item(
            train, user_features, 0.7, nnz_users_per_item, nz_item_userindices)
        return user_features, item_features

    fast, fast_seconds = timed(
        iteration, reference["update_user_feature"],
        reference["update_item_feature"], repeat=3)
    baselines = [
        ("per-rating loop", rating_update_user_feature,
         rating_update_item_feature, 1),
        ("per-user loop  ", loop_update_user_feature,
         loop_update_item_feature, 3),
    ]
    for label, update_user, update_item, repeat in baselines:
        loop, loop_seconds = timed(
            iteration, update_user, update_item, repeat=repeat)
        for name, fast_features, loop_features in zip(
                ("user_features", "item_features"), fast, loop):
            same = np.allclose(
                fast_features, loop_features, rtol=1e-8, atol=1e-10)
            if not same:
                difference = np.abs(fast_features - loop_features).max()
                raise SystemExit(
                    f"ALS {name} differ by up to {difference:.3g} between "
                    f"the reference and the {label.strip()}"
                )
        print(f"ALS, one iteration:  reference {fast_seconds * 1000:7.1f} ms, "
              f"{label} {loop_seconds * 1000:7.1f} ms, "
              f"ratio {loop_seconds / fast_seconds:5.1f}  "
              "(same features to 1e-8)")


if __name__ == "__main__":
    main()
