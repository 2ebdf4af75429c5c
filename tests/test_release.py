"""The course loop: release the student version, grade it and the solution, hand back feedback and a
gradebook. The round trip: released -> error, solution -> pass, stubs filled with the solution -> pass."""

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from harness.classroom import feedback
from harness.classroom import gradebook
from harness.release import BEGIN, END, RELEASED, ReleaseError, leaked_lines, recurrences_in, release, solutions_in, stub_regions

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def fill_stubs(released_notebook, solution_notebook):
    """The released notebook with each stub replaced by the solution's region (what a student writes)."""
    regions = []
    for cell in nbformat.read(solution_notebook, as_version=4).cells:
        lines, inside = cell.source.splitlines(), None
        for line in lines:
            if line.strip() == BEGIN:
                inside = []
            elif line.strip() == END:
                regions.append(inside)
                inside = None
            elif inside is not None:
                inside.append(line)
    notebook = nbformat.read(released_notebook, as_version=4)
    for cell in notebook.cells:
        out, lines = [], cell.source.splitlines()
        i = 0
        while i < len(lines):
            if lines[i].strip() == "# YOUR CODE HERE":
                out += regions.pop(0)
                i += 2  # the comment and the raise
            else:
                out.append(lines[i])
                i += 1
        cell.source = "\n".join(out)
    nbformat.write(notebook, released_notebook)
    assert not regions


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    released = root / "released"
    withheld = release(released)
    submissions = root / "submissions"
    for name in ("released", "solution", "filled_in"):
        (submissions / name).mkdir(parents=True)
    for notebook in ("backpropagation.ipynb", "gradient_descent.ipynb"):
        (submissions / "released" / notebook).write_bytes((released / notebook).read_bytes())
        (submissions / "solution" / notebook).write_bytes((PROJECT_ROOT / notebook).read_bytes())
        (submissions / "filled_in" / notebook).write_bytes((released / notebook).read_bytes())
        fill_stubs(submissions / "filled_in" / notebook, PROJECT_ROOT / notebook)
    out = root / "out"
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "tests_backpropagation.py"), "grade", str(submissions),
                             "--json", str(out / "verdicts.json"), "--csv", str(out / "gradebook.csv"),
                             "--feedback", str(out / "feedback"), "--jobs", "2", "--timeout", "60"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    verdicts = {v["submission"]: v for v in json.loads((out / "verdicts.json").read_text())}
    return {"released": released, "withheld": withheld, "verdicts": verdicts, "out": out, "submissions": submissions}


def test_round_trip_statuses(loop):
    statuses = {name: (v["backpropagation"]["status"], v["sgd"]["status"]) for name, v in loop["verdicts"].items()}
    # the untouched student version: its stubs raise NotImplementedError, which is "missing", never the harness's error
    assert statuses == {"released": ("missing", "missing"), "solution": ("pass", "pass"), "filled_in": ("pass", "pass")}
    assert "NotImplementedError: write backpropagation" in loop["verdicts"]["released"]["backpropagation"]["message"]
    assert "NotImplementedError: write train_manual_update" in loop["verdicts"]["released"]["sgd"]["message"]


def test_nothing_of_the_solution_leaks(loop):
    assert len(loop["withheld"]) > 40
    assert leaked_lines(loop["released"], loop["withheld"]) == []
    for notebook in ("backpropagation.ipynb", "gradient_descent.ipynb"):
        released = nbformat.read(loop["released"] / notebook, as_version=4)
        assert all(not cell.get("outputs") and cell.get("execution_count") is None for cell in released.cells if cell.cell_type == "code")
        assert not any("solution" in cell.metadata.get("tags", []) for cell in released.cells)
        text = (loop["released"] / notebook).read_text()
        assert "delta.T @ model.a[l - 1]" not in text and "buffers[i].mul_(momentum)" not in text


