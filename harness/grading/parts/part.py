"""What a graded part is: a function in a notebook, run in the sandbox, judged in the grader.

The pipeline (harness.grading.grade, .worker, .feedback) knows parts only through this contract, so
a new part is its own module defining a Part, plus one line in harness.grading.parts.
"""

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Part:
    key: str             # the part's name in the gradebook, the JSON and --points: "backpropagation"
    notebook: str        # where the function is: "backpropagation.ipynb"
    function: str        # the function graded: "backpropagation"
    unit: str            # what passed / total counts: "cases (one sample each)"
    module: str          # the module defining this Part (the worker imports it by this name)
    write_inputs: Callable  # (folder) -> None, in the grader: the files its run reads
    run: Callable        # (function, loaded notebook, inputs folder, verify) -> (data, arrays), in the sandbox
    judge: Callable      # (Envelope, JudgeContext) -> Verdict, in the grader; never runs submitted code
    reproduction: Callable  # (failure entry of the Verdict) -> lines to paste into the notebook, or None
    points: float = 0.0  # default weight in the gradebook
    read_source: Callable = None  # (JudgeContext) -> (Verdict or None, notes), in the grader before judge and
    #                               outside its lock: a child process reads the submitted text (harness.grading.parts.source_check)
    lockdown: bool = False  # run with autograd locked away (harness.grading.sandbox.lockdown), after the other parts


@dataclass(frozen=True)
class JudgeContext:
    """What the grader knows of the submission while it judges: the folder it read (never ran)."""
    folder: object       # pathlib.Path of the submission (a temporary copy for a zip)
    notebook_path: object  # the part's notebook in it
