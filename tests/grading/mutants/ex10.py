"""Wrong answers to ex10, one or more per graded function.

The SGD and ALS test cells check both the stored MovieLens result and small
synthetic cases with known-correct helpers swapped in. A mistake in a helper
(init_MF, compute_error) therefore only costs the helper's own points, unless
it also pushes the MovieLens result out of range, as an unscaled ALS penalty
does.
"""

from . import Mutant

MUTANTS = [
    Mutant(
        name="split-with-replacement",
        cell="split_data",
        old="replace=False",
        new="replace=True",
        loses={"test_split_data"},
    ),
    Mutant(
        name="split-train-includes-test",
        cell="split_data",
        old="(values[~in_test], (items[~in_test], users[~in_test]))",
        new="(values, (items, users))",
        loses={"test_split_data"},
    ),
    Mutant(
        name="split-strict-item-threshold",
        cell="split_data",
        old="num_users_per_item >= min_num_ratings",
        new="num_users_per_item > min_num_ratings",
        loses={"test_split_data"},
    ),
    Mutant(
        name="global-mean-over-all-cells",
        cell="baseline_global_mean",
        old="global_mean = train.sum() / train.nnz",
        new="global_mean = train.mean()",
        loses={"test_baseline_global_mean"},
    ),
    Mutant(
        name="user-mean-over-item-axis",
        cell="baseline_user_mean",
        old="(np.asarray(train.sum(axis=0)).ravel()\n"
        "                  / train.getnnz(axis=0))",
        new="(np.asarray(train.sum(axis=1)).ravel()\n"
        "                  / train.getnnz(axis=1))",
        loses={"test_baseline_user_mean"},
    ),
    Mutant(
        name="item-mean-over-all-users",
        cell="baseline_item_mean",
        old="/ train.getnnz(axis=1))",
        new="/ train.shape[1])",
        loses={"test_baseline_item_mean"},
    ),
    Mutant(
        name="init-mean-over-all-users",
        cell="init_MF",
        old="item_sums / np.maximum(ratings_per_item, 1)",
        new="item_sums / num_users",
        loses={"test_init_MF"},
    ),
    Mutant(
        name="init-own-seeded-generator",
        cell="init_MF",
        old="user_features = np.random.rand(num_features, num_users)\n"
        "    item_features = np.random.rand(num_features, num_items)",
        new="rng = np.random.default_rng(988)\n"
        "    user_features = rng.random((num_features, num_users))\n"
        "    item_features = rng.random((num_features, num_items))",
        loses={"test_init_MF"},
    ),
    Mutant(
        name="error-averages-over-all-ratings",
        cell="compute_error",
        old="return np.sqrt(calculate_mse(real, predictions))",
        new="return np.sqrt(np.sum((real - predictions) ** 2) / data.nnz)",
        loses={"test_compute_error"},
    ),
    Mutant(
        name="error-without-square-root",
        cell="compute_error",
        old="return np.sqrt(calculate_mse(real, predictions))",
        new="return calculate_mse(real, predictions)",
        loses={"test_compute_error"},
    ),
    Mutant(
        name="sgd-step-decays-after-epoch",
        cell="matrix_factorization_SGD",
        old="gamma /= 1.2",
        new="gamma = 0.01 / 1.2 ** epoch",
        loses={"test_matrix_factorization_SGD"},
    ),
    Mutant(
        name="sgd-without-regularization",
        cell="matrix_factorization_SGD",
        old="lambda_user = 0.1\n    lambda_item = 0.7",
        new="lambda_user = 0.0\n    lambda_item = 0.0",
        loses={"test_matrix_factorization_SGD"},
    ),
    Mutant(
        name="user-update-singular-without-ratings",
        cell="update_user_feature",
        old="np.maximum(nnz_items_per_user, 1)",
        new="nnz_items_per_user",
        loses={"test_update_user_feature"},
    ),
    Mutant(
        name="user-penalty-not-scaled",
        cell="update_user_feature",
        old="lambda_user * np.maximum(nnz_items_per_user, 1)",
        new="lambda_user * np.ones(len(nnz_items_per_user))",
        loses={"test_update_user_feature", "test_ALS"},
    ),
    Mutant(
        name="item-update-singular-without-ratings",
        cell="update_item_feature",
        old="np.maximum(nnz_users_per_item, 1)",
        new="nnz_users_per_item",
        loses={"test_update_item_feature"},
    ),
    Mutant(
        name="item-penalty-not-scaled",
        cell="update_item_feature",
        old="lambda_item * np.maximum(nnz_users_per_item, 1)",
        new="lambda_item * np.ones(len(nnz_users_per_item))",
        loses={"test_update_item_feature", "test_ALS"},
    ),
    Mutant(
        name="als-items-before-users",
        cell="ALS",
        old="""        user_features = update_user_feature(
            train, item_features, lambda_user,
            nnz_items_per_user, nz_user_itemindices)
        item_features = update_item_feature(
            train, user_features, lambda_item,
            nnz_users_per_item, nz_item_userindices)""",
        new="""        item_features = update_item_feature(
            train, user_features, lambda_item,
            nnz_users_per_item, nz_item_userindices)
        user_features = update_user_feature(
            train, item_features, lambda_user,
            nnz_items_per_user, nz_user_itemindices)""",
        loses={"test_ALS"},
    ),
    Mutant(
        name="als-stops-early",
        cell="ALS",
        old="stop_criterion = 1e-4",
        new="stop_criterion = 1e-2",
        loses={"test_ALS"},
    ),
]
