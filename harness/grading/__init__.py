"""The teacher's pipeline: grading submissions in sandboxes, each verdict decided where no submission runs.

    sandbox/     the machinery: bubblewrap sandboxes with cgroup limits (bubblewrap), slots that import
                 torch once (slot, zygote), each submission's own namespaces (namespaces), what runs
                 inside (worker), autograd locked away (lockdown), the wire (protocol), what goes in (packing)
    parts/       what is graded: a Part (part) and the registry (this package's PARTS), backpropagation
                 and sgd, the Verdict, the source check, the deliverables
    grade        Options, grade_all: one submission's problems never end the run

The course's administration (collecting Canvas's download, lateness, gradebooks, feedback, groups) is
harness.classroom's, the layer above.
"""
