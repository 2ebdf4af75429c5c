"""A class graded from the teacher's files to the gradebooks, as one pipeline: the steps in order, each a
function of the run's state that reads some of it and adds to it. Nothing is written until every input
was read and checked against the others; a refused input stops the run with every problem said, and
the previous outputs stay exactly as they were.

    step             reads                                     makes
    read inputs      --roster --groups --times --deadline      roster, groups, times, deadline, previous run
                     --timezone, the previous run's record
    collect          SUBMISSIONS                               submissions (staged)
    cross-check      all of the above, --marks                 students (who gets which row and why), marks
    grade            submissions                               results (--only: one, the others as last graded)
    compare code     results (--similarity)                    similar pairs
    give results     results, students, marks, times           graded: one result per student
    write            graded                                    gradebooks, feedback, overview, record: all or none
    summary          graded                                    what the teacher still has to do

The front-ends (the Canvas command in harness.cli, GitHub Classroom, Gradescope) build the options and
run STEPS, or the steps they need. --check-inputs stops after the cross-check and says the plan.
"""

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.classroom import lateness as late_rules
from harness.classroom.quoting import listed
from harness.classroom.tables import InputError

REFUSED = 2


class Refused(Exception):
    """The run cannot go on as given: every problem found is in problems, each one sentence."""

    def __init__(self, problems):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class ClassRun:
    """The state the steps pass on. args: the options (harness.cli's parser)."""
    args: object
    stage: Path
    points: dict
    manual: dict
    policy: object
    say: object = None               # (text) -> None: the teacher's terminal (stderr)
    zone: object = None
    deadline: object = None
    times: dict = field(default_factory=dict)
    roster: dict = field(default_factory=dict)
    groups: dict = field(default_factory=dict)
    previous: dict = None            # the previous run's record (--record)
    previous_results: dict = None    # {submission: SubmissionResult} of the previous run's --json (for --only)
    submissions: list = field(default_factory=list)
    students: list = field(default_factory=list)    # classlist.Student, the plan
    marks: dict = field(default_factory=dict)       # {student key: marks.Marks}
    write_marks_template: bool = False
    only: list = None                               # the submissions --only regrades
    results: dict = field(default_factory=dict)     # {submission name: SubmissionResult}
    pairs: list = field(default_factory=list)
    similarity_report: Path = None                  # the comparison's HTML, written aside until the outputs are
    template_said: str = ""
    default_template: object = None                 # () -> ([code], how it is said) or None: handed out, without --template
    graded: list = field(default_factory=list)      # one SubmissionResult per student
    notes: list = field(default_factory=list)       # for the teacher, said at the end

    def __post_init__(self):
        self.say = self.say or (lambda text: print(text, file=sys.stderr, flush=True))


# --- read inputs ----------------------------------------------------------------------------------------------

def read_inputs(run):
    """Each file the teacher gave, read as Excel or Canvas writes it; every file that cannot be used said."""
    args, problems = run.args, []

    def attempt(read):
        try:
            return read()
        except InputError as error:
            problems.append(str(error))
            return None

    run.zone = attempt(lambda: late_rules.time_zone(args.timezone)) if args.timezone else None
    if not args.timezone or run.zone is not None:
        run.deadline = attempt(lambda: late_rules.parse_time(args.deadline, "--deadline", run.zone)) if args.deadline else None
    for path in args.times:
        run.times.update(attempt(lambda: late_rules.read_times(path, run.zone)) or {})
    if args.times and not args.deadline:
        problems.append("--times needs --deadline: the penalty counts from it")
    if args.roster:
        from harness.classroom.roster import read_roster

        run.roster = attempt(lambda: read_roster(args.roster)) or {}
    if getattr(args, "classroom_roster", None):
        from harness.classroom.github import read_classroom_roster

        run.roster = attempt(lambda: read_classroom_roster(args.classroom_roster)) or {}
    if args.groups:
        from harness.classroom.groups import read_groups

        run.groups = attempt(lambda: read_groups(args.groups)) or {}
    run.previous = attempt(lambda: _read_json(args.record, "The previous run's record")) if args.record else None
    if args.only:
        if not args.json:
            problems.append("--only regrades into the previous run's outputs and needs their --json (graded/verdicts.json), "
                            "which holds everyone else's results")
        else:
            entries = attempt(lambda: _read_json(args.json, "The previous run's verdicts", required=True))
            if entries is not None:
                run.previous_results = attempt(lambda: _previous_results(entries, args.json))
    if args.marks and not Path(args.marks).exists():
        earlier = _marks_of_previous_run(run, args)
        if earlier:
            problems.append(f"--marks {args.marks} does not exist, but the previous run merged marks ({earlier}): check the "
                            "path (a new template would drop every mark)")
        else:
            run.write_marks_template = not args.check_inputs
    if problems:
        raise Refused(problems)
    if run.deadline is not None:
        run.say(f"Deadline: {late_rules.said(run.deadline)}.")


