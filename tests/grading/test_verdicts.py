"""The verdict each written submission earns (tests/fixtures/submissions.py), graded in-process through the
code the sandbox runs (worker.run_part) and the code the grader judges with (grade.part_verdict): the
real-style ones pass where the course's contract says they are right, and every message names the cause.
The hostile ones, which need a sandbox, are graded in one by test_grade."""

import shutil

import pytest
import torch

from harness.grading import grade
from harness.grading.sandbox import worker
from harness.grading.parts.part import JudgeContext
from harness.grading.parts import PARTS
from harness.grading.sandbox.protocol import Frame, RunStatus
from tests.fixtures import submissions as S


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    grade.write_inputs(folder, grade.Options())
    return folder


@pytest.fixture(scope="module")
def verdicts(inputs, tmp_path_factory):
    """{submission: {part key: Verdict}} for every submission graded in-process."""
    dtype, threads, grad = torch.get_default_dtype(), torch.get_num_threads(), torch.is_grad_enabled()
    results = {}
    try:
        for name, files, _, _ in S.in_process():
            folder = S.write(tmp_path_factory.mktemp("submission"), name, files)
            results[name] = {}
            for part in PARTS:
                work = tmp_path_factory.mktemp("work") / "copy"
                shutil.copytree(folder, work)
                frame = Frame(part.key, RunStatus.OK, 0, worker.run_part(part, str(work), str(inputs)))
                context = JudgeContext(folder=folder, notebook_path=folder / part.notebook)
                results[name][part.key] = grade.part_verdict(part, frame, context, grade.Options(), False)
    finally:
        torch.set_default_dtype(dtype), torch.set_num_threads(threads), torch.set_grad_enabled(grad)
    return results


@pytest.mark.parametrize("name, bp, sgd", [(n, bp, sgd) for n, _, bp, sgd in S.in_process()], ids=[s[0] for s in S.in_process()])
def test_every_submission_gets_the_status_its_work_earns(verdicts, name, bp, sgd):
    got = verdicts[name]
    assert (got["backpropagation"].status.value, got["sgd"].status.value) == (bp, sgd), {k: v.message for k, v in got.items()}


@pytest.mark.parametrize("name, part, words", [
    ("02_wrong_gradients", "backpropagation", "factor 2 from d/dy"),
    ("03_wrong_sgd", "sgd", "momentum buffer is wrong"),
    ("04_broken_json", "backpropagation", "not a valid notebook"),
    ("05_syntax_error_in_the_function", "backpropagation", "which defines backpropagation, has a syntax error at line 1"),
    ("06_missing_function", "backpropagation", "defines no function backpropagation"),
    ("09_raises", "backpropagation", "raised KeyError: 99"),
    ("09_raises", "sgd", "zero the gradients"),
    ("10_no_notebooks", "sgd", "gradient_descent.ipynb is not in the submission"),
    ("r05_reads_globals", "sgd", "reads the notebook global 'train_loader'"),
    ("r06_plain_sgd_only", "sgd", "no weight decay (task 6) parameter"),
    ("r06_plain_sgd_only", "sgd", "no momentum (task 7) parameter"),
    ("r07_momentum_20_percent_off", "sgd", "the momentum buffer is wrong"),
])
def test_messages_name_the_real_cause(verdicts, name, part, words):
    message = verdicts[name][part].message
    assert words in message and "floating-point order" not in message


def test_distinctions_and_notes(verdicts):
    assert verdicts["r06_plain_sgd_only"]["sgd"].settings == {"plain": True}
    assert verdicts["r02_hyper_parameters_first"]["sgd"].distinctions["bitwise equal to torch.optim.SGD"]["yes"] is True
    assert any("code cell 3 skipped: syntax error" in n for n in verdicts["r09_scratch_cell"]["backpropagation"].notes)
    assert any("default of 'preprocessor'" in n for n in verdicts["r08_default_from_data_and_train"]["sgd"].notes)
    assert any("called it as the identity" in n for n in verdicts["r10_preprocessor_default_applied"]["sgd"].notes)
