"""The command line: `python tests_backpropagation.py [check [FOLDER] | report [FOLDER] | grade SUBMISSIONS ... | release OUT_DIR ...]`.

    check      this folder's (or FOLDER's) notebooks graded as the grader grades them; exit 0 when both parts pass
               (--part PART: that part only, as GitHub Classroom's autograding runs it)
    report     build report/report.pdf from report/report.typ and check it as the grader will
    grade      a folder of submissions, each in a sandbox (the teacher's; see README "For teachers")
    release    the student version (the teacher's)
    gradescope a Gradescope autograder zip (the teacher's); autograde is what its run_autograder runs

The student version carries the checks and the grader's pipeline (so that check gives the grader's
verdicts), not the release: release says so there.
"""

import argparse
import json
import os
import sys
from pathlib import Path

TEACHER_ONLY = "{command} is the teacher's command; this copy of the harness holds the checks and the grader, not the release."


def check(argv):
    """The student's check: FOLDER graded as the grader grades it (the same staging, sandbox, lockdown,
    source check and judges; harness.classroom.run.grade_folder), its verdicts printed as the feedback
    says them. With --part, that part only: exit 0 exactly when it passes (GitHub Classroom's autograding)."""
    import tempfile

    from harness.classroom.feedback import feedback_markdown, part_markdown
    from harness.classroom.gradebook import MANUAL_DEFAULT, default_points, parse_manual_points
    from harness.classroom.run import grade_folder
    from harness.grading import grade as grading
    from harness.grading.parts import PARTS
    from harness.status import Status

    parser = argparse.ArgumentParser(prog="python tests_backpropagation.py check",
                                     description="Check the notebooks in FOLDER (default: this project's) as the grader grades them.")
    parser.add_argument("folder", nargs="?", default=str(Path(__file__).resolve().parent.parent), metavar="FOLDER")
    parser.add_argument("--timeout", metavar="SECONDS", type=float, default=grading.Options.timeout,
                        help="time limit for each notebook part (default %(default)g, as graded)")
    parser.add_argument("--part", choices=[part.key for part in PARTS],
                        help="check this part only: its feedback, and exit 0 exactly when it passes")
    parser.add_argument("--json", metavar="PATH", help="also write the verdicts, in full, as grade's --json writes them")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"Cannot check {str(folder)!r}: it is not a folder; give the folder that holds your notebooks.", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="inf265-check-") as stage:
        result, reason = grade_folder(folder, args.timeout, stage)
    if reason:
        print(sandbox_note(reason), file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps([result.to_json()], indent=2) + "\n", encoding="utf-8")
    points = default_points()
    parts = [part for part in PARTS if part.key == args.part] if args.part else list(PARTS)
    if args.part:
        print(part_markdown(result, parts[0], points), end="")
    else:
        lines = feedback_markdown(result, points, manual=parse_manual_points(MANUAL_DEFAULT)).splitlines()  # as grade says them
        print("\n".join([f"# Check of {folder.resolve()}: what the grader gives these notebooks", *lines[1:]]))
    statuses = ", ".join(f"{part.key} {result.verdicts[part.key].status.value}" for part in parts)
    print(f"As graded: {statuses}.")
    return 0 if all(result.verdicts[part.key].status is Status.PASS for part in parts) else 1


def sandbox_note(reason):
    """Why the check ran without the grader's sandbox, in a student's terms."""
    import platform

    same = "your notebooks are checked without it, with the same checks and the same verdicts as the grader's"
    if not sys.platform.startswith("linux"):
        return f"Note: the grader's sandbox needs Linux; on {platform.system() or sys.platform} {same}."
    return f"Note: no sandbox can be made here ({reason}); {same}."


