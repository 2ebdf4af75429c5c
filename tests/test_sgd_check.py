"""check_sgd_equivalence accepts an exact SGD and rejects the classic wrong ones, naming the cause."""

import pytest
import torch

from tests_backpropagation import ParameterRecorder, check_sgd_equivalence, first_difference


def make_sgd(textbook=False, decay_after_momentum=False, buffer_from_zero=False, ignore_nesterov=False,
             dampening_on_first_step=False, keep_gradients=False, lr_in_velocity=False,
             decay_weights_only=False, reset_buffer_each_epoch=False):
    """A hand-written SGD, right by default; each flag is a mistake seen in real submissions."""

    def train_manual_update(n_epochs, model, loss_fn, train_loader, lr, momentum=0.0, weight_decay=0.0,
                            dampening=0.0, nesterov=False):
        params = list(model.parameters())
        buffers = [None] * len(params)
        losses = []
        for _ in range(n_epochs):
            if reset_buffer_each_epoch:
                buffers = [None] * len(params)
            total = 0.0
            for x, y in train_loader:
                loss = loss_fn(model(x), y)
                if not keep_gradients:
                    model.zero_grad()
                loss.backward()
                with torch.no_grad():
                    for i, p in enumerate(params):
                        g = p.grad
                        decays = weight_decay != 0 and not (decay_weights_only and p.dim() == 1)
                        if decays and not decay_after_momentum:
                            g = g.add(p, alpha=weight_decay)
                        if momentum != 0:
                            step = lr if lr_in_velocity else 1.0
                            if buffers[i] is None and not buffer_from_zero:
                                buffers[i] = (step * g).clone() if lr_in_velocity else torch.clone(g).detach()
                                if dampening_on_first_step:
                                    buffers[i].mul_(1 - dampening)
                            else:
                                if buffers[i] is None:
                                    buffers[i] = torch.zeros_like(g)
                                buffers[i].mul_(momentum).add_(g, alpha=step * (1 - dampening))
                            g = g.add(buffers[i], alpha=momentum) if nesterov and not ignore_nesterov else buffers[i]
                        if decays and decay_after_momentum:
                            g = g.add(p, alpha=weight_decay)
                        if textbook:
                            p.copy_(p - lr * g)
                        elif lr_in_velocity and momentum != 0:
                            p.sub_(g)
                        else:
                            p.add_(g, alpha=-lr)
                total += loss.item()
            losses.append(total / len(train_loader))
        return losses

    return train_manual_update


WRONG_SGDS = [
    ("textbook arithmetic p - lr * g", make_sgd(textbook=True), "another floating-point order"),
    ("weight decay added after momentum", make_sgd(decay_after_momentum=True), "weight decay combined with momentum in the wrong order"),
    ("momentum buffer started from zero", make_sgd(buffer_from_zero=True), "dampening misapplied"),
    ("Nesterov ignored", make_sgd(ignore_nesterov=True), "Nesterov momentum ignored or wrong"),
    ("dampening applied on the first step", make_sgd(dampening_on_first_step=True), "dampening misapplied"),
    ("gradients not zeroed", make_sgd(keep_gradients=True), "zero the gradients"),
    ("learning rate folded into the velocity", make_sgd(lr_in_velocity=True), "learning rate folded into the velocity"),
    ("weight decay on weights but not biases", make_sgd(decay_weights_only=True), "not applied to the biases"),
    ("momentum buffer reset each epoch", make_sgd(reset_buffer_each_epoch=True), "does not persist across epochs"),
]


def test_right_sgd_is_accepted(capsys):
    result = check_sgd_equivalence(make_sgd())
    assert result.passed and result.n_passed == result.n_total == 8
    assert capsys.readouterr().out == "SGD equivalence: 8 / 8: ALL TEST PASSED :)\n"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_right_sgd_is_accepted_on_other_seeds(seed):
    assert check_sgd_equivalence(make_sgd(), seed=seed).passed


@pytest.mark.parametrize("name, wrong, cause", WRONG_SGDS, ids=[w[0] for w in WRONG_SGDS])
def test_wrong_sgd_is_rejected_with_its_cause(name, wrong, cause):
    result = check_sgd_equivalence(wrong)
    assert not result.passed
    first = result.failures[0]
    assert "after epoch" in first and "parameter '" in first and "differs from torch.optim.SGD by up to" in first
    assert cause in first, first


def test_exceptions_and_wrong_epoch_counts_are_reported():
    def raises(n_epochs, model, loss_fn, train_loader, lr, **kwargs):
        raise ZeroDivisionError("division by zero")

    def one_epoch_too_many(n_epochs, model, loss_fn, train_loader, lr, **kwargs):
        return make_sgd()(n_epochs + 1, model, loss_fn, train_loader, lr, **kwargs)

    assert "train_manual_update raised ZeroDivisionError: division by zero" in check_sgd_equivalence(raises).failures[0]
    assert "iterated the training loader 4 times for n_epochs=3" in check_sgd_equivalence(one_epoch_too_many).failures[0]


def test_recorder_snapshots_after_each_epoch():
    model = torch.nn.Linear(2, 1)
    recorder = ParameterRecorder([(torch.ones(1, 2), None)], model)
    for epoch in range(2):
        for _ in recorder:
            with torch.no_grad():
                model.bias += 1
    states = recorder.finish()
    assert len(states) == 2 and states[1]["bias"] - states[0]["bias"] == 1


def test_first_difference_finds_epoch_parameter_and_size():
    a = {"w": torch.zeros(3), "b": torch.zeros(1)}
    b = {"w": torch.tensor([0.0, 0.5, 0.0]), "b": torch.zeros(1)}
    assert first_difference([a, a], [a, a]) is None
    assert first_difference([a, b], [a, a])[:3] == (2, "w", 0.5)