def _read_json(path, what, required=False):
    if not Path(path).exists():
        if required:
            raise InputError(f"{what} {path} does not exist: grade the whole class first")
        return None
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(f"{what} {path} cannot be read ({getattr(error, 'strerror', None) or error}): it is not one this "
                         "grader wrote; move it away and grade again") from None


def _previous_results(entries, path):
    from harness.grading.grade import SubmissionResult

    try:
        return {entry["submission"]: SubmissionResult.from_json(entry) for entry in entries if entry.get("handed in", True)}
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise InputError(f"The previous run's verdicts {path} are not ones this grader wrote ({type(error).__name__}: "
                         f"{error}): grade the whole class again") from None


def _marks_of_previous_run(run, args):
    """Where the previous run's outputs show marks merged ("" where they do not)."""
    if run.previous and any(s.get("marks") for s in run.previous.get("students", {}).values()):
        return f"{args.record} records them"
    if args.json and Path(args.json).exists():
        try:
            if any(entry.get("marks") for entry in json.loads(Path(args.json).read_text(encoding="utf-8"))):
                return f"{args.json} holds them"
        except (OSError, ValueError, AttributeError):
            pass
    if args.csv and Path(args.csv).exists():
        import csv

        try:
            with open(args.csv, newline="", encoding="utf-8") as file:
                if any(any((row.get(column) or "").strip() for column in run.manual) for row in csv.DictReader(file)):
                    return f"{args.csv} shows them"
        except (OSError, UnicodeDecodeError, csv.Error):
            pass
    return ""


# --- collect ----------------------------------------------------------------------------------------------------

def collect_download(run):
    """SUBMISSIONS staged, one Submission each; an empty download is refused."""
    from harness.classroom import collect

    where = str(run.args.submissions_dir)
    try:
        run.submissions = collect.collect(where, run.stage)
    except collect.CollectError as error:
        raise Refused([f"Cannot read SUBMISSIONS {where!r}: {error}"]) from None
    except OSError as error:
        raise Refused([f"Cannot read SUBMISSIONS {where!r} ({error.strerror or error}); give Canvas's download, or a folder "
                       "holding one sub-folder or .zip per submission"]) from None
    if not run.submissions:
        raise Refused([f"SUBMISSIONS {where!r} holds no submission: give Canvas's download (Assignment > Download "
                       "Submissions) as it comes, or a folder holding one sub-folder or .zip per submission"])
    if getattr(run.args, "classroom_roster", None):  # GitHub Classroom: each repository given to its student
        from harness.classroom.github import match

        run.notes += match(run.submissions, run.roster)


# --- cross-check ------------------------------------------------------------------------------------------------

