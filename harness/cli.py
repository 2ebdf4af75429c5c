"""The command line: `python tests_backpropagation.py [grade SUBMISSIONS_DIR ...]`."""

import argparse
import json
import os
import sys
from pathlib import Path

USAGE = ("usage: python tests_backpropagation.py [release OUT_DIR [--edition E] | grade SUBMISSIONS_DIR [--json PATH] [--csv PATH] "
         "[--feedback DIR] [--points backpropagation=60,sgd=40] [--proportional] [--timeout SECONDS] [--jobs N] "
         "[--memory GIB] [--unsafe-no-sandbox]]")


def check_own_notebooks():
    """Exit status 0 when this project's own notebooks pass the harness."""
    from harness import check_sgd_equivalence, run_gradient_checks
    from tests_backpropagation import notebook_function

    print("backpropagation.ipynb: backpropagation")
    passed = run_gradient_checks(notebook_function("backpropagation.ipynb", "backpropagation")).passed
    print("gradient_descent.ipynb: train_manual_update")
    passed &= check_sgd_equivalence(notebook_function("gradient_descent.ipynb", "train_manual_update")).passed
    return 0 if passed else 1


def grade(argv):
    from harness import grading, sandbox

    parser = argparse.ArgumentParser(prog="python tests_backpropagation.py grade",
                                     description="Grade every submission (sub-folder or .zip) of SUBMISSIONS_DIR, each in a sandbox.")
    parser.add_argument("submissions_dir", metavar="SUBMISSIONS_DIR")
    parser.add_argument("--json", metavar="PATH", help="also write the verdicts to this JSON file")
    parser.add_argument("--csv", metavar="PATH", help="also write a gradebook: one row per submission, statuses and points")
    parser.add_argument("--feedback", metavar="DIR", help="also write one Markdown feedback file per submission into DIR")
    parser.add_argument("--points", metavar="RUBRIC", default="backpropagation=60,sgd=40",
                        help="points per part for the gradebook (default backpropagation=60,sgd=40)")
    parser.add_argument("--proportional", action="store_true",
                        help="give a failing part points in proportion to the cases or settings it passed")
    parser.add_argument("--timeout", metavar="SECONDS", type=float, default=120.0,
                        help="time limit for each notebook part of a submission (default 120)")
    parser.add_argument("--jobs", metavar="N", type=int, default=os.cpu_count() or 1,
                        help="submissions graded at the same time (default: the number of cores)")
    parser.add_argument("--memory", metavar="GIB", type=float, default=4.0,
                        help="memory limit of each submission's sandbox in GiB (default 4)")
    parser.add_argument("--unsafe-no-sandbox", action="store_true",
                        help="run submissions without a sandbox (only where none can be made, and only for trusted code)")
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error(f"--timeout must be a positive number of seconds, got {args.timeout}.")
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}.")
    if args.memory <= 0:
        parser.error(f"--memory must be a positive number of GiB, got {args.memory}.")
    from harness.feedback import parse_points, write_feedback, write_gradebook

    try:
        points = parse_points(args.points)
    except ValueError as error:
        parser.error(str(error))
    folder = Path(args.submissions_dir)
    try:
        submissions = grading.find_submissions(folder)
    except OSError as error:
        print(f"Cannot read SUBMISSIONS_DIR {str(folder)!r} ({error.strerror or error}); give a folder holding one sub-folder or .zip per submission.", file=sys.stderr)
        return 2
    if not args.unsafe_no_sandbox:
        reason = sandbox.probe()
        if reason:
            print(f"Cannot make a sandbox on this machine: {reason}; grading refused (give --unsafe-no-sandbox to run submissions unprotected).", file=sys.stderr)
            return 2
    if not submissions:
        print(f"No submissions in {str(folder)!r}: expected one sub-folder or .zip file per submission.", file=sys.stderr)
    verdicts = grading.grade_all(submissions, timeout=args.timeout, jobs=args.jobs, memory_gib=args.memory,
                                 use_sandbox=not args.unsafe_no_sandbox)
    grading.print_table(verdicts)
    for path in (args.json, args.csv):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    if args.json:
        Path(args.json).write_text(json.dumps(verdicts, indent=2) + "\n")
    if args.csv:
        write_gradebook(verdicts, args.csv, points, args.proportional)
    if args.feedback:
        write_feedback(verdicts, args.feedback, points, args.proportional)
    return 0


def release(argv):
    from harness.release import ReleaseError, release as make_release

    parser = argparse.ArgumentParser(prog="python tests_backpropagation.py release",
                                     description="Write the student version of the notebooks, with the harness and utils/.")
    parser.add_argument("out_dir", metavar="OUT_DIR")
    parser.add_argument("--edition", default="default", help="the course edition the notebooks default to (default, 2023)")
    args = parser.parse_args(argv)
    try:
        withheld = make_release(args.out_dir, edition=args.edition)
    except ReleaseError as error:
        print(f"Cannot release: {error}", file=sys.stderr)
        return 2
    print(f"Student version ({args.edition} edition) written to {args.out_dir} ({len(withheld)} solution lines withheld).")
    return 0


def main(argv):
    if argv[:1] == ["grade"]:
        return grade(argv[1:])
    if argv[:1] == ["release"]:
        return release(argv[1:])
    if argv:
        print(USAGE, file=sys.stderr)
        return 2
    return check_own_notebooks()
