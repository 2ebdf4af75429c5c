"""The command line: `python tests_backpropagation.py [check [FOLDER] | report [FOLDER] | grade SUBMISSIONS ... | release OUT_DIR ...]`.

    check      this folder's (or FOLDER's) notebooks graded as the grader grades them; exit 0 when both parts pass
    report     build report/report.pdf from report/report.typ and check it as the grader will
    grade      a folder of submissions, each in a sandbox (the teacher's; see README "For teachers")
    release    the student version (the teacher's)

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
    source check and judges; harness.grading.grade), its verdicts printed as the feedback says them."""
    import tempfile

    from harness.classroom import collect
    from harness.classroom.feedback import feedback_markdown
    from harness.classroom.gradebook import default_points
    from harness.grading import grade as grading
    from harness.grading.sandbox import bubblewrap as sandbox
    from harness.status import Status

    parser = argparse.ArgumentParser(prog="python tests_backpropagation.py check",
                                     description="Check the notebooks in FOLDER (default: this project's) as the grader grades them.")
    parser.add_argument("folder", nargs="?", default=str(Path(__file__).resolve().parent.parent), metavar="FOLDER")
    parser.add_argument("--timeout", metavar="SECONDS", type=float, default=grading.Options.timeout,
                        help="time limit for each notebook part (default %(default)g, as graded)")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"Cannot check {str(folder)!r}: it is not a folder; give the folder that holds your notebooks.", file=sys.stderr)
        return 2
    options = grading.Options(timeout=args.timeout, jobs=1)
    reason = sandbox.probe()
    if reason:  # the student's own code: the same checks without the walls (the grader makes them)
        print(f"Note: no sandbox can be made here ({reason}); your notebooks run without one, with the same checks.", file=sys.stderr)
        options.use_sandbox = False
    with tempfile.TemporaryDirectory(prefix="inf265-check-") as stage:
        submissions = collect.collect_one(folder, Path(stage))
        [result] = grading.grade_all(submissions, options)
    lines = feedback_markdown(result, default_points()).splitlines()  # the words and points grade's feedback gives
    print("\n".join([f"# Check of {folder.resolve()}: what the grader gives these notebooks", *lines[1:]]))
    statuses = ", ".join(f"{part.key} {result.verdicts[part.key].status.value}" for part in options.parts)
    print(f"As graded: {statuses}.")
    return 0 if all(result.verdicts[part.key].status is Status.PASS for part in options.parts) else 1


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
    output.add_argument("--roster", metavar="PATH", help="Canvas's gradebook export (Grades > Export): every student gets a row "
                                                        "in --canvas-csv, named as the roster names them")
    output.add_argument("--groups", metavar="PATH", help="Canvas's group-set export (People > Groups > the set's menu > Export): "
                                                        "each group's submission is graded once and every member gets its result")
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
    points.add_argument("--marks", metavar="PATH", help="the TA's marks, merged into the total (a template is written the first time)")
    points.add_argument("--deadline", metavar="TIME", help="the deadline, ISO 8601 (2026-02-20T23:59, or with an offset)")
    points.add_argument("--times", metavar="PATH", action="append", default=[],
                        help="submission times: a CSV (a student column and a time column) or the JSON of Canvas's "
                             "submissions API (see README); give it once per file")
    points.add_argument("--late-policy", metavar="POLICY", default="2+2/12h",
                        help="late penalty BASE+STEP/PERIODh (default %(default)s: 2 points plus 2 per started 12 hours; 0 for none)")
    running = parser.add_argument_group("running")
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
    try:
        from harness.classroom import collect, gradebook, lateness
        from harness.classroom.feedback import print_table, write_feedback
        from harness.classroom.groups import assign, authors_missing, by_student, read_groups
        from harness.classroom.record import content_hash, keep_previous
        from harness.grading import grade as grading
        from harness.grading.sandbox import bubblewrap as sandbox
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
        deadline = lateness.parse_time(args.deadline, "--deadline") if args.deadline else None
        times = {student: time for path in args.times for student, time in lateness.read_times(path).items()}
        roster = gradebook.read_roster(args.roster) if args.roster else {}
        groups = read_groups(args.groups) if args.groups else {}
    except (ValueError, OSError, KeyError) as error:
        parser.error(str(error))
    if times and deadline is None:
        parser.error("--times needs --deadline: the penalty counts from it.")
    options = grading.Options(timeout=args.timeout, jobs=args.jobs, memory_gib=args.memory, use_sandbox=not args.unsafe_no_sandbox)
    if options.use_sandbox:
        reason = sandbox.probe()
        if reason:
            print(f"Cannot make a sandbox on this machine: {reason}; grading refused (give --unsafe-no-sandbox to run submissions unprotected).", file=sys.stderr)
            return 2
        limits = sandbox.Limits(int(options.memory_gib * 2**30))
        if not limits.available or "CPU" not in limits.describe():
            print(f"Warning: {limits.describe()}.", file=sys.stderr)
        limits.remove()
    import tempfile

    with tempfile.TemporaryDirectory(prefix="inf265-stage-") as stage:
        try:
            submissions = collect.collect(args.submissions_dir, stage)
        except collect.CollectError as error:
            print(f"Cannot read SUBMISSIONS {str(args.submissions_dir)!r}: {error}.", file=sys.stderr)
            return 2
        except OSError as error:
            print(f"Cannot read SUBMISSIONS {str(args.submissions_dir)!r} ({error.strerror or error}); give Canvas's download, "
                  "or a folder holding one sub-folder or .zip per submission.", file=sys.stderr)
            return 2
        if not submissions:
            print(f"No submissions in {str(args.submissions_dir)!r}.", file=sys.stderr)
        submissions, class_notes = assign(submissions, groups)
        step = timer()
        results = grading.grade_all(submissions, options, on_done=progress(len(submissions)),
                                    on_note=lambda text: print(f"Note: {text}.", file=sys.stderr))
        print(f"Graded {len(submissions)} submission(s) in {step():.0f} s.", file=sys.stderr)
        if args.record:  # what the next run compares with: only a record reads it
            for submission, result in zip(submissions, results):
                result.content = content_hash(submission.folder)
        pairs = similar_pairs(submissions, groups, args) if args.similarity else []
    for submission, result in zip(submissions, results):
        result.penalty, result.lateness = lateness.lateness(submission, deadline, times, policy)
    problems = class_notes + (gradebook.merge_marks(results, args.marks, manual) if args.marks else [])
    students = by_student(results, submissions, groups, roster, nothing_handed_in)
    for student in students:
        missing_authors = authors_missing(student)
        if missing_authors:
            student.notes.append(f"the report's first page does not name {', '.join(missing_authors)}: the handout asks for both authors")
    if args.similarity:
        from harness.classroom.similarity import closest

        best = closest(pairs)
        for student in students:
            found = best.get(student.name) if student.handed_in else None
            student.similarity = f"{found[0]:.2f} with {found[1]}" if found else ""
    previous = read_record(args.record)
    if previous:
        kept = keep_previous([args.csv, args.canvas_csv, args.json], previous)
        problems.append(f"the previous run's outputs are kept as {', '.join(kept)}" if kept else "the previous run wrote no gradebook")
    code = write_outputs(students, args, points, manual, roster, problems, print_table, gradebook, write_feedback)
    if args.overview:
        step = timer()
        try:
            from harness.classroom.overview import overview_html

            Path(args.overview).parent.mkdir(parents=True, exist_ok=True)
            Path(args.overview).write_text(overview_html(students, points, pairs, args.proportional,
                                                         similarity_report=os.path.relpath(args.similarity, Path(args.overview).parent)
                                                         if args.similarity else None), encoding="utf-8")
            print(f"Overview written to {args.overview} in {step():.1f} s.", file=sys.stderr)
        except (OSError, ValueError) as error:
            print(f"Note: {args.overview} could not be written ({error}).", file=sys.stderr)
    if args.record:
        write_record(args, students, points, previous, gradebook)
    print(summary(students, submissions, manual, args), file=sys.stderr)
    return code


