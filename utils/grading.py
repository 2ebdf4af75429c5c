"""Grade a folder of submissions: `python tests_backpropagation.py grade SUBMISSIONS_DIR`.

Each sub-folder (or .zip file holding one) of SUBMISSIONS_DIR is a submission with
backpropagation.ipynb and gradient_descent.ipynb. Each of its two parts is graded in a process of its
own, forked from this one after torch is imported (so it starts in milliseconds), in a temporary copy
of the submission, with a time limit:

    backpropagation.ipynb -> backpropagation     -> run_gradient_checks
    gradient_descent.ipynb -> train_manual_update -> check_sgd_equivalence

The functions are taken from the notebooks by utils.notebook.load_definitions: imports, definitions
and cheap assignments run, training and data loading are skipped (the rule is in that module).

Status of a part: pass; fail (wrong results, the harness's cause); error (the code raised or the
notebook could not be loaded); missing (notebook or function absent); timeout.
"""

import argparse
import json
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
import zipfile
from pathlib import Path

PARTS = (
    ("backpropagation", "backpropagation.ipynb", "backpropagation"),
    ("sgd", "gradient_descent.ipynb", "train_manual_update"),
)
IGNORED_WHEN_COPYING = shutil.ignore_patterns(".git", ".venv", "data", "__pycache__", ".ipynb_checkpoints")
MAX_MESSAGE = 400


def main(argv):
    parser = argparse.ArgumentParser(prog="python tests_backpropagation.py grade",
                                     description="Grade every submission (sub-folder or .zip) of SUBMISSIONS_DIR.")
    parser.add_argument("submissions_dir", metavar="SUBMISSIONS_DIR")
    parser.add_argument("--json", metavar="PATH", help="also write the verdicts to this JSON file")
    parser.add_argument("--timeout", metavar="SECONDS", type=float, default=120.0,
                        help="time limit for each notebook part of a submission (default 120)")
    parser.add_argument("--jobs", metavar="N", type=int, default=os.cpu_count() or 1,
                        help="parts graded at the same time (default: the number of cores)")
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error(f"--timeout must be a positive number of seconds, got {args.timeout}.")
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}.")
    folder = Path(args.submissions_dir)
    try:
        submissions = find_submissions(folder)
    except OSError as error:
        print(f"Cannot read SUBMISSIONS_DIR {str(folder)!r} ({error.strerror or error}); give a folder holding one sub-folder or .zip per submission.", file=sys.stderr)
        return 2
    if not submissions:
        print(f"No submissions in {str(folder)!r}: expected one sub-folder or .zip file per submission.", file=sys.stderr)
    verdicts = grade_all(submissions, timeout=args.timeout, jobs=args.jobs)
    print_table(verdicts)
    if args.json:
        Path(args.json).write_text(json.dumps(verdicts, indent=2) + "\n")
    return 0


def find_submissions(folder):
    """Sub-folders and .zip files of folder, sorted by name; hidden entries are ignored."""
    if not folder.is_dir():
        raise NotADirectoryError(20, "not a folder" if folder.exists() else "no such folder")
    return sorted((p for p in folder.iterdir() if not p.name.startswith(".") and (p.is_dir() or p.suffix.lower() == ".zip")),
                  key=lambda p: p.name)


def grade_all(submissions, timeout=120.0, jobs=2):
    """Grade every part of every submission, at most `jobs` at a time; returns the verdict list."""
    import tests_backpropagation  # noqa: F401  imported once here, inherited by every forked part

    context = multiprocessing.get_context("fork")
    work = tempfile.mkdtemp(prefix="inf265-grading-")
    try:
        pending = [(s, part) for s in submissions for part in PARTS]
        running, results = [], {}
        while pending or running:
            while pending and len(running) < jobs:
                submission, part = pending.pop(0)
                running.append(_start(context, submission, part, Path(work)))
            time.sleep(0.02)
            for job in list(running):
                done = not job["process"].is_alive()
                if done or time.perf_counter() - job["start"] > timeout:
                    if not done:
                        _kill(job["process"])
                    results[job["submission"].name, job["part"][0]] = _collect(job, timed_out=not done, timeout=timeout)
                    running.remove(job)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    verdicts = []
    for submission in submissions:
        entry = {"submission": submission.stem if submission.suffix.lower() == ".zip" else submission.name}
        seconds = 0.0
        for key, _, _ in PARTS:
            verdict, part_seconds = results[submission.name, key]
            entry[key] = verdict
            seconds += part_seconds
        entry["seconds"] = round(seconds, 2)
        verdicts.append(entry)
    return verdicts