def cross_check(run):
    """The download, the roster, the group set, the times and the marks checked against each other; the
    class list (who gets which row, and why) and the marks each row gets."""
    from harness.classroom.classlist import class_list
    from harness.classroom.groups import assign
    from harness.classroom.quoting import printable
    from harness.classroom.roster import natural_name

    problems, args = [], run.args
    submitters = [s for s in run.submissions if s.student_id]
    if getattr(args, "classroom_roster", None):
        if not submitters:
            problems.append(f"None of the {len(run.submissions)} repositories of SUBMISSIONS is named after a GitHub user of the "
                            f"classroom roster {Path(args.classroom_roster).name}: is it this classroom's roster?")
    elif run.roster:
        if not submitters:
            problems.append("--roster gives Canvas user ids, but SUBMISSIONS holds no Canvas download (its submissions carry no "
                            "user id): give Canvas's download as it comes, or leave out --roster")
        else:
            strangers = [s for s in submitters if s.student_id not in run.roster]
            if len(strangers) == len(submitters):
                problems.append(f"None of the {len(submitters)} students of the download is on the roster {Path(args.roster).name}: "
                                "is it this course's gradebook export?")
            elif strangers:
                problems.append(f"{listed([f'{printable(s.name, 60)}' for s in strangers])} handed in but "
                                f"{'is' if len(strangers) == 1 else 'are'} not on the roster {Path(args.roster).name}: export "
                                "the roster again (Grades > Export, with concluded and inactive enrollments shown if they are)")
        members = {m.user_id for g in run.groups.values() for m in g.members}
        outside = sorted(members - set(run.roster))
        if run.groups and outside:
            problems.append(f"The group set {Path(args.groups).name} has members who are not on the roster "
                            f"({listed(outside)}): are both this course's exports?")
    if run.groups and submitters and not any(s.student_id in run.groups for s in submitters):
        problems.append(f"None of the download's students is in a group of {Path(args.groups).name}: is it this "
                        "assignment's group set?")
    elif run.groups and run.submissions and not submitters:
        problems.append("--groups gives Canvas user ids, but SUBMISSIONS holds no Canvas download (its submissions carry no "
                        "user id): give Canvas's download as it comes, or leave out --groups")
    if run.times and run.roster:  # a times file that names students as the roster does ("Karlsen, Ida")
        names = {}
        for user, row in run.roster.items():
            for name in {row["Student"], natural_name(row["Student"])}:
                names.setdefault(name.casefold(), set()).add(user)
        run.times = {next(iter(names[key.casefold()])) if len(names.get(key.casefold(), ())) == 1 and key not in run.roster
                     else key: moment for key, moment in run.times.items()}
    if run.times:
        known = ({s.student_id for s in run.submissions} | {s.name for s in run.submissions} |
                 {s.canvas_name for s in run.submissions} | set(run.roster) |
                 {m.user_id for g in run.groups.values() for m in g.members}) - {""}
        unknown = sorted(key for key in run.times if key not in known)
        if unknown:
            problems.append(f"The submission times name {listed([repr(k) for k in unknown])}, who "
                            f"{'is' if len(unknown) == 1 else 'are'} in neither the download, the roster nor the group set: "
                            "give the times of this assignment")
    run.submissions, said = assign(run.submissions, run.groups)
    run.notes = said + run.notes
    run.students = class_list(run.submissions, run.groups, run.roster)
    if args.marks and Path(args.marks).exists():
        from harness.classroom.marks import read_marks

        try:
            run.marks = read_marks(args.marks, run.manual, run.students)
        except InputError as error:
            problems.append(str(error))
    if args.only:
        run.only, missing = _only(run, args.only)
        problems += missing
    if problems:
        raise Refused(problems)


def _only(run, wanted):
    """(the submissions --only names, problems): a student by user id or name, a submission, or a group."""
    from harness.classroom.roster import natural_name

    found, problems = [], []
    for text in wanted:
        key = text.strip().casefold()
        matches = {s.submission.name for s in run.students if s.submission is not None and key in {
            s.user_id, s.submission.name.casefold(), s.submission.canvas_name.casefold(), s.name.casefold(),
            natural_name(s.name).casefold(), s.group.casefold()} - {""}}
        if not matches:
            nothing = [s for s in run.students if key in {s.user_id, s.name.casefold(), natural_name(s.name).casefold()}]
            problems.append(f"--only {text!r}: {'they handed in nothing, so there is nothing to grade' if nothing else 'no student, submission or group of the class is named so'}")
        found += sorted(matches - set(found))
    if run.previous_results is not None:
        for submission in run.submissions:
            if submission.name not in found and submission.name not in run.previous_results:
                problems.append(f"{submission.name} is not in the previous run's verdicts (handed in since?): give --only "
                                f"{submission.name!r} too, or grade the whole class")
    return found, problems


