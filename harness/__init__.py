"""The harness: checks of hand-written backpropagation and SGD, and the grading of submissions.

    status       the verdict vocabulary (pass, fail, error, missing, timeout); no torch
    checks/      in-process judging, what students get: gradients against autograd and finite
                 differences, SGD against torch.optim.SGD, the course's main_test, notebook extraction
    grading/     the teacher's pipeline: submissions, sandboxes, the wire protocol, the graded parts,
                 verdicts, feedback and gradebooks (never released to students)
    cli          the command line (check | grade | release); release: the student version

Importing this package imports nothing: each layer imports only the ones below it
(status <- checks <- grading <- cli), and `import harness.grading.sandbox.protocol` does not load torch.
"""