def print_table(verdicts):
    """One row per submission, then the message of every part that did not pass."""
    width = max([len("submission")] + [len(v["submission"]) for v in verdicts])
    print(f"{'submission':{width}s}  {'backpropagation':15s}  {'sgd':8s}  {'seconds':>7s}")
    for v in verdicts:
        print(f"{v['submission']:{width}s}  {v['backpropagation']['status']:15s}  {v['sgd']['status']:8s}  {v['seconds']:7.1f}")
    for v in verdicts:
        for key, _, _ in PARTS:
            if v[key]["status"] != "pass":
                print(f"- {v['submission']} / {key}: {v[key]['status']}: {v[key]['message']}")


# --- one part, in a forked process --------------------------------------------------------------

def _start(context, submission, part, work):
    key = part[0]
    place = work / f"{submission.name}-{key}"
    result_file = work / f"{submission.name}-{key}.json"
    process = context.Process(target=_grade_part, args=(submission, part, place, result_file), daemon=True)
    process.start()
    return {"submission": submission, "part": part, "process": process, "start": time.perf_counter(), "result_file": result_file}


def _kill(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the part and anything it started
    except (ProcessLookupError, PermissionError):
        process.kill()
    process.join(5)


def _collect(job, timed_out, timeout):
    seconds = time.perf_counter() - job["start"]
    notebook, function = job["part"][1], job["part"][2]
    if timed_out:
        return {"status": "timeout", "message": f"{function} from {notebook} did not finish within {timeout:g} s (an endless loop or far too slow)."}, seconds
    try:
        return json.loads(job["result_file"].read_text()), seconds
    except (OSError, json.JSONDecodeError):
        code = job["process"].exitcode
        return {"status": "error", "message": f"the grading process ended with exit code {code} before {function} from {notebook} was graded: the submission called os._exit, was killed or crashed."}, seconds


def _grade_part(submission, part, place, result_file):
    """Runs in the forked child: copy, load, check, write the verdict to result_file."""
    os.setsid()  # own process group, so a timeout kills whatever the submission started
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # a flood of output costs nothing and reaches nobody
    os.dup2(devnull, 2)
    try:
        verdict = _verdict(submission, part, place)
    except BaseException as error:  # noqa: BLE001  the verdict must be written whatever happens
        verdict = {"status": "error", "message": f"grading stopped: {type(error).__name__}: {error}"}
    verdict["message"] = verdict["message"][:MAX_MESSAGE]
    partial = result_file.with_suffix(".tmp")
    partial.write_text(json.dumps(verdict))
    os.replace(partial, result_file)
    os._exit(0)  # skip the parent's atexit handlers and whatever the submission registered


def _verdict(submission, part, place):
    import torch

    import tests_backpropagation as harness
    from utils.notebook import NotebookError, load_definitions

    key, notebook, function = part
    folder = _materialise(submission, place)
    path = folder / notebook
    if not path.is_file():
        return {"status": "missing", "message": f"{notebook} is not in the submission."}
    os.chdir(folder)
    os.environ["INF265_RESULTS_DIR"] = str(place / "results")  # a notebook's results never reach the real report
    sys.path.insert(0, str(folder))
    try:
        namespace = load_definitions(path)
    except NotebookError as error:
        return {"status": "error", "message": str(error)}
    except BaseException as error:  # SystemExit from a class body, say
        return {"status": "error", "message": f"loading {notebook} raised {type(error).__name__}: {error}"}
    if not callable(namespace.get(function)):
        return {"status": "missing", "message": f"{notebook} defines no function {function}."}
    torch.set_default_dtype(torch.float64)
    torch.set_grad_enabled(True)
    torch.set_num_threads(1)  # tiny nets: threads only spin against the other parts running in parallel
    if key == "backpropagation":
        result = harness.run_gradient_checks(namespace[function], verbose=False)
    else:
        result = harness.check_sgd_equivalence(namespace[function])
    if result.passed:
        return {"status": "pass", "message": result.summary()}
    raised = all(" raised " in message for message in result.failures)
    return {"status": "error" if raised else "fail", "message": f"{result.summary()}; first: {result.failures[0]}"}


def _materialise(submission, place):
    """A private copy of the submission's folder (a .zip is extracted; one top folder is entered)."""
    if submission.is_dir():
        shutil.copytree(submission, place, ignore=IGNORED_WHEN_COPYING, symlinks=True)
        return place
    place.mkdir(parents=True)
    with zipfile.ZipFile(submission) as archive:
        for member in archive.infolist():
            target = (place / member.filename).resolve()
            if place.resolve() in target.parents:  # never write outside the copy
                archive.extract(member, place)
    entries = [p for p in place.iterdir() if not p.name.startswith(("__MACOSX", "."))]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else place


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