def test_the_released_version_runs_until_the_first_stub(loop, tmp_path):
    """Executed top to bottom, it stops at the first call of a stub with a message that says what to write."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(loop["released"] / "backpropagation.ipynb", as_version=4)
    client = NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(loop["released"])}})
    with pytest.raises(CellExecutionError, match="NotImplementedError[^\n]*\n*.*write backpropagation: see the instructions above"):
        client.execute()
    executed = [c for c in notebook.cells if c.cell_type == "code" and c.get("execution_count")]
    assert len(executed) >= 3  # imports, the network, the stub's definition ran before the first call


def test_release_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "x").write_text("x")
    with pytest.raises(ReleaseError, match="is not empty"):
        release(tmp_path)


def test_stub_keeps_signature_and_docstring_and_names_the_function():
    source = 'class Net:\n    def forward(self, x):\n        """Doc."""\n        # BEGIN SOLUTION\n        return x\n        # END SOLUTION'
    stubbed, removed = stub_regions(source)
    assert removed == ["        return x"]
    assert stubbed.splitlines() == ["class Net:", "    def forward(self, x):", '        """Doc."""', "        # YOUR CODE HERE",
                                    '        raise NotImplementedError("write Net.forward: see the instructions above")']
    with pytest.raises(ReleaseError, match="without"):
        stub_regions("def f():\n    # BEGIN SOLUTION\n    pass")


def test_gradebook_opens_as_a_table(loop):
    with open(loop["out"] / "gradebook.csv", newline="") as file:
        rows = {row["submission"]: row for row in csv.DictReader(file)}
    assert list(rows) == ["filled_in", "released", "solution"]
    assert rows["solution"]["total points"] == "100.0" and rows["released"]["total points"] == "0.0"
    assert rows["solution"]["backpropagation passed"] == "52 / 52" and rows["solution"]["sgd passed"] == "4 / 4"


def test_feedback_names_the_cause_and_how_to_reproduce(loop):
    text = (loop["out"] / "feedback" / "released.md").read_text()
    assert text.startswith("# Feedback for `released`") and "## Part backpropagation: `backpropagation` in backpropagation.ipynb: missing" in text
    assert "NotImplementedError" in text
    assert "(60 / 60 points)" in (loop["out"] / "feedback" / "solution.md").read_text()


def test_feedback_for_a_wrong_submission_has_a_snippet_that_reproduces_it():
    from harness.grading.grade import SubmissionResult
    from harness.grading.parts.verdict import Verdict
    from harness.status import Status

    result = SubmissionResult("student 7", {
        "backpropagation": Verdict(Status.FAIL, "", passed=10, total=52, failures=[
            {"cause": "likely cause: the sign is flipped", "count": 42, "first": "course toy: ...", "case": "course toy [2, 3, 2] tanh, one sample"}]),
        "sgd": Verdict(Status.FAIL, "", passed=3, total=4, failures=[
            {"cause": "likely cause: momentum is ignored", "count": 1, "first": "...", "case": "{lr=0.1, momentum=0.9}",
             "config": {"lr": 0.1, "momentum": 0.9}}])}, 1.0)
    text = feedback.feedback_markdown(result, gradebook.default_points(), proportional=True)
    assert "(11.54 / 60 points)" in text and "(30 / 40 points)" in text
    namespace = {}
    snippet = text.split("```python\n")[1].split("```")[0]
    from tests.fixtures.backprops import mistake
    namespace["backpropagation"] = mistake(factor=-2.0)
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        exec(snippet, namespace)
    assert "sign is flipped" in printed.getvalue()
    assert "check_sgd_equivalence(train_manual_update, configs=[{'lr': 0.1, 'momentum': 0.9}])" in text


def test_points_rubric_is_checked():
    assert gradebook.parse_points("backpropagation=70,sgd=30") == {"backpropagation": 70.0, "sgd": 30.0}
    with pytest.raises(ValueError, match="unknown part 'report'"):
        gradebook.parse_points("report=10")


def test_release_takes_the_edition(tmp_path):
    release(tmp_path / "2023", edition="2023")
    text = (tmp_path / "2023" / "gradient_descent.ipynb").read_text()
    assert 'os.environ.get(\\"INF265_EDITION\\", \\"2023\\")' in text
    with pytest.raises(ReleaseError, match="no edition '1999'"):
        release(tmp_path / "1999", edition="1999")
    assert not (tmp_path / "1999").exists()


def test_make_grade_writes_gradebook_feedback_and_verdicts_into_one_folder():
    dry_run = subprocess.run(["make", "-n", "grade", "SUBMISSIONS=collected", "GRADED=out", "GRADE_OPTIONS=--proportional"],
                             cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout
    command = " ".join(dry_run.replace("\\\n", " ").split())
    assert ("tests_backpropagation.py grade collected --csv out/gradebook.csv --canvas-csv out/canvas.csv --feedback out/feedback "
            "--json out/verdicts.json --marks out/marks.csv --overview out/overview.html --similarity out/similarity.html "
            "--record out/run.json --proportional") in command, command


LEAKY = PROJECT_ROOT / "tests" / "fixtures" / "leaky"


def test_the_release_holds_no_function_that_answers_a_task_and_no_recurrence(loop):
    assert solutions_in(loop["released"]) == []
    assert recurrences_in(loop["released"]) == []
    released = {str(p.relative_to(loop["released"])) for p in loop["released"].rglob("*.py")}
    assert not {p for p in released if p.startswith("harness/release") or p == "utils/backward_rules.py"}
    assert {"harness/grading/sandbox/lockdown.py", "harness/grading/parts/source_check.py", "harness/grading/grade.py"} <= released  # check = grade
    assert all(name.split("/")[0] in ("harness", "utils", "tests_backpropagation.py", "requirements.txt") for name in RELEASED)


def test_a_release_that_would_hold_a_solution_is_found_by_call_and_by_text(loop, tmp_path):
    """The previous release's backward pass and a hand-written SGD, each in a module of its own."""
    leaky = tmp_path / "release"
    shutil.copytree(loop["released"], leaky)
    shutil.copy(LEAKY / "old_references.py", leaky / "harness" / "checks" / "leak.py")
    shutil.copy(LEAKY / "hand_sgd.py", leaky / "harness" / "checks" / "leak_sgd.py")
    found = [name for name, _ in solutions_in(leaky)]
    assert "harness.checks.leak.reference_backpropagation" in found and "harness.checks.leak_sgd.train_manual_update" in found
    texts = recurrences_in(leaky)
    assert ("harness/checks/leak.py", "dW = delta^T a") in texts and ("harness/checks/leak_sgd.py", "the step") in texts


