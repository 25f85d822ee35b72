"""Mutants of the ex11 reference solution, one or more per graded function.

Entries with an empty ``loses`` are correct answers written differently
from the reference. They must keep every point, which checks that the tests
accept them.
"""

from . import Mutant

MUTANTS = [
    Mutant(
        name="parameters-missing-b",
        cell="my_linear_regression",
        old="return [self.w, self.b]",
        new="return [self.w]",
        loses={"test_my_linear_regression"},
    ),
    Mutant(
        name="w-without-requires-grad",
        cell="my_linear_regression",
        old="self.w = torch.zeros(1, device=device, requires_grad=True)",
        new="self.w = torch.zeros(1, device=device)",
        loses={"test_my_linear_regression"},
    ),
    # Correct for the (N, 1) inputs that Task 1 states, though not for 1-D
    # inputs, which the task does not require.
    Mutant(
        name="forward-f-linear",
        cell="my_linear_regression",
        old="return self.w * x + self.b",
        new="return torch.nn.functional.linear(x, self.w.reshape(1, 1), self.b)",
        loses=set(),
    ),
    Mutant(
        name="forward-matmul-view",
        cell="my_linear_regression",
        old="return self.w * x + self.b",
        new="return x @ self.w.view(1, 1) + self.b",
        loses=set(),
    ),
    Mutant(
        name="forward-without-bias",
        cell="my_linear_regression",
        old="return self.w * x + self.b",
        new="return self.w * x",
        loses={"test_my_linear_regression"},
    ),
    Mutant(
        name="mse-sum-not-mean",
        cell="mselossfunc",
        old="return ((pred - y) ** 2).mean()",
        new="return ((pred - y) ** 2).sum()",
        loses={"test_mselossfunc"},
    ),
    # Right for (N, 1) inputs only: with k columns it is k times too large.
    Mutant(
        name="mse-divide-by-rows",
        cell="mselossfunc",
        old="return ((pred - y) ** 2).mean()",
        new="return ((pred - y) ** 2).sum() / len(y)",
        loses={"test_mselossfunc"},
    ),
    Mutant(
        name="mse-absolute-error",
        cell="mselossfunc",
        old="return ((pred - y) ** 2).mean()",
        new="return (pred - y).abs().mean()",
        loses={"test_mselossfunc"},
    ),
    Mutant(
        name="train-without-zero-grad",
        cell="train",
        old="        optimizer.zero_grad()\n",
        new="",
        loses={"test_train"},
    ),
    Mutant(
        name="train-step-before-backward",
        cell="train",
        old="        loss.backward()\n        optimizer.step()\n",
        new="        optimizer.step()\n        loss.backward()\n",
        loses={"test_train"},
    ),
    Mutant(
        name="train-logs-every-epoch",
        cell="train",
        old="if epoch % 10 == 0:",
        new="if True:",
        loses={"test_train"},
    ),
    Mutant(
        name="train-logs-zero-based-epoch",
        cell="train",
        old='print(f"Epoch [{epoch + 1}/{num_epoch}]',
        new='print(f"Epoch [{epoch}/{num_epoch}]',
        loses={"test_train"},
    ),
    # The fitted line drawn on a 200-point grid instead of the sorted inputs.
    Mutant(
        name="visualize-fine-grid",
        cell="visualize",
        old='plt.plot(x_column[order], predicted[order, 0], label="Fitted line")',
        new=(
            "grid = torch.linspace(\n"
            "        float(x_column.min()), float(x_column.max()), 200, device=x.device\n"
            "    ).reshape(200, 1)\n"
            "    with torch.no_grad():\n"
            "        grid_predictions = model(grid).cpu().numpy()\n"
            "    plt.plot(\n"
            "        grid.cpu().numpy()[:, 0], grid_predictions[:, 0], label=\"Fitted line\"\n"
            "    )"
        ),
        loses=set(),
    ),
    Mutant(
        name="visualize-unsorted",
        cell="visualize",
        old="order = np.argsort(x_column)",
        new="order = np.arange(len(x_column))",
        loses={"test_visualize"},
    ),
    Mutant(
        name="visualize-data-as-line",
        cell="visualize",
        old='"ro", label="Original data"',
        new='"r-", label="Original data"',
        loses={"test_visualize"},
    ),
    Mutant(
        name="nn-linear-without-bias",
        cell="nn_linear_regression",
        old="self.linear = nn.Linear(1, 1)",
        new="self.linear = nn.Linear(1, 1, bias=False)",
        loses={"test_nn_linear_regression"},
    ),
    Mutant(
        name="nn-loss-sum-reduction",
        cell="nn_linear_regression",
        old="nn_lossfunc = nn.MSELoss()",
        new='nn_lossfunc = nn.MSELoss(reduction="sum")',
        loses={"test_nn_linear_regression"},
    ),
    Mutant(
        name="mlp-relu-not-sigmoid",
        cell="mlp",
        old="self.activation = nn.Sigmoid()",
        new="self.activation = nn.ReLU()",
        loses={"test_mlp"},
    ),
    Mutant(
        name="mlp-without-activation",
        cell="mlp",
        old="return self.fc2(self.activation(self.fc1(x)))",
        new="return self.fc2(self.fc1(x))",
        loses={"test_mlp"},
    ),
]