def _grade_parser(options, manual_default):
    parser = argparse.ArgumentParser(
        prog="python tests_backpropagation.py grade",
        description="Grade every submission of SUBMISSIONS (Canvas's bulk download as it comes, as a folder or a .zip; "
                    "or one sub-folder or .zip per submission), each in a sandbox.")
    parser.add_argument("submissions_dir", metavar="SUBMISSIONS")
    output = parser.add_argument_group("what to write")
    output.add_argument("--json", metavar="PATH", help="every verdict, in full")
    output.add_argument("--csv", metavar="PATH", help="the detailed gradebook: statuses, deliverables, marks, lateness, points")
    output.add_argument("--canvas-csv", metavar="PATH", help="the gradebook in Canvas's import format (Student, ID, SIS User ID, "
                                                             "SIS Login ID, Section, then the assignment)")
    output.add_argument("--assignment", default="Project 1", help="the assignment's column in --canvas-csv, as Canvas names it "
                                                                 "(for example 'Project 1 (123456)'; default %(default)s)")
    output.add_argument("--roster", metavar="PATH", help="Canvas's gradebook export (Grades > Export; needs Student and ID): "
                                                        "every student gets a row in --canvas-csv, named as the roster names them")
    output.add_argument("--classroom-roster", metavar="PATH", help="GitHub Classroom's roster (identifier, github_username, "
                                                                  "github_id, name), with SUBMISSIONS the folder `gh classroom "
                                                                  "clone student-repos` wrote: each repository is its student's")
    output.add_argument("--groups", metavar="PATH", help="Canvas's group-set export (People > Groups > the set's menu > Export; "
                                                        "needs canvas_user_id and group_name): each group's submission is graded "
                                                        "once and every member gets its result")
    output.add_argument("--missing", choices=("blank", "zero"), default="blank",
                        help="what a roster student who handed in nothing gets in the gradebooks (default %(default)s)")
    output.add_argument("--feedback", metavar="DIR", help="feedback per student: <name>_<user id>.md, and canvas_reupload.zip "
                                                          "(a PDF each, for Canvas's Re-Upload Submissions)")
    lecturer = parser.add_argument_group("the lecturer's view")
    lecturer.add_argument("--similarity", metavar="HTML", help="compare the code students wrote across the class (and with "
                                                               "--reference-corpus), by copydetect; the pairs above the threshold, "
                                                               "their shared code highlighted, in this report; a gradebook column")
    lecturer.add_argument("--reference-corpus", metavar="DIR", help="earlier years' submissions and public solutions (.ipynb, .py) "
                                                                  "to compare with")
    lecturer.add_argument("--template", metavar="DIR", help="the code handed out (notebooks, .py), never counted as copied "
                                                          "(default: this project's student version)")
    lecturer.add_argument("--similarity-threshold", metavar="FRACTION", type=float, default=None,
                          help="the share of code two submissions must have in common to be listed (default: the measured one)")
    lecturer.add_argument("--overview", metavar="HTML", help="the class at a glance: points, pass rates, mistakes by cause, "
                                                            "deliverables, lateness, similar pairs")
    lecturer.add_argument("--record", metavar="JSON", help="what produced this run (harness version, options, each submission's "
                                                           "content hash); grading again says whose points changed and why, "
                                                           "and keeps the previous gradebooks")
    points = parser.add_argument_group("points")
    points.add_argument("--points", metavar="RUBRIC", default=",".join(f"{p.key}={p.points:g}" for p in options.parts),
                        help="points per graded part (default %(default)s)")
    points.add_argument("--proportional", action="store_true",
                        help="give a failing part points in proportion to the cases or settings it passed")
    points.add_argument("--manual-points", metavar="RUBRIC", default=manual_default,
                        help="the TA's marks and their maxima (default %(default)s; '' for none)")
    points.add_argument("--marks", metavar="PATH", help="the TA's marks, merged into the total (a template is written the first "
                                                       "time; comma or semicolon, decimal points or commas)")
    points.add_argument("--deadline", metavar="TIME", help="the deadline, ISO 8601 with its UTC offset (2026-02-20T23:59+01:00), "
                                                          "or without one and --timezone")
    points.add_argument("--timezone", metavar="ZONE", help="the IANA time zone of a deadline or times written without an "
                                                          "offset (Europe/Oslo); a time without either is refused")
    points.add_argument("--times", metavar="PATH", action="append", default=[],
                        help="submission times: a CSV (a student column and a time column) or the JSON of Canvas's "
                             "submissions API (see README); give it once per file")
    points.add_argument("--late-policy", metavar="POLICY", default="2+2/12h",
                        help="late penalty BASE+STEP/PERIODh (default %(default)s: 2 points plus 2 per started 12 hours; 0 for none)")
    running = parser.add_argument_group("running")
    running.add_argument("--check-inputs", action="store_true",
                         help="read every input and check them against each other; say who would get which row and why; "
                              "grade and write nothing")
    running.add_argument("--only", metavar="STUDENT", action="append", default=[],
                         help="regrade one student or group (a Canvas user id, a name, a submission or a group) into the "
                              "existing outputs (needs the previous run's --json); repeatable")
    running.add_argument("--timeout", metavar="SECONDS", type=float, default=options.timeout,
                         help="time limit for each notebook part of a submission (default %(default)g)")
    running.add_argument("--jobs", metavar="N", type=int, default=options.jobs,
                         help="submissions graded at the same time (default: the number of cores, %(default)d)")
    running.add_argument("--memory", metavar="GIB", type=float, default=options.memory_gib,
                         help="memory limit of each submission's sandbox in GiB (default %(default)g)")
    running.add_argument("--unsafe-no-sandbox", action="store_true",
                         help="run submissions without a sandbox (only where none can be made, and only for trusted code)")
    return parser


