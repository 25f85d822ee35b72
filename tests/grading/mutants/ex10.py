"""Wrong answers to ex10, one or more per graded function, and correct
answers written differently.

The SGD and ALS test cells check both the stored MovieLens result and small
synthetic cases with known-correct helpers swapped in. A mistake in a helper
(init_MF, compute_error) therefore only costs the helper's own points, unless
it also pushes the MovieLens result out of range, as an unscaled ALS penalty
does. The notebook passes copies of the split to every function, so a
function that modifies its arguments only costs its own points too.

CORRECT_VARIANTS are right answers in another style than the reference:
keyword calls, loops, lstsq, inv and dense arrays. They must keep every
point, so each has an empty ``loses``.
"""

from . import Mutant

# The reference body of matrix_factorization_SGD after its constants.
_SGD_BODY = """    np.random.seed(988)
    user_features, item_features = init_MF(train, num_features)
    nz_train, _, _ = build_index_groups(train)
    nz_test, _, _ = build_index_groups(test)
    train_csr = sp.csr_matrix(train)
    train_ratings = np.asarray(
        train_csr[nz_train[:, 0], nz_train[:, 1]]).ravel()

    for epoch in range(num_epochs):
        # Visit the ratings in a new random order, with a smaller step.
        order = np.random.permutation(len(nz_train))
        items, users = nz_train[order, 0], nz_train[order, 1]
        shuffled_ratings = train_ratings[order]
        gamma /= 1.2

        for batch in sgd_batches(items, users):
            # No item or user occurs twice in a batch, so these columns
            # are distinct and one assignment updates them all.
            d, n = items[batch], users[batch]
            item_batch = item_features[:, d]
            user_batch = user_features[:, n]
            errors = shuffled_ratings[batch] - np.einsum(
                "kj,kj->j", item_batch, user_batch)

            item_features[:, d] = item_batch + gamma * (
                errors * user_batch - lambda_item * item_batch)
            user_features[:, n] = user_batch + gamma * (
                errors * item_batch - lambda_user * user_batch)

        rmse = compute_error(train, user_features, item_features, nz_train)
        print(f"epoch {epoch + 1:2d}/{num_epochs}: train RMSE {rmse:.4f}")

    return compute_error(test, user_features, item_features, nz_test)"""

# A per-rating loop that reads train[d, n], shuffles nz_train in place with
# np.random.shuffle and calls the helpers by keyword.
_SGD_PER_RATING_BODY = """    np.random.seed(988)
    user_features, item_features = init_MF(
        train=train, num_features=num_features)
    nz_train, _, _ = build_index_groups(train)
    nz_test, _, _ = build_index_groups(test)

    for epoch in range(num_epochs):
        gamma /= 1.2
        np.random.shuffle(nz_train)
        for d, n in nz_train:
            error = train[d, n] - item_features[:, d] @ user_features[:, n]
            item_old = item_features[:, d].copy()
            item_features[:, d] += gamma * (
                error * user_features[:, n] - lambda_item * item_old)
            user_features[:, n] += gamma * (
                error * item_old - lambda_user * user_features[:, n])

        rmse = compute_error(data=train, user_features=user_features,
                             item_features=item_features, nz=nz_train)
        print(f"epoch {epoch + 1}: train RMSE {rmse:.4f}")

    return compute_error(data=test, user_features=user_features,
                         item_features=item_features, nz=nz_test)"""

# The reference body of ALS after its constants.
_ALS_BODY = """    np.random.seed(988)
    user_features, item_features = init_MF(train, num_features)
    rated = train != 0
    nnz_items_per_user = np.asarray(rated.sum(axis=0)).ravel()
    nnz_users_per_item = np.asarray(rated.sum(axis=1)).ravel()
    nz_train, nz_item_userindices, nz_user_itemindices = (
        build_index_groups(train))
    nz_test, _, _ = build_index_groups(test)

    previous_rmse = np.inf
    iteration = 0
    while True:
        user_features = update_user_feature(
            train, item_features, lambda_user,
            nnz_items_per_user, nz_user_itemindices)
        item_features = update_item_feature(
            train, user_features, lambda_item,
            nnz_users_per_item, nz_item_userindices)

        rmse = compute_error(train, user_features, item_features, nz_train)"""