def timer():
    import time

    start = time.perf_counter()
    return lambda: time.perf_counter() - start


def similar_pairs(submissions, groups, args):
    """The pairs above the threshold (harness.classroom.similarity, in a child with limits), said on stderr."""
    from harness.classroom.similarity import THRESHOLD, compare_in_child, notebook_code

    template = []
    if args.template:
        from harness.classroom.similarity import corpus_files

        template = [notebook_code(path) for _, path in corpus_files(args.template)]
    else:
        try:  # this project's student version: what the course hands out
            from harness.release import NOTEBOOKS, PROJECT_ROOT, student_notebook

            template = ["\n\n".join(c.source for c in student_notebook(PROJECT_ROOT / name)[0].cells if c.cell_type == "code")
                        for name in NOTEBOOKS]
        except (ImportError, OSError):
            template = []
    partners = [(a.name, b.name) for a in submissions for b in submissions
                if a is not b and a.student_id and groups.get(a.student_id) is not None
                and groups.get(a.student_id) is groups.get(b.student_id)]
    step = timer()
    Path(args.similarity).parent.mkdir(parents=True, exist_ok=True)
    found = compare_in_child([(s.name, s.folder) for s in submissions if not s.error], template, args.reference_corpus,
                             args.similarity_threshold or THRESHOLD, partners, report=str(Path(args.similarity).resolve()))
    if "failed" in found:
        print(f"Note: the similarity check could not run: {found['failed']}.", file=sys.stderr)
        return []
    print(f"Similarity: {len(submissions)} submission(s) compared in {step():.0f} s; {len(found['pairs'])} pair(s) above "
          f"{args.similarity_threshold or THRESHOLD:g}" + (f", in {args.similarity}" if found["report"] else "") + ".", file=sys.stderr)
    return found["pairs"]


def read_record(path):
    if not path or not Path(path).exists():
        return None
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except ValueError:
        return None