def grade(argv):
    """The Canvas command: the options parsed here, the class run as harness.classroom.run's pipeline."""
    try:
        from harness.classroom import gradebook, lateness
        from harness.classroom.run import ClassRun, run_class
        from harness.grading import grade as grading
    except ImportError:
        print(TEACHER_ONLY.format(command="grade"), file=sys.stderr)
        return 2
    defaults = grading.Options()
    parser = _grade_parser(defaults, gradebook.MANUAL_DEFAULT)
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error(f"--timeout must be a positive number of seconds, got {args.timeout}.")
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}.")
    if args.memory <= 0:
        parser.error(f"--memory must be a positive number of GiB, got {args.memory}.")
    try:
        points = gradebook.parse_points(args.points)
        manual = gradebook.parse_manual_points(args.manual_points)
        policy = lateness.LatePolicy.parse(args.late_policy)
    except ValueError as error:
        parser.error(str(error))
    problem = _outputs_apart(args)
    if problem:
        parser.error(problem)
    if args.classroom_roster and (args.roster or args.groups):
        parser.error("--classroom-roster is GitHub Classroom's, --roster and --groups are Canvas's: give one course's files")
    import tempfile

    with tempfile.TemporaryDirectory(prefix="inf265-stage-") as stage:
        run = ClassRun(args, Path(stage), points, manual, policy, default_template=student_version_code)
        return run_class(run, before_grading=_sandbox_or_refusal)


def student_version_code():
    """([code], how it is said) of this project's student version: what the course hands out."""
    try:
        from harness.release import NOTEBOOKS, PROJECT_ROOT, student_notebook

        code = ["\n\n".join(c.source for c in student_notebook(PROJECT_ROOT / name)[0].cells if c.cell_type == "code")
                for name in NOTEBOOKS]
        return code, "this project's student version (its two notebooks)"
    except (ImportError, OSError):
        return None


def _outputs_apart(args):
    """A refusal when one output would be written inside another (the feedback folder is replaced whole)."""
    if not args.feedback:
        return None
    folder = Path(args.feedback).resolve()
    for option in ("json", "csv", "canvas_csv", "overview", "similarity", "record", "marks"):
        path = getattr(args, option)
        if path and folder in Path(path).resolve().parents:
            return f"--{option.replace('_', '-')} {path} is inside --feedback {args.feedback}, which each run replaces whole: put it beside it"
    return None


def _sandbox_or_refusal(run):
    """None when submissions can be run in sandboxes here (or --unsafe-no-sandbox), else why not."""
    from harness.grading.sandbox import bubblewrap as sandbox

    if run.args.unsafe_no_sandbox:
        return None
    reason = sandbox.probe()
    if reason:
        return (f"Cannot make a sandbox on this machine: {reason}; grading refused (give --unsafe-no-sandbox to run "
                "submissions unprotected)")
    limits = sandbox.Limits(int(run.args.memory * 2**30))
    if not limits.available or "CPU" not in limits.describe():
        run.say(f"Warning: {limits.describe()}.")
    limits.remove()
    return None


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


