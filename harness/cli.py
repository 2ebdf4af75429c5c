"""The command line: `python tests_backpropagation.py [check [FOLDER] | grade SUBMISSIONS_DIR ... | release OUT_DIR ...]`.

    check      this folder's (or FOLDER's) notebooks against the checks; exit 0 when both pass
    grade      a folder of submissions, each in a sandbox (the teacher's; see README "For teachers")
    release    the student version (the teacher's)

The student version carries the checks only: grade and release say so there.
"""

import argparse
import json
import sys
from pathlib import Path

TEACHER_ONLY = "{command} is the teacher's command; this copy of the harness holds the checks only."


def check(argv):
    from harness.checks import check_sgd_equivalence, run_gradient_checks
    from harness.checks.notebook import notebook_function

    parser = argparse.ArgumentParser(prog="python tests_backpropagation.py check",
                                     description="Check the notebooks in FOLDER (default: this project's) with the harness.")
    parser.add_argument("folder", nargs="?", default=str(Path(__file__).resolve().parent.parent), metavar="FOLDER")
    args = parser.parse_args(argv)
    folder, passed = Path(args.folder), True
    for notebook, name, run in (("backpropagation.ipynb", "backpropagation", run_gradient_checks),
                                ("gradient_descent.ipynb", "train_manual_update", check_sgd_equivalence)):
        print(f"{notebook}: {name}")
        try:
            passed &= run(notebook_function(folder / notebook, name)).passed
        except (LookupError, OSError, ValueError) as error:
            print(f"  cannot check it: {error}")
            passed = False
    return 0 if passed else 1


def _grade_parser(options):
    parser = argparse.ArgumentParser(prog="python tests_backpropagation.py grade",
                                     description="Grade every submission (sub-folder or .zip) of SUBMISSIONS_DIR, each in a sandbox.")
    parser.add_argument("submissions_dir", metavar="SUBMISSIONS_DIR")
    parser.add_argument("--json", metavar="PATH", help="also write the verdicts to this JSON file")
    parser.add_argument("--csv", metavar="PATH", help="also write a gradebook: one row per submission, statuses and points")
    parser.add_argument("--feedback", metavar="DIR", help="also write one Markdown feedback file per submission into DIR")
    parser.add_argument("--points", metavar="RUBRIC", default=",".join(f"{p.key}={p.points:g}" for p in options.parts),
                        help="points per part for the gradebook (default %(default)s)")
    parser.add_argument("--proportional", action="store_true",
                        help="give a failing part points in proportion to the cases or settings it passed")
    parser.add_argument("--timeout", metavar="SECONDS", type=float, default=options.timeout,
                        help="time limit for each notebook part of a submission (default %(default)g)")
    parser.add_argument("--jobs", metavar="N", type=int, default=options.jobs,
                        help="submissions graded at the same time (default: the number of cores, %(default)d)")
    parser.add_argument("--memory", metavar="GIB", type=float, default=options.memory_gib,
                        help="memory limit of each submission's sandbox in GiB (default %(default)g)")
    parser.add_argument("--unsafe-no-sandbox", action="store_true",
                        help="run submissions without a sandbox (only where none can be made, and only for trusted code)")
    return parser


def grade(argv):
    try:
        from harness.grading import grade as grading, sandbox
        from harness.grading.feedback import parse_points, print_table, write_feedback, write_gradebook
        from harness.grading.submissions import find_submissions
    except ImportError:
        print(TEACHER_ONLY.format(command="grade"), file=sys.stderr)
        return 2
    defaults = grading.Options()
    parser = _grade_parser(defaults)
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error(f"--timeout must be a positive number of seconds, got {args.timeout}.")
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}.")
    if args.memory <= 0:
        parser.error(f"--memory must be a positive number of GiB, got {args.memory}.")
    try:
        points = parse_points(args.points)
    except ValueError as error:
        parser.error(str(error))
    options = grading.Options(timeout=args.timeout, jobs=args.jobs, memory_gib=args.memory, use_sandbox=not args.unsafe_no_sandbox)
    folder = Path(args.submissions_dir)
    try:
        submissions = find_submissions(folder)
    except OSError as error:
        print(f"Cannot read SUBMISSIONS_DIR {str(folder)!r} ({error.strerror or error}); give a folder holding one sub-folder or .zip per submission.", file=sys.stderr)
        return 2
    if options.use_sandbox:
        reason = sandbox.probe()
        if reason:
            print(f"Cannot make a sandbox on this machine: {reason}; grading refused (give --unsafe-no-sandbox to run submissions unprotected).", file=sys.stderr)
            return 2
        limits = sandbox.Limits(int(options.memory_gib * 2**30))
        if not limits.available or "CPU" not in limits.describe():
            print(f"Warning: {limits.describe()}.", file=sys.stderr)
        limits.remove()
    if not submissions:
        print(f"No submissions in {str(folder)!r}: expected one sub-folder or .zip file per submission.", file=sys.stderr)
    results = grading.grade_all(submissions, options)
    return write_outputs(results, args, points, print_table, write_gradebook, write_feedback)


def write_outputs(results, args, points, print_table, write_gradebook, write_feedback):
    """The table, then each output the command line asked for; one failing output does not stop the others."""
    problems = []
    try:
        print_table(results)
    except (OSError, ValueError) as error:
        problems.append(f"the table could not be printed ({error})")
    outputs = [(args.json, lambda path: Path(path).write_text(json.dumps([r.to_json() for r in results], indent=2) + "\n", encoding="utf-8")),
               (args.csv, lambda path: write_gradebook(results, path, points, args.proportional))]
    for path, write in outputs:
        if path:
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                write(path)
            except (OSError, ValueError) as error:
                problems.append(f"{path} could not be written ({error})")
    if args.feedback:
        try:
            problems += write_feedback(results, args.feedback, points, args.proportional)[1]
        except (OSError, ValueError) as error:
            problems.append(f"{args.feedback} could not be written ({error})")
    for problem in problems:
        print(f"Warning: {problem}.", file=sys.stderr)
    return 0 if not problems else 1


def release(argv):
    try:
        from harness.release import ReleaseError, release as make_release
    except ImportError:
        print(TEACHER_ONLY.format(command="release"), file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="python tests_backpropagation.py release",
                                     description="Write the student version of the notebooks, with the checks and utils/.")
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


COMMANDS = {"check": check, "grade": grade, "release": release}


def main(argv):
    for stream in (sys.stdout, sys.stderr):  # a name that is not valid UTF-8 must not end the run
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    if not argv:
        return check([])
    command = COMMANDS.get(argv[0])
    if command is None:
        print(f"usage: python tests_backpropagation.py [{' | '.join(COMMANDS)}] ...  (unknown command {argv[0]!r}; "
              "give --help after a command for its options)", file=sys.stderr)
        return 2
    return command(argv[1:])