def test_the_student_notebooks_keep_the_tasks_and_lose_the_derivations(loop):
    text = "\n".join(cell.source for nb in ("backpropagation.ipynb", "gradient_descent.ipynb")
                     for cell in nbformat.read(loop["released"] / nb, as_version=4).cells)
    assert "**Task.** Write `backpropagation(model, y_true, y_pred)`" in text and "**Task.** Write `train_manual_update(" in text
    assert "### The derivation" not in text and "### The update, operation for operation" not in text
    assert "utils.backward_rules" not in text


def test_the_students_copy_checks_as_the_grader_grades_and_cannot_grade(loop, tmp_path):
    """In the student version: the filled-in notebooks pass `check`, the stubs do not; release is the teacher's."""
    student = tmp_path / "student"
    shutil.copytree(loop["released"], student)
    run = lambda *argv: subprocess.run([sys.executable, "tests_backpropagation.py", *argv], cwd=student,
                                       capture_output=True, text=True, timeout=300)
    stubs = run("check")
    assert stubs.returncode == 1 and "write backpropagation" in stubs.stdout, stubs.stdout[-500:]
    for notebook in ("backpropagation.ipynb", "gradient_descent.ipynb"):
        shutil.copy(loop["submissions"] / "filled_in" / notebook, student / notebook)
    filled = run("check")
    assert filled.returncode == 0, filled.stdout[-1000:]
    assert "52 / 52: ALL TEST PASSED :)" in filled.stdout and "4 / 4: ALL TEST PASSED :)" in filled.stdout
    released = run("release", str(tmp_path / "again"))
    assert released.returncode == 2 and "the teacher's command" in released.stderr