# The same with every helper called by keyword and counts from getnnz.
_ALS_KEYWORD_BODY = """    np.random.seed(988)
    user_features, item_features = init_MF(
        train=train, num_features=num_features)
    nnz_items_per_user = train.getnnz(axis=0)
    nnz_users_per_item = train.getnnz(axis=1)
    nz_train, nz_item_userindices, nz_user_itemindices = (
        build_index_groups(train=train))
    nz_test, _, _ = build_index_groups(test)

    previous_rmse = np.inf
    iteration = 0
    while True:
        user_features = update_user_feature(
            train=train, item_features=item_features,
            lambda_user=lambda_user, nnz_items_per_user=nnz_items_per_user,
            nz_user_itemindices=nz_user_itemindices)
        item_features = update_item_feature(
            train=train, user_features=user_features,
            lambda_item=lambda_item, nnz_users_per_item=nnz_users_per_item,
            nz_item_userindices=nz_item_userindices)

        rmse = compute_error(data=train, user_features=user_features,
                             item_features=item_features, nz=nz_train)"""

# The batched reference bodies of the two ALS updates.
_USER_UPDATE_BODY = """    num_features, num_items = item_features.shape
    rated = (train != 0).astype(np.float64)

    # Row n of grams is the sum of w_d w_d^T over the items of user n.
    outer_products = np.einsum("kd,ld->dkl", item_features, item_features)
    grams = rated.T @ outer_products.reshape(num_items, -1)
    grams = grams.reshape(-1, num_features, num_features)

    # A user without ratings gets the system lambda * I z = 0, so z = 0.
    penalties = lambda_user * np.maximum(nnz_items_per_user, 1)
    systems = grams + penalties[:, None, None] * np.eye(num_features)
    right_hand_sides = train.T @ item_features.T
    solutions = np.linalg.solve(systems, right_hand_sides[:, :, None])
    return solutions[:, :, 0].T"""

