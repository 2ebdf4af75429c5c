"""The teacher's pipeline: grading a folder of submissions in sandboxes. Never released to students.

    submissions   finding and unpacking submissions; what a sandbox's copy leaves out
    sandbox       bubblewrap sandboxes with cgroup limits, and the one process killer
    worker        what runs inside a sandbox; lockdown: autograd locked away for backpropagation
    protocol      the wire between sandbox and grader (frames, payloads), decoded with every size bounded
    part          what a graded part is; part_backpropagation, part_sgd: the two parts; parts: the registry
    verdict       a part's Verdict (its Status decided where the outcome happened)
    source_check  autograd and dynamic code in submitted source (read, never run)
    grade         Options, grade_all: one submission's problems never end the run
    feedback      feedback files, the table, the gradebook; quoting: submission text as data
"""
