"""Hand-written SGDs a student might write: a right one whose mistakes are switched on one at a time,
and the signatures real notebooks use."""

import torch

from tests.submissions import RIGHT_SGD as RIGHT_SGD_SOURCE


def make_sgd(textbook=False, decay_after_momentum=False, buffer_from_zero=False, ignore_nesterov=False,
             dampening_on_first_step=False, keep_gradients=False, lr_in_velocity=False,
             decay_weights_only=False, reset_buffer_each_epoch=False, momentum_scale=1.0, ignore_momentum=False):
    """A hand-written SGD, right by default; each flag is a mistake (or another rounding order)."""

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
                        if momentum != 0 and not ignore_momentum:
                            step = lr if lr_in_velocity else 1.0
                            if buffers[i] is None and not buffer_from_zero:
                                buffers[i] = (step * g).clone() if lr_in_velocity else torch.clone(g).detach()
                                if dampening_on_first_step:
                                    buffers[i].mul_(1 - dampening)
                            else:
                                if buffers[i] is None:
                                    buffers[i] = torch.zeros_like(g)
                                buffers[i].mul_(momentum * momentum_scale).add_(g, alpha=step * (1 - dampening))
                            g = g.add(buffers[i], alpha=momentum) if nesterov and not ignore_nesterov else buffers[i]
                        if decays and decay_after_momentum:
                            g = g.add(p, alpha=weight_decay)
                        if textbook:
                            p.data = p.data - lr * g
                        elif lr_in_velocity and momentum != 0 and not ignore_momentum:
                            p.sub_(g)
                        else:
                            p.add_(g, alpha=-lr)
                total += loss.item()
            losses.append(total / len(train_loader))
        return losses

    return train_manual_update


RIGHT = make_sgd()
TEXTBOOK = make_sgd(textbook=True)


# The signatures of real notebooks, each delegating to a right update.
def course_solution(n_epochs, model, loss_fn, train_loader, lr=1e-2, momentum_coeff=0., weight_decay=0.):
    return TEXTBOOK(n_epochs, model, loss_fn, train_loader, lr, momentum=momentum_coeff, weight_decay=weight_decay)


def hyper_parameters_first(n_epochs, lr, weight_decay, momentum, model, loss_fn, train_loader, verbose=True):
    return RIGHT(n_epochs, model, loss_fn, train_loader, lr, momentum=momentum, weight_decay=weight_decay)


def epochs_last(model, loss_fn, train_loader, lr=1e-2, momentum_coeff=0., weight_decay=0., n_epochs=30):
    return RIGHT(n_epochs, model, loss_fn, train_loader, lr, momentum=momentum_coeff, weight_decay=weight_decay)


def required_val_loader(n_epochs: int, lr: float, model, loss_fn, train_loader, val_loader, weight_decay=0.0, momentum=0.0):
    assert len(val_loader) > 0
    return RIGHT(n_epochs, model, loss_fn, train_loader, lr, momentum=momentum, weight_decay=weight_decay)


def other_names(epoch_count, model, loss_function, learning_rate, momentum, weight_decay, loader=None,
                return_loss=False, verbose=True, GPU_utilize=False):
    return RIGHT(epoch_count, model, loss_function, loader, learning_rate, momentum=momentum, weight_decay=weight_decay)


def plain_only(epoch_count, model, loss_function, learning_rate, train_loader):
    return RIGHT(epoch_count, model, loss_function, train_loader, learning_rate)


def reads_global_loader(n_epochs, model, loss_fn, loader, lr, momentum=0.0, weight_decay=0.0):
    return RIGHT(n_epochs, model, loss_fn, train_loader, lr, momentum, weight_decay)  # noqa: F821  the notebook's global


SIGNATURES = [course_solution, hyper_parameters_first, epochs_last, required_val_loader, other_names]


def _from_source(source):
    namespace = {"torch": torch}
    exec(source, namespace)
    return namespace["train_manual_update"]


# Right, and measures its training accuracy each epoch by iterating the loader once more.
evaluates_on_the_training_loader = _from_source(RIGHT_SGD_SOURCE + (
    "        with torch.no_grad():\n"
    "            sum((model(x).argmax(1) == y).sum().item() for x, y in train_loader)\n"))
