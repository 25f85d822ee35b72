"""Mutants of the ex13 reference solution, one or more per graded function.

The trained-model checks (test_logreg_trained, test_lenet_trained,
test_robust_trained) evaluate the models that the notebook trains with the
student's own functions. A mistake that breaks training therefore also
costs those points, and the mutants below list them where that happens.
"""

from . import Mutant

MUTANTS = [
    Mutant(
        name="accuracy-count-not-fraction",
        cell="accuracy",
        old="return correct.float().mean()",
        new="return correct.float().sum()",
        loses={"test_accuracy"},
    ),
    # The predictions of shape (num_classes,) cannot be compared with the
    # labels, so every training loop stops at its first test phase.
    Mutant(
        name="accuracy-argmax-over-batch",
        cell="accuracy",
        old="torch.argmax(predicted_logits, dim=1)",
        new="torch.argmax(predicted_logits, dim=0)",
        loses={
            "test_accuracy",
            "test_logreg_trained",
            "test_lenet_trained",
            "test_robust_trained",
        },
    ),
    Mutant(
        name="logreg-without-bias",
        cell="logistic_regression_model",
        old="self.image_area, self.num_classes, bias=True",
        new="self.image_area, self.num_classes, bias=False",
        loses={"test_logistic_regression_model"},
    ),
    # Gradients add up over the batches. The visible check with a loss whose
    # gradient is the same in every step catches it, and the trained models
    # fall short on the offline MNIST subset: 0.815 for the logistic
    # regression, 0.709 for LeNet.
    Mutant(
        name="train-without-zero-grad",
        cell="train",
        old="            optimizer.zero_grad()\n",
        new="",
        loses={"test_train", "test_logreg_trained", "test_lenet_trained"},
    ),
    Mutant(
        name="train-without-eval-mode",
        cell="train",
        old="        model.eval()\n",
        new="",
        loses={"test_train"},
    ),
    # zero_grad() leaves no gradients, so step() skips every parameter and
    # the backward pass comes too late: the models never change.
    Mutant(
        name="train-step-before-backward",
        cell="train",
        old="            loss.backward()\n            optimizer.step()\n\n        model.eval()",
        new="            optimizer.step()\n            loss.backward()\n\n        model.eval()",
        loses={"test_train", "test_logreg_trained", "test_lenet_trained"},
    ),
    # Correct output, but PyTorch writes a UserWarning about the implicit
    # dim to stderr. Only the check of LeNetModel reports it, because the
    # checks of the trained models silence warnings.
    Mutant(
        name="lenet-log-softmax-without-dim",
        cell="lenet_model",
        old="return torch.nn.functional.log_softmax(x, dim=1)",
        new="return torch.nn.functional.log_softmax(x)",
        loses={"test_lenet_model"},
    ),
    Mutant(
        name="lenet-without-log-softmax",
        cell="lenet_model",
        old="return torch.nn.functional.log_softmax(x, dim=1)",
        new="return x",
        loses={"test_lenet_model"},
    ),
    Mutant(
        name="fgsm-without-clamp",
        cell="fgsm_update",
        old="return torch.clamp(perturbed_image, 0, 1)",
        new="return perturbed_image",
        loses={"test_fgsm_update"},
    ),
    # Gradients of the loss with respect to pixels are tiny, so the
    # perturbation all but vanishes and adversarial training gains nothing.
    Mutant(
        name="fgsm-gradient-not-sign",
        cell="fgsm_update",
        old="update_max_norm * data_grad.sign()",
        new="update_max_norm * data_grad",
        loses={"test_fgsm_update", "test_robust_trained"},
    ),
    # An in-place update of an image that requires gradients raises, so
    # adversarial training stops at its first batch.
    Mutant(
        name="fgsm-in-place",
        cell="fgsm_update",
        old="perturbed_image = image + update_max_norm * data_grad.sign()",
        new="perturbed_image = image.add_(update_max_norm * data_grad.sign())",
        loses={"test_fgsm_update", "test_robust_trained"},
    ),
    Mutant(
        name="attack-without-perturbation",
        cell="evaluate_attack",
        old="perturbed_data = fgsm_update(data, data.grad, update_max_norm).detach()",
        new="perturbed_data = data.detach()",
        loses={"test_evaluate_attack"},
    ),
    # The examples then read "7 -> 7" even where the attack flipped the
    # prediction.
    Mutant(
        name="attack-original-from-attacked-output",
        cell="evaluate_attack",
        old="original_predictions[0].item(),",
        new="adversarial_predictions[0].item(),",
        loses={"test_evaluate_attack"},
    ),
    # Counts the correct predictions itself instead of calling accuracy().
    Mutant(
        name="attack-counts-without-accuracy",
        cell="evaluate_attack",
        old="num_correct += accuracy(output, target).item() * len(target)",
        new="num_correct += (adversarial_predictions == target).sum().item()",
        loses={"test_evaluate_attack"},
    ),
    Mutant(
        name="adversarial-update-on-clean-batch",
        cell="train_adversarial",
        old="prediction = model(perturbed_x)",
        new="prediction = model(batch_x)",
        loses={"test_train_adversarial", "test_robust_trained"},
    ),
    # After the first epoch the model stays in eval mode, so dropout is off
    # for the rest of the training. The robust model still passes.
    Mutant(
        name="adversarial-train-mode-once",
        cell="train_adversarial",
        old="    for epoch in range(num_epochs):\n        model.train()\n",
        new="    model.train()\n    for epoch in range(num_epochs):\n",
        loses={"test_train_adversarial"},
    ),
    # Attacking the network without dropout costs clean accuracy: on the
    # offline MNIST subset the robust LeNet reaches 0.760 on clean images,
    # below the 0.80 that its check requires.
    Mutant(
        name="adversarial-attack-in-eval-mode",
        cell="train_adversarial",
        old="            loss = criterion(model(batch_x), batch_y)\n",
        new=(
            "            model.eval()\n"
            "            loss = criterion(model(batch_x), batch_y)\n"
            "            model.train()\n"
        ),
        loses={"test_train_adversarial", "test_robust_trained"},
    ),
    # The gradients of the attack's backward pass stay in the weights and
    # add to those of the update.
    Mutant(
        name="adversarial-without-second-zero-grad",
        cell="train_adversarial",
        old="            optimizer.zero_grad()\n",
        new="",
        loses={"test_train_adversarial"},
    ),
]