_ITEM_UPDATE_BODY = """    num_features, num_users = user_features.shape
    rated = (train != 0).astype(np.float64)

    # Row d of grams is the sum of z_n z_n^T over the users of item d.
    outer_products = np.einsum("kn,ln->nkl", user_features, user_features)
    grams = rated @ outer_products.reshape(num_users, -1)
    grams = grams.reshape(-1, num_features, num_features)

    # An item without ratings gets the system lambda * I w = 0, so w = 0.
    penalties = lambda_item * np.maximum(nnz_users_per_item, 1)
    systems = grams + penalties[:, None, None] * np.eye(num_features)
    right_hand_sides = train @ user_features.T
    solutions = np.linalg.solve(systems, right_hand_sides[:, :, None])
    return solutions[:, :, 0].T"""

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
    # A correct split in the LIL format. Indexing it with two arrays
    # returns another sparse matrix, so Task 1 requires CSR.
    Mutant(
        name="split-returns-lil",
        cell="split_data",
        old="return valid_ratings, train, test",
        new="return valid_ratings, train.tolil(), test.tolil()",
        loses={"test_split_data"},
    ),
    # Zeroing entries of copies keeps them as stored zeros, which nnz and
    # getnnz count as ratings.
    Mutant(
        name="split-keeps-stored-zeros",
        cell="split_data",
        old="""    train = sp.csr_matrix(
        (values[~in_test], (items[~in_test], users[~in_test])), shape=shape
    )
    test = sp.csr_matrix(
        (values[in_test], (items[in_test], users[in_test])), shape=shape
    )""",
        new="""    train = valid_ratings.copy()
    train[items[in_test], users[in_test]] = 0
    test = valid_ratings.copy()
    test[items[~in_test], users[~in_test]] = 0""",
        loses={"test_split_data"},
    ),
    Mutant(
        name="global-mean-over-all-cells",
        cell="baseline_global_mean",
        old="global_mean = train_ratings.mean()",
        new="global_mean = train.mean()",
        loses={"test_baseline_global_mean"},
    ),
    # The RMSE is right, but test is changed in place.
    Mutant(
        name="global-mean-modifies-test",
        cell="baseline_global_mean",
        old="return np.sqrt(calculate_mse(test_ratings, global_mean))",
        new="test.data -= global_mean\n"
        "    return np.sqrt(np.mean(test.data ** 2))",
        loses={"test_baseline_global_mean"},
    ),
    Mutant(
        name="user-mean-over-item-axis",
        cell="baseline_user_mean",
        old="_, train_users, train_ratings = sp.find(train)",
        new="train_users, _, train_ratings = sp.find(train)",
        loses={"test_baseline_user_mean"},
    ),
    Mutant(
        name="item-mean-over-all-users",
        cell="baseline_item_mean",
        old="item_sums[test_items] / item_counts[test_items]",
        new="item_sums[test_items] / train.shape[1]",
        loses={"test_baseline_item_mean"},
    ),
    Mutant(
        name="item-mean-returns-mse",
        cell="baseline_item_mean",
        old="return np.sqrt(calculate_mse(test_ratings, predictions))",
        new="return calculate_mse(test_ratings, predictions)",
        loses={"test_baseline_item_mean"},
    ),
    Mutant(
        name="init-mean-over-all-users",
        cell="init_MF",
        old="item_sums / np.maximum(ratings_per_item, 1)",
        new="item_sums / num_users",
        loses={"test_init_MF"},
    ),
    # 0 / 0 gives NaN (and a RuntimeWarning) for an item without ratings.
    Mutant(
        name="init-nan-for-unrated-item",
        cell="init_MF",
        old="item_sums / np.maximum(ratings_per_item, 1)",
        new="item_sums / ratings_per_item",
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
    # Both visit the ratings in one order in every epoch. The MovieLens
    # result stays in range, so a small case where the order matters
    # catches them.
    Mutant(
        name="sgd-never-shuffles",
        cell="matrix_factorization_SGD",
        old="order = np.random.permutation(len(nz_train))",
        new="order = np.arange(len(nz_train))",
        loses={"test_matrix_factorization_SGD"},
    ),
    Mutant(
        name="sgd-shuffles-once",
        cell="matrix_factorization_SGD",
        old="""    for epoch in range(num_epochs):
        # Visit the ratings in a new random order, with a smaller step.
        order = np.random.permutation(len(nz_train))""",
        new="""    order = np.random.permutation(len(nz_train))
    for epoch in range(num_epochs):
        # Visit the ratings in a new random order, with a smaller step.""",
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
    # The MSE on MovieLens, about 0.93, is inside the visible range, so the
    # hidden case with a known result catches it.
    Mutant(
        name="als-returns-mse",
        cell="ALS",
        old="return compute_error(test, user_features, item_features, "
        "nz_test)",
        new="return compute_error(\n"
        "        test, user_features, item_features, nz_test) ** 2",
        loses={"test_ALS"},
    ),
]

CORRECT_VARIANTS = [
    Mutant(
        name="correct-user-mean-dense-loop",
        cell="baseline_user_mean",
        old="""    num_users = train.shape[1]
    _, train_users, train_ratings = sp.find(train)
    user_sums = np.bincount(train_users, weights=train_ratings,
                            minlength=num_users)
    user_counts = np.bincount(train_users, minlength=num_users)

    _, test_users, test_ratings = sp.find(test)
    predictions = user_sums[test_users] / user_counts[test_users]
    return np.sqrt(calculate_mse(test_ratings, predictions))""",
        new="""    dense_train, dense_test = train.toarray(), test.toarray()
    squared_errors = []
    for user in range(dense_test.shape[1]):
        tested = dense_test[:, user] != 0
        if tested.any():
            rated = dense_train[:, user] != 0
            user_mean = dense_train[rated, user].mean()
            squared_errors.extend((dense_test[tested, user] - user_mean) ** 2)
    return np.sqrt(np.mean(squared_errors))""",
    ),
    Mutant(
        name="correct-sgd-per-rating-loop",
        cell="matrix_factorization_SGD",
        old=_SGD_BODY,
        new=_SGD_PER_RATING_BODY,
    ),
    Mutant(
        name="correct-user-update-loop-lstsq",
        cell="update_user_feature",
        old=_USER_UPDATE_BODY,
        new="""    num_features = item_features.shape[0]
    dense = train.toarray()
    user_features = np.zeros((num_features, train.shape[1]))
    for user, items in nz_user_itemindices:
        penalty = np.sqrt(lambda_user * nnz_items_per_user[user])
        design = np.vstack([item_features[:, items].T,
                            penalty * np.eye(num_features)])
        target = np.concatenate([dense[items, user], np.zeros(num_features)])
        user_features[:, user] = np.linalg.lstsq(
            design, target, rcond=None)[0]
    return user_features""",
    ),
    Mutant(
        name="correct-item-update-loop-inv",
        cell="update_item_feature",
        old=_ITEM_UPDATE_BODY,
        new="""    num_features = user_features.shape[0]
    dense = train.toarray()
    item_features = np.zeros((num_features, train.shape[0]))
    for item, users in nz_item_userindices:
        features = user_features[:, users]
        system = (features @ features.T + lambda_item
                  * nnz_users_per_item[item] * np.eye(num_features))
        item_features[:, item] = (
            np.linalg.inv(system) @ features @ dense[item, users])
    return item_features""",
    ),
    Mutant(
        name="correct-als-keyword-calls",
        cell="ALS",
        old=_ALS_BODY,
        new=_ALS_KEYWORD_BODY,
    ),
]

MUTANTS += CORRECT_VARIANTS
