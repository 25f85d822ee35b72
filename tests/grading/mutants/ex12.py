"""Wrong answers to ex12, one or more per graded function."""

from . import Mutant

MUTANTS = [
    Mutant(
        name="sigmoid-overflows-to-nan",
        cell="sigmoid",
        old="return 1.0 / (1.0 + np.exp(-t))",
        new="return np.exp(t) / (1.0 + np.exp(t))",
        loses={"test_sigmoid"},
    ),
    Mutant(
        name="grad-sigmoid-overflows-to-nan",
        cell="grad_sigmoid",
        old="s = sigmoid(t)\n    return s * (1.0 - s)",
        new="return np.exp(-t) / (1.0 + np.exp(-t)) ** 2",
        loses={"test_grad_sigmoid"},
    ),
    Mutant(
        name="grad-sigmoid-wrong-sign",
        cell="grad_sigmoid",
        old="return s * (1.0 - s)",
        new="return s * (1.0 + s)",
        loses={"test_grad_sigmoid", "test_simple_backpropagation"},
    ),
    Mutant(
        name="feed-forward-output-as-array",
        cell="simple_feed_forward",
        old='z_2 = W["w_2"] @ x_1',
        new='z_2 = W["w_2"].reshape(1, -1) @ x_1',
        loses={"test_simple_feed_forward"},
    ),
    Mutant(
        name="feed-forward-no-output-sigmoid",
        cell="simple_feed_forward",
        old="y_hat = sigmoid(z_2)",
        new="y_hat = z_2",
        loses={"test_simple_feed_forward", "test_simple_backpropagation"},
    ),
    Mutant(
        name="feed-forward-returns-activations",
        cell="simple_feed_forward",
        old="return z_1, z_2, y_hat",
        new="return x_1, z_2, y_hat",
        loses={"test_simple_feed_forward", "test_simple_backpropagation"},
    ),
    Mutant(
        name="backprop-missing-derivative",
        cell="simple_backpropagation",
        old="delta_2 = (y_hat - y) * grad_sigmoid(z_2)",
        new="delta_2 = y_hat - y",
        loses={"test_simple_backpropagation"},
    ),
    Mutant(
        name="backprop-transposed-outer",
        cell="simple_backpropagation",
        old='"w_1": np.outer(x, delta_1)',
        new='"w_1": np.outer(delta_1, x)',
        loses={"test_simple_backpropagation"},
    ),
    Mutant(
        name="backprop-returns-lists",
        cell="simple_backpropagation",
        old='"w_2": delta_2 * x_1,',
        new='"w_2": list(delta_2 * x_1),',
        loses={"test_simple_backpropagation"},
    ),
    Mutant(
        name="backprop-updates-weights",
        cell="simple_backpropagation",
        old="delta_1 = delta_2 * W[\"w_2\"] * grad_sigmoid(z_1)\n",
        new=(
            "delta_1 = delta_2 * W[\"w_2\"] * grad_sigmoid(z_1)\n"
            "    W[\"w_2\"] -= 0.1 * delta_2 * x_1\n"
        ),
        loses={"test_simple_backpropagation"},
    ),
]