# --- grade ----------------------------------------------------------------------------------------------------------

def grade(run):
    """Each submission graded in its sandbox; with --only, the ones named, the others as last graded."""
    from harness.classroom.record import content_hash
    from harness.grading import grade as grading

    args = run.args
    options = grading.Options(timeout=args.timeout, jobs=args.jobs, memory_gib=args.memory, use_sandbox=not args.unsafe_no_sandbox)
    if args.record or args.json or args.only:  # what the next run compares with, and what --only checks unchanged
        for submission in run.submissions:
            submission.content = content_hash(submission.folder)
    todo = [s for s in run.submissions if not args.only or s.name in run.only]
    if args.only:
        changed = [s.name for s in run.submissions if s not in todo and run.previous_results[s.name].content
                   and run.previous_results[s.name].content != s.content]
        if changed:
            raise Refused([f"{listed(changed)} uploaded again since the previous run: regrade {'it' if len(changed) == 1 else 'them'} "
                           "too (--only), or grade the whole class"])
    start = time.perf_counter()
    graded = grading.grade_all(todo, options, on_done=progress(len(todo)), on_note=lambda text: run.say(f"Note: {text}."))
    run.say(f"Graded {len(todo)} submission(s) in {time.perf_counter() - start:.0f} s"
            + (f"; {len(run.submissions) - len(todo)} kept as the previous run graded them." if args.only else "."))
    for submission, result in zip(todo, graded):
        result.content = submission.content
        if args.only:  # the class's comparison is not made again: the regraded submission keeps its line
            result.similarity = run.previous_results.get(submission.name, result).similarity
        run.results[submission.name] = result
    for submission in run.submissions:
        if submission.name not in run.results:
            run.results[submission.name] = run.previous_results[submission.name]


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


# --- compare code ---------------------------------------------------------------------------------------------------

def compare_code(run):
    """Copying across the class (--similarity), in a child with limits; its report written aside until the outputs are."""
    from harness.classroom import similarity

    args = run.args
    if not args.similarity:
        return
    if args.only:  # the class's code did not change but the one regraded: the previous comparison stands
        run.pairs = (run.previous or {}).get("similar pairs", [])
        return
    template, run.template_said = handed_out_code(args.template, run.default_template)
    partners = [(a.name, b.name) for a in run.submissions for b in run.submissions
                if a is not b and a.student_id and run.groups.get(a.student_id) is not None
                and run.groups.get(a.student_id) is run.groups.get(b.student_id)]
    start = time.perf_counter()
    Path(args.similarity).parent.mkdir(parents=True, exist_ok=True)
    report = Path(args.similarity).with_name(f".{Path(args.similarity).stem}.comparing.html")
    threshold = args.similarity_threshold or similarity.THRESHOLD
    found = similarity.compare_in_child([(s.name, s.folder) for s in run.submissions if not s.error], template,
                                        args.reference_corpus, threshold, partners, report=str(report.resolve()),
                                        template_said=run.template_said)
    if "failed" in found:
        run.say(f"Note: the similarity check could not run: {found['failed']}.")
        report.unlink(missing_ok=True)
        return
    run.pairs = found["pairs"]
    run.similarity_report = Path(found["report"]) if found["report"] else None
    run.say(f"Similarity: {len(run.submissions)} submission(s) compared in {time.perf_counter() - start:.0f} s; "
            f"{len(run.pairs)} pair(s) above {threshold:g}" + (f", in {args.similarity}" if found["report"] else "")
            + f". Handed-out code: {run.template_said}.")


def handed_out_code(folder, default=None):
    """([code], how it is said): --template's notebooks and .py files, else default() (the front-end's:
    this project's student version), else none."""
    from harness.classroom.similarity import corpus_files, notebook_code

    if folder:
        files = corpus_files(folder)
        return [notebook_code(path) for _, path in files], f"--template {folder} ({len(files)} file(s))"
    found = default() if default else None
    return found or ([], "no template (none given with --template)")


# --- give results ---------------------------------------------------------------------------------------------------

