"""Wrong answers to lab01, one or more per graded answer cell."""

from . import Mutant

MUTANTS = [
    # Task 1: array_properties
    Mutant(
        name="shape-called-as-method",
        cell="array_properties",
        old="return array, array.shape, array.dtype",
        new="return array, array.shape(), array.dtype",
        loses={"test_array_properties"},
    ),
    Mutant(
        name="array-forced-to-float",
        cell="array_properties",
        old="array = np.array(nested)",
        new="array = np.array(nested, dtype=float)",
        loses={"test_array_properties"},
    ),
    Mutant(
        name="shape-from-list-lengths",
        cell="array_properties",
        old="return array, array.shape, array.dtype",
        new="return array, (len(nested), len(nested[0])), array.dtype",
        loses={"test_array_properties"},
    ),
    Mutant(
        name="shape-as-list",
        cell="array_properties",
        old="return array, array.shape, array.dtype",
        new="return array, list(array.shape), array.dtype",
        loses={"test_array_properties"},
    ),
    # Task 2: range_and_ones
    Mutant(
        name="arange-starts-at-one",
        cell="range_and_ones",
        old="return np.arange(n), np.ones(shape)",
        new="return np.arange(1, n + 1), np.ones(shape)",
        loses={"test_range_and_ones"},
    ),
    Mutant(
        name="ones-shape-reversed",
        cell="range_and_ones",
        old="return np.arange(n), np.ones(shape)",
        new="return np.arange(n), np.ones(shape[::-1])",
        loses={"test_range_and_ones"},
    ),
    Mutant(
        name="range-as-list",
        cell="range_and_ones",
        old="return np.arange(n), np.ones(shape)",
        new="return list(range(n)), np.ones(shape)",
        loses={"test_range_and_ones"},
    ),
    Mutant(
        name="ones-with-int-dtype",
        cell="range_and_ones",
        old="return np.arange(n), np.ones(shape)",
        new="return np.arange(n), np.ones(shape, dtype=int)",
        loses={"test_range_and_ones"},
    ),
    # Task 3: column_and_row_max and fractions_of_row_total
    Mutant(
        name="max-axes-swapped",
        cell="axis_reductions",
        old="return a.max(0), a.max(1)",
        new="return a.max(1), a.max(0)",
        loses={"test_axis_reductions"},
    ),
    Mutant(
        name="fractions-of-column-total",
        cell="axis_reductions",
        old="row_totals = a.sum(axis=1, keepdims=True)",
        new="row_totals = a.sum(axis=0, keepdims=True)",
        loses={"test_axis_reductions"},
    ),
    Mutant(
        name="fractions-without-keepdims",
        cell="axis_reductions",
        old="row_totals = a.sum(axis=1, keepdims=True)",
        new="row_totals = a.sum(axis=1)",
        loses={"test_axis_reductions"},
    ),
    Mutant(
        # Passes with int input, whose float conversion is a copy, but
        # overwrites a float input, which np.asarray returns without a copy.
        name="fractions-divide-float-input-in-place",
        cell="axis_reductions",
        old=(
            "row_totals = a.sum(axis=1, keepdims=True)\n"
            "    return a / row_totals"
        ),
        new=(
            "b = np.asarray(a, dtype=float)\n"
            "    b /= b.sum(axis=1, keepdims=True)\n"
            "    return b"
        ),
        loses={"test_axis_reductions"},
    ),
    # Task 4: gram_matrix
    Mutant(
        name="gram-transposed-product",
        cell="gram_matrix",
        old="return X.T @ X",
        new="return X @ X.T",
        loses={"test_gram_matrix"},
    ),
    Mutant(
        name="gram-elementwise-product",
        cell="gram_matrix",
        old="return X.T @ X",
        new="return X * X",
        loses={"test_gram_matrix"},
    ),
    # Task 5: solve_system
    Mutant(
        name="solve-inverse-on-the-right",
        cell="solve_system",
        old="return np.linalg.solve(A, b)",
        new="return b @ np.linalg.inv(A)",
        loses={"test_solve_system"},
    ),
    Mutant(
        name="solve-transposed-system",
        cell="solve_system",
        old="return np.linalg.solve(A, b)",
        new="return np.linalg.solve(A.T, b)",
        loses={"test_solve_system"},
    ),
    # Task 6a: add_item
    Mutant(
        name="add-item-appends-to-argument",
        cell="add_item",
        old="return items + [item]",
        new="items.append(item)\n    return items",
        loses={"test_add_item"},
    ),
    Mutant(
        name="add-item-shared-default",
        cell="add_item",
        old="""def add_item(item, items=None):
    \"\"\"Return a new list: the elements of items, then item.

    Args:
        item: any value.
        items: a list, left unchanged. None means an empty list.

    Returns:
        a new list.
    \"\"\"
    if items is None:
        items = []
    return items + [item]""",
        new="""def add_item(item, items=[]):
    items.append(item)
    return items""",
        loses={"test_add_item"},
    ),
    # Task 6b: zero_negatives
    Mutant(
        name="zero-negatives-alias",
        cell="zero_negatives",
        old="result = a.copy()",
        new="result = a",
        loses={"test_zero_negatives"},
    ),
    Mutant(
        name="zero-negatives-view",
        cell="zero_negatives",
        old="result = a.copy()",
        new="result = a[:]",
        loses={"test_zero_negatives"},
    ),
    # Task 7: slice_parts
    Mutant(
        name="interior-off-by-one",
        cell="slice_parts",
        old='"interior": a[1:-1, 1:-1]',
        new='"interior": a[1:-2, 1:-2]',
        loses={"test_slice_parts"},
    ),
    Mutant(
        name="last-column-kept-2d",
        cell="slice_parts",
        old='"last_column": a[:, -1]',
        new='"last_column": a[:, -1:]',
        loses={"test_slice_parts"},
    ),
    Mutant(
        name="every-other-row-from-one",
        cell="slice_parts",
        old='"every_other_row": a[::2]',
        new='"every_other_row": a[1::2]',
        loses={"test_slice_parts"},
    ),
    # Task 8: histogram_counts
    Mutant(
        name="histogram-range-from-data",
        cell="histogram_counts",
        old="range=value_range",
        new="range=(values.min(), values.max())",
        loses={"test_histogram_counts"},
    ),
    Mutant(
        name="histogram-extra-bin",
        cell="histogram_counts",
        old="bins=bins,",
        new="bins=bins + 1,",
        loses={"test_histogram_counts"},
    ),
    Mutant(
        name="histogram-drawn-with-plt-hist",
        cell="histogram_counts",
        old="counts, edges = np.histogram(",
        new="counts, edges, _ = plt.hist(",
        loses={"test_histogram_counts"},
    ),
    Mutant(
        name="histogram-drawn-then-closed",
        cell="histogram_counts",
        old=(
            "counts, edges = np.histogram(values, bins=bins, "
            "range=value_range)\n"
        ),
        new=(
            "counts, edges, _ = plt.hist(values, bins=bins, "
            "range=value_range)\n"
            "    plt.close()\n"
        ),
        loses={"test_histogram_counts"},
    ),
    # Task 9: the git workflow
    Mutant(
        name="git-commits-on-main",
        cell="git_workflow",
        old=(
            '    "git checkout -b add-analysis",\n'
            "]\n"
            "publish_commands = [\n"
            '    "git status",\n'
            '    "git add analysis.py",\n'
            "    'git commit -m \"Add a column maximum to the analysis script\"',\n"
            '    "git push origin add-analysis",'
        ),
        new=(
            "]\n"
            "publish_commands = [\n"
            '    "git status",\n'
            '    "git add analysis.py",\n'
            "    'git commit -m \"Add a column maximum to the analysis script\"',\n"
            '    "git push origin main",'
        ),
        loses={"test_git_publish", "test_git_update"},
    ),
    Mutant(
        # Commits on local main, then merges main into the branch. The
        # remote ends up right, but local main has moved.
        name="git-commits-on-local-main",
        cell="git_workflow",
        old=(
            '    "git add analysis.py",\n'
            "    'git commit -m \"Add a column maximum to the analysis "
            "script\"',\n"
            '    "git push origin add-analysis",'
        ),
        new=(
            '    "git checkout main",\n'
            '    "git add analysis.py",\n'
            "    'git commit -m \"Add a column maximum to the analysis "
            "script\"',\n"
            '    "git checkout add-analysis",\n'
            '    "git merge main",\n'
            '    "git push origin add-analysis",'
        ),
        loses={"test_git_publish"},
    ),
    Mutant(
        name="git-skips-status",
        cell="git_workflow",
        old='    "git status",\n',
        new="",
        loses={"test_git_publish"},
    ),
    Mutant(
        name="git-forgets-to-pull",
        cell="git_workflow",
        old='    "git pull origin main",\n',
        new="",
        loses={"test_git_update"},
    ),
    Mutant(
        name="git-pulls-before-switching",
        cell="git_workflow",
        old='    "git checkout main",\n    "git pull origin main",',
        new='    "git pull origin main",\n    "git checkout main",',
        loses={"test_git_update"},
    ),
]