def test_the_student_version_is_a_github_classroom_template_whose_autograding_grades_each_part(loop, tmp_path):
    """Its workflow lints clean (actionlint); each graded step's command, run here as the runner runs it
    (from the repository's root), fails on the stubs and passes once they are filled."""
    released = loop["released"]
    workflow = released / ".github" / "workflows" / "classroom.yml"
    assert (released / ".gitignore").read_text().count("data/") == 1
    lint = subprocess.run([str(Path(sys.executable).parent / "actionlint"), str(workflow)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    text = workflow.read_text()
    steps = re.findall(r"uses: classroom-resources/autograding-command-grader@v1\n\s+with:\n(?:\s+[\w-]+: .*\n)+", text)
    commands = {re.search(r"\n\s+command: (.*)", step).group(1): float(re.search(r"max-score: (\d+)", step).group(1)) for step in steps}
    assert commands == {"python tests_backpropagation.py check --part backpropagation": 60,
                        "python tests_backpropagation.py check --part sgd": 40}
    assert "autograding-grading-reporter@v1" in text and "GITHUB_STEP_SUMMARY" in text and "cache: pip" in text
    student = tmp_path / "repository"
    shutil.copytree(released, student)
    run = lambda command: subprocess.run(command.replace("python", sys.executable, 1).split(), cwd=student,
                                         capture_output=True, text=True, timeout=300)
    for command in commands:
        untouched = run(command)
        assert untouched.returncode == 1 and "missing" in untouched.stdout, untouched.stdout[-500:]
    for notebook in ("backpropagation.ipynb", "gradient_descent.ipynb"):
        shutil.copy(loop["submissions"] / "filled_in" / notebook, student / notebook)
    for command, points in commands.items():
        solved = run(command)
        assert solved.returncode == 0 and f"pass ({points:g} / {points:g} points)" in solved.stdout, solved.stdout[-800:]
        assert solved.stdout.count("## ") == 1  # that part's feedback only


# --- the student version is the course's assignment (issue 32) -----------------------------------------------

def _sentences(text):
    """The sentences of a text (40 characters or more), white space folded: what a result's interpretation is made of."""
    return {s.strip() for s in re.split(r"(?<=[.:;!?])\s+", " ".join(text.split())) if len(s.strip()) >= 40}


@pytest.mark.parametrize("edition", ["default", "2023"])
def test_the_student_version_holds_tasks_and_stubs_only(edition):
    """Of the solution's own text (its solution-only cells, its marked code), what reaches the student
    version is counted: nothing. Every released cell is given or a task; every task's code is a stub."""
    from harness.release import student_notebook

    reached, solution_sentences = [], 0
    for name in ("backpropagation.ipynb", "gradient_descent.ipynb"):
        solution = nbformat.read(PROJECT_ROOT / name, as_version=4)
        released, withheld = student_notebook(PROJECT_ROOT / name, edition)
        released_text = " ".join(" ".join(cell.source.split()) for cell in released.cells)
        only = [cell.source for cell in solution.cells if "solution" in cell.metadata.get("tags", [])]
        sentences = set().union(*(_sentences(text) for text in only)) - set().union(
            *(_sentences(c.source) for c in released.cells))  # a sentence the course's text also says is everybody's
        solution_sentences += len(sentences)
        reached += [s for s in sentences if s in released_text]
        reached += [line.strip() for line in withheld if len(line.strip()) >= 20 and line.strip() in released_text
                    and not any(line.strip() in c.source for c in solution.cells if "given" in c.metadata.get("tags", []))]
        for cell in released.cells:
            roles = set(cell.metadata.get("tags", [])) & {"given", "task", "solution"}
            assert roles in ({"given"}, {"task"}), (name, cell.source[:80])
            if cell.cell_type == "code" and roles == {"task"}:
                assert "raise NotImplementedError(" in cell.source and BEGIN not in cell.source, cell.source[:200]
        tasks = [c.source for c in released.cells if c.cell_type == "markdown" and "**Task.**" in c.source]
        assert len(tasks) >= (2 if name == "backpropagation.ipynb" else 7), tasks
    assert solution_sentences > 50 and reached == []


def test_a_cell_that_says_neither_given_task_nor_solution_is_refused(tmp_path):
    from harness.release import student_notebook

    notebook = nbformat.read(PROJECT_ROOT / "gradient_descent.ipynb", as_version=4)
    notebook.cells.append(nbformat.v4.new_markdown_cell("Our model reached 93% on test, better than ReLU alone."))
    nbformat.write(notebook, tmp_path / "gradient_descent.ipynb")
    with pytest.raises(ReleaseError, match="is tagged neither of given, task, solution"):
        student_notebook(tmp_path / "gradient_descent.ipynb")


def test_the_student_version_has_its_readme_and_report_template(loop):
    readme = (loop["released"] / "README.md").read_text()
    for words in ("python tests_backpropagation.py", "backpropagation.ipynb", "gradient_descent.ipynb", "report.pdf", "README.txt",
                  "How it is graded", "Set up"):
        assert words in readme, words
    template = (loop["released"] / "report" / "report.typ").read_text()
    assert all(f"== ({letter})" in template for letter in "abcdefg") and "Division of labour" in template


def test_walkthrough_fill_run_build_check_and_grade_agree_and_pass(loop, tmp_path):
    """A student's way: the student version, its stubs filled (with the solution's code), both notebooks
    run top to bottom, the report template filled and built; `check` and `grade` then say the same, all pass."""
    from nbclient import NotebookClient

    student = tmp_path / "submissions" / "ada_and_alan"
    shutil.copytree(loop["released"], student)
    for notebook in ("backpropagation.ipynb", "gradient_descent.ipynb"):
        fill_stubs(student / notebook, PROJECT_ROOT / notebook)
        executed = nbformat.read(student / notebook, as_version=4)
        NotebookClient(executed, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(student)}}).execute()
        nbformat.write(executed, student / notebook)
    template = student / "report" / "report.typ"
    template.write_text(re.sub(r"_Replace this.*?_", "Ada Lovelace and Alan Turing answer this with care and evidence. " * 3,
                               template.read_text(), flags=re.S))
    run = lambda *argv: subprocess.run([sys.executable, "tests_backpropagation.py", *argv], cwd=student,
                                       capture_output=True, text=True, timeout=600)
    built = run("report")
    assert built.returncode == 0 and "division-of-labour paragraph found" in built.stdout, built.stdout + built.stderr[-500:]
    checked = run("check", "--timeout", "60")
    assert checked.returncode == 0 and "As graded: backpropagation pass, sgd pass." in checked.stdout, checked.stdout[-2000:]
    graded = subprocess.run([sys.executable, str(PROJECT_ROOT / "tests_backpropagation.py"), "grade", str(tmp_path / "submissions"),
                             "--feedback", str(tmp_path / "feedback"), "--timeout", "60"], capture_output=True, text=True, timeout=600)
    assert graded.returncode == 0, graded.stderr[-1000:]
    feedback_text = (tmp_path / "feedback" / "ada_and_alan.md").read_text()
    # the same words for the parts and the deliverables: only the heading (whose it is) differs
    assert checked.stdout.split("\n", 1)[1].split("As graded:")[0].strip() == feedback_text.split("\n", 1)[1].strip()
    assert "not run" not in feedback_text and "answers found for every question (a)-(g)" in feedback_text