def give_results(run):
    """One result per student: the submission's result, its lateness, the TA's marks, notes of the row."""
    from harness.classroom.classlist import results_per_student
    from harness.classroom.groups import authors_missing
    from harness.classroom.record import student_key
    from harness.classroom.similarity import closest

    for submission in run.submissions:
        result = run.results[submission.name]
        result.penalty, result.lateness = late_rules.lateness(submission, run.deadline, run.times, run.policy)
    run.graded = results_per_student(run.students, run.results, nothing_handed_in)
    best = closest(run.pairs)
    for student in run.graded:
        given = run.marks.get(student_key(student))
        if given is not None:
            student.marks, student.comment = dict(given.marks), given.comment
        missing_authors = authors_missing(student)
        if missing_authors:
            student.student_notes.append(f"the report's first page does not name {', '.join(missing_authors)}: the handout asks "
                                         "for both authors")
        if run.args.similarity and not run.args.only:
            found = best.get(student.name) if student.handed_in else None
            student.similarity = f"{found[0]:.2f} with {found[1]}" if found else ""
        elif not run.args.similarity:
            student.similarity = ""


def nothing_handed_in(user_id, name):
    """The result of a student who handed in nothing: every part missing."""
    from harness.grading.grade import Options, SubmissionResult
    from harness.grading.parts import verdict

    return SubmissionResult(name, {part.key: verdict.missing("nothing was handed in") for part in Options().parts},
                            student_id=user_id, display_name=name, handed_in=False)


# --- write ----------------------------------------------------------------------------------------------------------

def write(run):
    """Every output asked for, written aside and put in place together (harness.classroom.outputs); the
    previous run's kept under its time. The table on stdout."""
    from harness.classroom import gradebook
    from harness.classroom.feedback import print_table, write_feedback
    from harness.classroom.marks import write_template
    from harness.classroom.outputs import OutputError, Outputs
    from harness.classroom.record import changes, make_record

    args, students = run.args, run.graded
    possible = sum(run.points.values()) + sum(run.manual.values())
    outputs, problems = Outputs(), []
    try:
        if args.json:
            outputs.file(args.json, lambda path: Path(path).write_text(
                json.dumps([r.to_json() for r in students], indent=2) + "\n", encoding="utf-8"))
        if args.csv:
            outputs.file(args.csv, lambda path: gradebook.write_gradebook(students, path, run.points, args.proportional,
                                                                          manual=run.manual, missing=args.missing))
        if args.canvas_csv:
            outputs.file(args.canvas_csv, lambda path: gradebook.write_canvas(students, path, args.assignment, possible, run.points,
                                                                              args.proportional, roster=run.roster,
                                                                              missing=args.missing))
        if args.feedback:
            def feedback(folder):
                problems.extend(write_feedback(students, folder, run.points, args.proportional, manual=run.manual)[1])
            outputs.folder(args.feedback, feedback)
        if run.write_marks_template:
            earned = {s.key: _graded_points(run, s) for s in run.students}
            outputs.file(args.marks, lambda path: write_template(path, run.students, run.manual, earned))
        if args.overview:
            from harness.classroom.overview import overview_html

            start = time.perf_counter()
            relative = os.path.relpath(args.similarity, Path(args.overview).parent) if args.similarity else None
            outputs.file(args.overview, lambda path: Path(path).write_text(
                overview_html(students, run.points, run.pairs, args.proportional, similarity_report=relative), encoding="utf-8"))
            run.say(f"Overview written to {args.overview} in {time.perf_counter() - start:.1f} s.")
        if run.similarity_report is not None:
            outputs.file(args.similarity, lambda path: os.replace(run.similarity_report, path))
        record = None
        if args.record:
            totals = [gradebook.total_cell(s, run.points, args.proportional, missing=args.missing) for s in students]
            record = make_record(students, totals, recorded_options(args), run.pairs,
                                 late_rules.said(run.deadline) if run.deadline else None)
            outputs.file(args.record, lambda path: Path(path).write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n",
                                                                         encoding="utf-8"))
    except OutputError as error:
        if run.similarity_report is not None:
            run.similarity_report.unlink(missing_ok=True)
        raise Refused([str(error)]) from None
    try:
        print_table(students)
    except (OSError, ValueError) as error:
        problems.append(f"the table could not be printed ({error})")
    kept = outputs.commit((run.previous or {}).get("written"))
    if kept:
        problems.append(f"the previous run's outputs are kept as {', '.join(kept)}")
    if record is not None and run.previous:
        said = changes(run.previous, record)
        run.say("Since the previous run: " + ("nothing changed." if not said else ""))
        for sentence in said:
            run.say(f"- {sentence}")
    if args.canvas_csv:
        problems.append(f"{args.canvas_csv}: the Canvas assignment's Points Possible must be {possible:g} (the graded parts and "
                        "the TA's marks), or Canvas scales every grade")
        if any(not r.student_id for r in students):
            problems.append(f"{args.canvas_csv}: {sum(not r.student_id for r in students)} submission(s) have no Canvas user id "
                            "(not from Canvas's download): Canvas cannot match those rows")
    if run.write_marks_template:
        problems.append(f"no marks yet: wrote {args.marks} with one row per group or student; fill in "
                        f"{', '.join(run.manual)} and grade again")
    for note in run.notes + problems:
        run.say(f"Note: {note}.")


