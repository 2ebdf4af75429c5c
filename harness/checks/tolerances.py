"""Every tolerance of the harness, in one place, each with the reason for its size.

Units: u = 2**-53 ~ 1.1e-16 is float64's unit round-off (half its machine epsilon).
"""

import torch

FLOAT64_UNIT_ROUNDOFF = torch.finfo(torch.float64).eps / 2

# --- gradients against autograd ------------------------------------------------------------------
# A right hand-written gradient and autograd's compute the same sums in another order, and often the
# derivative with another formula (1 - tanh^2 with or without a fused multiply-add, 1 / cosh^2, ...).
# Where units are well inside their range that costs about u * (terms) * (depth) < 1e-13 relative,
# so a normwise floor of 1e-10 is generous ...
AUTOGRAD_RTOL = 1e-10
# ... but a saturated unit (tanh at z = 10 has f' = 8e-9) turns an absolute error of a few u in f'
# into a relative error of 1e-8 in that unit's gradient. So each entry may also differ by
# ROUNDOFF_SAFETY times a round-off bound propagated through the backward pass with absolute values
# (references.roundoff_bound). Measured: right gradients stay below 1/10 of that bound; the smallest
# mistake worth catching (a factor 1 + 1e-3 on one layer) lies more than 1e5 bounds above it.
ROUNDOFF_SAFETY = 64
# A gradient returned in float32 (or computed from float32 parts) can only be right to float32's
# round-off; 1e-4 relative still sits ten times below a 1e-3 mistake.
LOW_PRECISION_RTOL = 1e-4

# A classic mistake explains a wrong gradient when the gradient it produces matches to 1e-8
# (harness.checks.diagnosis): far looser than round-off, far tighter than two different mistakes agree.
DIAGNOSIS_MATCH_RTOL = 1e-8
# A gradient that is c times the right one is named by c when c lies this close to a telling value
# (-1: the sign, 1/2: the factor 2, 1/B: a mean over the batch). The least-squares c of a gradient
# that DIAGNOSIS_MATCH_RTOL calls a multiple is that exact to about 1e-8; the telling values lie
# 0.05 or more apart.
FACTOR_MATCH_ATOL = 1e-6
# The notebook's own MyNet builds the nets only when its forward pass gives the harness's output to
# this relative error (another summation order of a right forward pass stays below 1e-15).
FORWARD_MATCH_RTOL = 1e-12

# --- gradients against finite differences ----------------------------------------------------------
# Centred differences with step h: truncation ~ h^2 |L'''| ~ 1e-12, round-off ~ u S / h per entry,
# S the loss's round-off scale. The allowed difference is FINITE_DIFFERENCE_RTOL * scale +
# FINITE_DIFFERENCE_ROUNDOFF_SAFETY u S / h (see references.finite_difference_bound) ...
FINITE_DIFFERENCE_STEP = 1e-6
FINITE_DIFFERENCE_RTOL = 1e-6
# ... where S bounds the round-off of one loss evaluation only to first order: the forward pass's
# sums (up to 576 terms here) and the activations add to it, so the bound allows 1000 times u S.
FINITE_DIFFERENCE_ROUNDOFF_SAFETY = 1000
# Truncation, h^2 |L'''| / 6, is estimated per entry from a second estimate at step 2h (Richardson:
# |FD(2h) - FD(h)| / 3) and allowed TRUNCATION_SAFETY times: with the course's own step
# (main_test(eps=1e-4)) it reached 1e-4 of a small gradient on the toy net.
TRUNCATION_SAFETY = 3
# On nets with more parameters than this, finite differences check a seeded sample of entries ...
FINITE_DIFFERENCE_MAX_ENTRIES = 150
# ... and with kinked activations (ReLU) only where no pre-activation lies within reach of the step.
KINK_MARGIN = 1e-4

# --- SGD against torch.optim.SGD --------------------------------------------------------------------
# The course asks for "exactly the same results". A right update written in another operation order
# (p - lr * g instead of the fused in-place step, the learning rate folded into the velocity, ...) rounds
# differently; over 3 epochs of 5 steps on the check's small model that was measured at most 3e-15
# relative. Mistakes start far above: a wrong momentum, decay or dampening is 1e-3 to 1 relative.
# 1e-9 sits six orders above the first and six below the second.
SGD_RTOL = 1e-9