MISTAKES = {  # a student's common mistakes, two at a time (one per notebook): the first cause each part's feedback names
    "factor 2, gradients never zeroed": (
        lambda bp: bp.replace("2 * (y_pred", "(y_pred"), lambda sgd: sgd.replace("model.zero_grad()", "pass"),
        "the factor 2 from d/dy (y - t)^2 = 2 (y - t) is missing",
        "the first step is right but later ones are not: zero the gradients before each backward pass (they accumulate)"),
    "transposed gradient, decay after momentum": (
        lambda bp: bp.replace("model.dL_dw[l] = delta.T @ model.a[l - 1]", "model.dL_dw[l] = model.a[l - 1].T @ delta"),
        lambda sgd: sgd.replace("                    g = p.grad.add(p, alpha=weight_decay) if weight_decay else p.grad\n",
                                "                    g = p.grad\n").replace(
            "                    p.add_(g, alpha=-lr)", "                    if weight_decay:\n                        g = g.add(p, alpha=weight_decay)\n"
                                                       "                    p.add_(g, alpha=-lr)"),
        "dL_dw is transposed: dL_dw[l] has the shape of fc[str(l)].weight",
        "weight decay combined with momentum in the wrong order: add weight_decay * theta to g before the momentum buffer"),
    "autograd inside": (
        lambda bp: "\ndef backpropagation(model, y_true, y_pred):\n    with torch.enable_grad():\n        y = model(model.a[0])\n"
                   "        loss = ((y - y_true) ** 2).sum()\n        grads = torch.autograd.grad(loss, [model.fc[str(l)].weight for l in "
                   "range(1, model.L + 1)] + [model.fc[str(l)].bias for l in range(1, model.L + 1)])\n    for l in range(1, model.L + 1):\n"
                   "        model.dL_dw[l], model.dL_db[l] = grads[l - 1], grads[model.L + l - 1]\n",
        lambda sgd: sgd, "autograd", None),
}