def write_record(args, students, points, previous, gradebook):
    from harness.classroom.record import changes, make_record

    totals = [gradebook.total_cell(s, points, args.proportional, missing=args.missing) for s in students]
    options = {key: value for key, value in vars(args).items() if key not in ("json", "csv", "canvas_csv", "feedback", "overview",
                                                                              "similarity", "record", "marks")}
    record = make_record(students, totals, options)
    if previous:
        said = changes(previous, record)
        print("Since the previous run: " + ("nothing changed." if not said else ""), file=sys.stderr)
        for sentence in said:
            print(f"- {sentence}", file=sys.stderr)
    try:
        Path(args.record).parent.mkdir(parents=True, exist_ok=True)
        Path(args.record).write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as error:
        print(f"Note: {args.record} could not be written ({error}).", file=sys.stderr)


def nothing_handed_in(user_id, name):
    """The result of a roster student who handed in nothing: every part missing."""
    from harness.grading.grade import Options, SubmissionResult
    from harness.grading.parts import verdict

    return SubmissionResult(name, {part.key: verdict.missing("nothing was handed in") for part in Options().parts},
                            student_id=user_id, display_name=name, handed_in=False)


def summary(students, submissions, manual, args):
    """The run in one paragraph a teacher reads: graded, missing, late, marks still to enter."""
    handed_in = [s for s in students if s.handed_in]
    missing = [s for s in students if not s.handed_in]
    late = [s for s in handed_in if s.penalty]
    unmarked = [s for s in handed_in if manual and args.marks and not set(manual) <= set(s.marks)]
    parts = [f"Graded {len(submissions)} submission(s) for {len(handed_in)} student(s)"]
    if args.roster:
        parts.append(f"{len(missing)} on the roster handed in nothing ({'0' if args.missing == 'zero' else 'blank'} in the gradebooks; "
                     f"--missing {'blank' if args.missing == 'zero' else 'zero'} for {'blank' if args.missing == 'zero' else '0'})")
    parts.append(f"{len(late)} late")
    if manual and args.marks:
        parts.append(f"{len(unmarked)} with marks still to enter in {args.marks}" if unmarked else "every mark entered")
    return "Summary: " + "; ".join(parts) + "."


def progress(total):
    """on_done for grade_all: a progress bar on a terminal, else one line per finished submission (stderr)."""
    if total and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=total, unit="submission", file=sys.stderr)
        return lambda result: bar.update(1) or (bar.close() if bar.n == total else None)
    done = []

    def line(result):
        from harness.classroom.quoting import printable

        done.append(result)
        statuses = " ".join(v.status.value for v in result.verdicts.values())
        print(f"[{len(done)}/{total}] {printable(result.name, 60)}: {statuses} ({result.seconds:.1f} s)", file=sys.stderr, flush=True)
    return line


def write_outputs(results, args, points, manual, roster, problems, print_table, gradebook, write_feedback):
    """The table, then each output the command line asked for; one failing output does not stop the others."""
    try:
        print_table(results)
    except (OSError, ValueError) as error:
        problems.append(f"the table could not be printed ({error})")
    possible = sum(points.values()) + sum(manual.values())
    outputs = [(args.json, lambda path: Path(path).write_text(json.dumps([r.to_json() for r in results], indent=2) + "\n", encoding="utf-8")),
               (args.csv, lambda path: gradebook.write_gradebook(results, path, points, args.proportional, manual=manual,
                                                                 missing=args.missing)),
               (args.canvas_csv, lambda path: gradebook.write_canvas(results, path, args.assignment, possible, points,
                                                                     args.proportional, roster=roster, missing=args.missing))]
    for path, write in outputs:
        if path:
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                write(path)
            except (OSError, ValueError) as error:
                problems.append(f"{path} could not be written ({error})")
    if args.canvas_csv:
        problems.append(f"{args.canvas_csv}: the Canvas assignment's Points Possible must be {possible:g} (the graded parts and "
                        "the TA's marks), or Canvas scales every grade")
    if args.canvas_csv and any(not r.student_id for r in results):
        problems.append(f"{args.canvas_csv}: {sum(not r.student_id for r in results)} submission(s) have no Canvas user id "
                        "(not from Canvas's download): Canvas cannot match those rows")
    if args.feedback:
        try:
            problems += write_feedback(results, args.feedback, points, args.proportional, manual=manual)[1]
        except (OSError, ValueError) as error:
            problems.append(f"{args.feedback} could not be written ({error})")
    for problem in problems:
        print(f"Note: {problem}.", file=sys.stderr)
    return 0


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
    except Exception as error:  # typst's messages say the line
        print(f"Cannot build the report: typst says {error}", file=sys.stderr)
        return 2
    facts = deliverables.report_facts(str(Path(args.folder)), [os.path.join("report", "report.pdf")])
    print(f"Wrote {source.with_suffix('.pdf')}.")
    print(markdown([("li", line) for line in deliverable_lines({"notebooks": {}, "report": facts,
                                                                 "readme": {"needed": False}})]).rstrip())
    fine = (facts.get("readable") and not facts.get("export") and not facts.get("template") and len(facts.get("answers", [])) == 7
            and facts.get("labour"))
    return 0 if fine else 1


COMMANDS = {"check": check, "grade": grade, "release": release, "report": report}


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
