"""Parameter snapshots: copies of a model's parameters, taken after every epoch of training.

Used by the notebook (score each epoch's weights on validation) and by the harness (compare a
hand-written SGD with torch.optim.SGD epoch by epoch). One place for both.
"""

import torch


def parameter_state(model):
    """{parameter name: detached copy} of every parameter of model."""
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def load_parameter_state(model, state):
    """Copy a parameter_state back into model, in place and without autograd."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(state[name])


class ParameterRecorder:
    """Wraps a training loader and snapshots the model's parameters each time an epoch starts.

    A training function iterates its loader once per epoch, so snapshot k (k >= 1) holds the
    parameters after epoch k; call finish() after training for the last one. No callbacks needed.
    Attributes of the wrapped loader (.dataset, .batch_size, ...) are passed through.

    A pass starts when its first batch is drawn, not when an iterator is made: a progress bar such
    as tqdm.auto's makes one in its constructor that it never reads.
    """

    def __init__(self, loader, model):
        self.loader, self.model, self.snapshots = loader, model, []

    def __iter__(self):
        return self._pass()

    def _pass(self):
        batches = iter(self.loader)
        for i, batch in enumerate(batches):
            if i == 0:
                self.snapshots.append(parameter_state(self.model))
            yield batch

    def __len__(self):
        return len(self.loader)

    def __getattr__(self, name):
        # Only reached for names the recorder itself lacks. "loader" is looked up through __dict__ so
        # that copy.deepcopy (which builds the object without __init__) does not recurse forever.
        loader = self.__dict__.get("loader")
        if loader is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(loader, name)

    def finish(self):
        """Parameters after each epoch: [after epoch 1, after epoch 2, ...]."""
        self.snapshots.append(parameter_state(self.model))
        return self.snapshots[1:]


def first_difference(states, reference_states):
    """(epoch, parameter name, largest |difference|) of the first entry that is not torch.equal, or None."""
    for epoch, (state, reference) in enumerate(zip(states, reference_states), start=1):
        for name, expected in reference.items():
            got = state[name]
            if not torch.equal(got, expected):
                return epoch, name, (got - expected).abs().max().item()
    return None