def report(argv):
    """Build FOLDER/report/report.typ into report.pdf beside it, then say whether the grader's deliverable
    check would accept it (readable, not a notebook export, answers (a)-(g), division of labour)."""
    import typst

    from harness.classroom.feedback import deliverable_lines, markdown
    from harness.grading.parts import deliverables

    parser = argparse.ArgumentParser(prog="python tests_backpropagation.py report",
                                     description="Build report/report.pdf from report/report.typ and check it as the grader will.")
    parser.add_argument("folder", nargs="?", default=str(Path(__file__).resolve().parent.parent), metavar="FOLDER")
    args = parser.parse_args(argv)
    source = Path(args.folder) / "report" / "report.typ"
    if not source.is_file():
        print(f"Cannot build the report: {source} does not exist; write your report there (the student version holds a template).",
              file=sys.stderr)
        return 2
    try:
        typst.compile(str(source), output=str(source.with_suffix(".pdf")), root=str(source.parent), ignore_system_fonts=True)
    except typst.TypstError as error:  # typst's own diagnostic: file:line:column, the line, the place marked
        said = (getattr(error, "diagnostic", None) or str(error)).rstrip()
        print(f"Cannot build the report: typst says\n{said}", file=sys.stderr)
        if "label `<" in str(error) and "does not exist" in str(error):
            print("An @ starts a reference in Typst: write an email address as name\\@student.uib.no.", file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001 - anything else typst raises, said as it is
        print(f"Cannot build the report: typst says {error}", file=sys.stderr)
        return 2
    facts = deliverables.report_facts(str(Path(args.folder)), [os.path.join("report", "report.pdf")])
    print(f"Wrote {source.with_suffix('.pdf')}.")
    print(markdown([("li", line) for line in deliverable_lines({"notebooks": {}, "report": facts,
                                                                 "readme": {"needed": False}})]).rstrip())
    fine = (facts.get("readable") and not facts.get("export") and not facts.get("template") and len(facts.get("answers", [])) == 7
            and facts.get("labour"))
    print("The report passes the grader's checks (readable, not a notebook export, answers to (a)-(g), division of labour)."
          if fine else "The report does not pass the grader's checks yet: see above.")
    return 0 if fine else 1


def gradescope(argv):
    """The teacher's: a Gradescope autograder zip (harness.classroom.gradescope)."""
    try:
        from harness.classroom.gradescope import build
        from harness.release import released_files
    except ImportError:
        print(TEACHER_ONLY.format(command="gradescope"), file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="python tests_backpropagation.py gradescope",
                                     description="Write a Gradescope autograder zip (setup.sh and run_autograder at its root).")
    parser.add_argument("out", metavar="OUT.zip")
    parser.add_argument("--timeout", metavar="SECONDS", type=float, default=120.0, help="time limit for each part (default %(default)g)")
    args = parser.parse_args(argv)
    names = build(args.out, released_files(), args.timeout)
    print(f"Gradescope autograder written to {args.out} ({len(names)} files): upload it as the assignment's autograder "
          "(Configure Autograder > Zip file upload).")
    return 0


def autograde(argv):
    """Gradescope's run_autograder: ROOT/submission graded, ROOT/results/results.json written."""
    from harness.classroom.gradescope import autograde as run

    parser = argparse.ArgumentParser(prog="python tests_backpropagation.py autograde",
                                     description="Grade ROOT/submission and write ROOT/results/results.json (Gradescope's layout).")
    parser.add_argument("root", nargs="?", default=os.environ.get("AUTOGRADER_ROOT", "/autograder"), metavar="ROOT")
    args = parser.parse_args(argv)
    score = run(args.root)
    print(f"Score {score:g}: {Path(args.root) / 'results' / 'results.json'}.")
    return 0


COMMANDS = {"check": check, "grade": grade, "release": release, "report": report, "gradescope": gradescope,
            "autograde": autograde}


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