def _graded_points(run, student):
    from harness.classroom.gradebook import points_of

    if student.submission is None:
        return ""
    return sum(points_of(run.results[student.submission.name], run.points, run.args.proportional).values())


def recorded_options(args):
    """The options a record keeps: what decides points, not where outputs go or which run regraded."""
    skipped = ("json", "csv", "canvas_csv", "feedback", "overview", "similarity", "record", "marks", "only", "check_inputs")
    return {key: value for key, value in vars(args).items() if key not in skipped}


# --- summary ----------------------------------------------------------------------------------------------------

def summary(run):
    """The run in a few lines a teacher reads: who was graded, who handed in nothing, who was late, whose
    marks are still to enter (by name)."""
    students, args = run.graded, run.args
    handed_in = [s for s in students if s.handed_in]
    nothing = [s for s in students if not s.handed_in]
    late = [s for s in handed_in if s.penalty]
    lines = [f"Summary: graded {len(run.results)} submission(s) for {len(handed_in)} student(s)."]
    if nothing:
        marked = [s for s in nothing if s.marks]
        rule = "0" if args.missing == "zero" else "blank"
        lines.append(f"Handed in nothing ({len(nothing)}; {rule} in the gradebooks unless marked): {_said(nothing)}."
                     + (f" Marked from {args.marks} (work sent another way): {_said(marked)}." if marked else ""))
    if late:
        lines.append(f"Late ({len(late)}): " + "; ".join(f"{_name(s)} ({s.lateness.split(':')[0]}, -{s.penalty:g})"
                                                        for s in late[:50]) + (f"; and {len(late) - 50} more" if len(late) > 50 else "") + ".")
    if run.manual and args.marks:
        unmarked = [s for s in handed_in if not set(run.manual) <= set(s.marks)]
        lines.append(f"Marks still to enter in {args.marks} ({len(unmarked)}): {_said(unmarked)}." if unmarked
                     else f"Every student who handed in has their marks from {args.marks}.")
    run.say("\n".join(lines))


def _name(student):
    from harness.classroom.quoting import printable
    from harness.classroom.roster import natural_name

    return printable(natural_name(student.display_name or student.name), 80)


def _said(students, limit=50):
    names = [_name(s) for s in students]
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more (every one in the gradebook)" if len(names) > limit else "")


# --- the plan, for --check-inputs -------------------------------------------------------------------------------------