def test_a_student_making_the_common_mistakes_is_told_the_cause_first(loop, tmp_path):
    """The walk-through's other student: in the student version, each part's first failure names the mistake."""
    from tests.fixtures import submissions as S

    def check(name, backpropagation, sgd):
        student = tmp_path / name.replace(" ", "_").replace(",", "")
        shutil.copytree(loop["released"], student)
        (student / "backpropagation.ipynb").write_text(S.cells(S.IMPORTS, backpropagation))
        (student / "gradient_descent.ipynb").write_text(S.cells(S.IMPORTS, sgd))
        done = subprocess.run([sys.executable, "tests_backpropagation.py", "check", "--json", "verdicts.json"], cwd=student,
                              capture_output=True, text=True, timeout=300)
        return json.loads((student / "verdicts.json").read_text())[0], done.stdout

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        found = dict(zip(MISTAKES, pool.map(lambda item: check(item[0], item[1][0](S.RIGHT_BACKPROPAGATION), item[1][1](S.RIGHT_SGD)),
                                            MISTAKES.items())))
    for name, (_, _, bp_cause, sgd_cause) in MISTAKES.items():
        verdict, feedback = found[name]
        first = verdict["backpropagation"]["failures"][0]["cause"] if verdict["backpropagation"]["failures"] else verdict["backpropagation"]["message"]
        assert verdict["backpropagation"]["status"] == "fail" and bp_cause in first, (name, first)
        assert len(verdict["backpropagation"]["failures"]) <= 1, (name, verdict["backpropagation"]["failures"])  # one mistake, named once
        if sgd_cause:
            assert [f["cause"] for f in verdict["sgd"]["failures"]] == [f"likely cause: {sgd_cause}"], name
        assert feedback.index(bp_cause) < feedback.index("## What was handed in")  # the cause comes first


def test_the_report_command_says_typsts_diagnostic_where_it_is_and_whether_the_report_passes(tmp_path, capsys):
    from harness.cli import main

    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "report.typ").write_text('#set page(paper: "a4")\n= INF265\nAda Lovelace (ada@student.uib.no)\n')
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "report.typ:3:" in err and "Ada Lovelace (ada@student.uib.no)" in err and "^" in err  # file:line:column, the line
    assert "write an email address as name\\@student.uib.no" in err
    shutil.copy(PROJECT_ROOT / "handout" / "report.typ", tmp_path / "report" / "report.typ")  # the template, untouched
    assert main(["report", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "still holds the template's \"Replace this\" lines" in out and "answers found" not in out
    assert "does not pass the grader's checks yet" in out
