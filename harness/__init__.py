"""The harness: checks of hand-written backpropagation and SGD, and the grading of submissions.

    status       the verdict vocabulary (pass, fail, error, missing, timeout); no torch
    checks/      in-process judging, what students get: gradients against autograd and finite
                 differences, SGD against torch.optim.SGD, the course's main_test, notebook extraction
    grading/     the grader: sandbox/ (where submitted code runs, the wire out), parts/ (what is
                 graded and judged), grade (one class's run); released too, so that the student's
                 check is the grader's verdict
    classroom/   the course's administration: Canvas's download, staging, groups, lateness,
                 gradebooks, feedback, similarity, the class overview, regrades
    release      the student version (the teacher's only)
    cli          the command line (check | report | grade | release)

Importing this package imports nothing: each layer imports only the ones below it
(status <- checks <- grading <- classroom <- release <- cli), and `import harness.grading.sandbox.protocol`
does not load torch.
"""