def say_plan(run):
    """Who would get which row and why, on stdout; nothing is graded or written."""
    from harness.classroom.quoting import printable

    args = run.args
    inputs = [f"SUBMISSIONS: {len(run.submissions)} submission(s) to grade"]
    if args.roster:
        inputs.append(f"roster: {len(run.roster)} student(s)")
    if args.groups:
        inputs.append(f"group set: {len({g.name for g in run.groups.values()})} group(s)")
    if run.deadline:
        inputs.append(f"deadline: {late_rules.said(run.deadline)}")
    if args.times:
        inputs.append(f"submission times: {len(run.times)}")
    if args.marks:
        inputs.append(f"marks: {len(run.marks)} student(s) marked in {args.marks}" if Path(args.marks).exists()
                      else f"marks: {args.marks} does not exist yet (the first run writes the template)")
    print("Inputs read and checked against each other: " + "; ".join(inputs) + ".")
    print("Each student's row, and why:")
    for student in run.students:
        submission = student.submission
        row = [printable(student.name, 60) + (f" ({student.user_id})" if student.user_id else "")]
        if student.group:
            row.append(f"group {printable(student.group, 40)}")
        row.append(f"graded: {printable(submission.name, 60)}, {student.why}" if submission else student.why)
        if submission is not None:
            _, said = late_rules.lateness(submission, run.deadline, run.times, run.policy)
            if said:
                row.append(said)
        given = run.marks.get(student.key)
        if given:
            row.append("marks " + ", ".join(f"{k} {v:g}" for k, v in given.marks.items()) + f" (row {given.line})")
        print("  - " + "; ".join(row))
    for note in run.notes:
        print(f"  Note: {note}.")


# --- one folder: the student's check, a Gradescope submission ----------------------------------------------------------

def grade_folder(folder, timeout, stage, say=None):
    """(the SubmissionResult of one folder graded as grade grades each submission, why it ran without a
    sandbox or None): the same staging, sandbox where one can be made, lockdown, source check and judges."""
    from harness.classroom import collect
    from harness.grading import grade as grading
    from harness.grading.sandbox import bubblewrap as sandbox

    options = grading.Options(timeout=timeout, jobs=1)
    reason = sandbox.probe()
    if reason:  # without the walls, the same checks (the grader's machine makes them)
        options.use_sandbox = False
    submissions = collect.collect_one(Path(folder), Path(stage))
    [result] = grading.grade_all(submissions, options, on_note=(lambda text: say(f"Note: {text}.")) if say else None)
    return result, reason


# --- the pipeline -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    name: str
    do: object                    # (ClassRun) -> None; raises Refused
    reads: tuple = ()             # what of the run's state (or the options) it reads
    makes: tuple = ()             # what it adds to the run's state (or writes)
    checks_inputs: bool = False   # part of --check-inputs


STEPS = (
    Step("read inputs", read_inputs, ("--roster", "--classroom-roster", "--groups", "--times", "--deadline", "--timezone",
                                      "--record", "--json (for --only)"), ("roster", "groups", "times", "deadline", "previous"), True),
    Step("collect", collect_download, ("SUBMISSIONS",), ("submissions",), True),
    Step("cross-check", cross_check, ("submissions", "roster", "groups", "times", "--marks"), ("students", "marks", "only"), True),
    Step("grade", grade, ("submissions", "only", "previous results"), ("results",)),
    Step("compare code", compare_code, ("submissions", "groups", "--template", "--reference-corpus"), ("pairs",)),
    Step("give results", give_results, ("results", "students", "marks", "times", "deadline", "pairs"), ("graded",)),
    Step("write", write, ("graded", "pairs", "previous"), ("the outputs asked for", "the marks template")),
    Step("summary", summary, ("graded",), ()),
)


def run_class(run, steps=STEPS, before_grading=None):
    """Run the steps on run; the exit code: 0 when every input was used as given, 2 when anything was
    refused (every problem said on stderr; nothing written). before_grading(run) -> a refusal or None:
    what must hold before submitted code runs (a sandbox)."""
    try:
        for step in steps:
            if run.args.check_inputs and not step.checks_inputs:
                say_plan(run)
                return 0
            if step.do is grade and before_grading is not None:
                problem = before_grading(run)
                if problem:
                    raise Refused([problem])
            step.do(run)
        if run.args.check_inputs:
            say_plan(run)
    except Refused as refused:
        run.say(f"Refused ({len(refused.problems)} problem{'s' if len(refused.problems) != 1 else ''}); nothing was graded or "
                "written, and the previous outputs are as they were:" if not run.results else
                f"Refused ({len(refused.problems)} problem(s)); the previous outputs are as they were:")
        for problem in refused.problems:
            run.say(f"- {problem}.")
        return REFUSED
    return 0
