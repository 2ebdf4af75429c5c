"""The course's main_test(backprop_fn, model, ...), with its banners, on this harness's checks.

Toy data: 10 samples x_i = i + noise, y_i = [i, -i, ...], one at a time, 5 epochs of SGD (lr 0.1).
MNIST: the first 5 test images (harness.mnist), one epoch. After each sample the gradients are judged
like the battery's (round-off bound against autograd, finite differences on all or a seeded sample of
entries), then torch.optim.SGD updates the model. Also checked: the weights were updated, and every
parameter is still a leaf that requires grad.
"""

import torch

from harness.checks.cases import GradientCase, course_toy_data
from harness.checks.gradients import FINITE_DIFFERENCE_CAUSE, judge_case, reference_for_model
from harness.checks.guard import run_backpropagation
from harness.checks.mnist import load_mnist_samples
from harness.checks.references import sum_squared_error
from harness.checks.results import CheckResult
from harness.checks.tolerances import FINITE_DIFFERENCE_STEP


def _banner(title):
    print("\n __________________________________________________________________ ")
    print(title.center(68).rstrip())
    print(" __________________________________________________________________ ")


def _samples(model, data):
    if data == "mnist":
        if model.n_l[0] != 24 * 24:
            print("Please choose 576 (=24x24) as input dimension if using MNIST dataset")
        return load_mnist_samples(), 1
    if data != "toy":
        raise ValueError(f"data must be 'toy' or 'mnist', got {data!r}.")
    x, y = course_toy_data(model.n_l[0], model.n_l[-1], generator=torch.Generator().manual_seed(0))
    return [(x[i:i + 1], y[i:i + 1]) for i in range(len(x))], 5


def main_test(backprop_fn, model, eps=FINITE_DIFFERENCE_STEP, verbose=False, data="toy"):
    """The course's test. Returns True when every check passed; prints the course's banners.

    eps: the finite-difference step. verbose: also print every distinct failure.
    """
    samples, n_epochs = _samples(model, data)
    model = model.to(torch.float64)
    first_layer = [p.detach().clone() for p in (model.fc["1"].weight, model.fc["1"].bias)]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    _banner("Check gradients")
    results = []
    for epoch in range(n_epochs):
        for i, (x, y_true) in enumerate(samples):
            x = x.to(torch.float64).flatten(1)
            case = GradientCase(f"epoch {epoch + 1}, sample {i}", model.n_l, "", x, y_true, i, True)
            reference = reference_for_model(model, x, y_true, eps, seed=i)
            outcome = run_backpropagation(backprop_fn, model, x, y_true)
            results.append(judge_case(case, reference, outcome))
            optimizer.zero_grad()
            sum_squared_error(model(x), y_true).backward()
            optimizer.step()
    causes = [f.cause for r in results for f in r.failures]
    autograd_ok = all(cause == FINITE_DIFFERENCE_CAUSE for cause in causes)
    fd_run = [r for r in results if r.fd_error is not None]
    fd_ok = autograd_ok and not causes
    print("\n TEST PASSED: Gradients consistent with autograd's computations." if autograd_ok
          else "\n TEST FAILED: Gradients NOT consistent with autograd's computations.")
    if autograd_ok and not fd_run:
        print("\n TEST SKIPPED: finite differences not run (a ReLU-like activation has a pre-activation at its kink).")
    else:
        print("\n TEST PASSED: Gradients consistent with finite differences computations." if fd_ok
              else "\n TEST FAILED: Gradients NOT consistent with finite differences computations.")

    _banner("Check that weights have been updated")
    updated = all(not torch.equal(a, p.detach()) for a, p in zip(first_layer, (model.fc["1"].weight, model.fc["1"].bias)))
    print("\n TEST PASSED: Weights have been updated." if updated else "\n TEST FAILED: Weights have NOT been updated.")

    _banner("Check computational graph")
    graph_ok = all(p.requires_grad and p.is_leaf for p in model.parameters())
    print("\n TEST PASSED: All parameters seem correctly attached to the computational graph!" if graph_ok
          else "\n TEST FAILED: Some parameters are NOT correctly attached to the computational graph!")

    _banner("Conclusion")
    tests = [autograd_ok, updated, graph_ok] + ([fd_ok] if fd_run or not autograd_ok else [])
    if all(tests):
        print(f"\n {len(tests)} / {len(tests)}: ALL TEST PASSED :)")
    else:
        print(f"\n {sum(tests)} / {len(tests)}: SOME TESTS FAILED, use 'verbose=True' and check the output for more details")
    if verbose:
        failures = [f for r in results for f in r.failures]
        summary = CheckResult(not failures, sum(r.passed for r in results), len(results), failures)
        for line in summary.report()[1:]:
            print(line)
    return all(tests)
