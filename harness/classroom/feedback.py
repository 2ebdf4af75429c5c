"""What goes back to students and into the gradebook: feedback per student (Markdown, and PDF for
Canvas's re-upload), a table on the terminal.

Feedback says first what concerns the student: the total and what made it (points, marks, the late
penalty as a person says it), then per part the status, what passed, the distinct failures with their
causes and a few lines to paste into the notebook that reproduce the first; then what was handed in;
what is beyond the course shrinks to one line at the end. It is one document (blocks of segments)
rendered twice: as Markdown and as Typst for a PDF. Only the grader writes headings and verdict
lines: every text a submission could have shaped (its name, its exceptions' messages, the notes on
its notebook) is a "code" segment, quoted as data in both (harness.classroom.quoting; in Typst every
text is a string literal, so no markup of a student's can start). Points, marks and penalties are
harness.classroom.gradebook's.
"""

import sys
import zipfile
from pathlib import Path

from harness.classroom.gradebook import points_of, total_of
from harness.classroom.quoting import code_span, fenced, file_names, markdown_text, printable
from harness.classroom.roster import natural_name
from harness.grading.parts import PARTS
from harness.grading.parts import deliverables
from harness.status import Status

# A document: [block]; a block: ("h", level, segments) | ("p", segments) | ("li", segments) | ("pre", language, text).
# A segment: ("text", the grader's words) | ("strong", the grader's words) | ("code", anything a submission shaped)
#            | ("name", a name from the teacher's lists: text, every Markdown mark escaped).


def _text(*parts):
    """Segments from plain strings (the grader's words) and (kind, text) tuples."""
    return [part if isinstance(part, tuple) else ("text", part) for part in parts if part != ""]


def code(text, limit=600):
    return ("code", printable(text, limit))


def feedback_document(result, points=None, proportional=False, parts=PARTS, manual=None):
    """The blocks of one student's feedback, what concerns the student first."""
    blocks = [("h", 1, _title(result))]
    if not result.handed_in and not result.marks:
        blocks.append(("p", _text("Nothing was handed in for this assignment.")))
        return blocks
    earned = points_of(result, points, proportional, parts) if points else None
    if points:
        blocks.append(("p", _total(result, points, earned, manual or {}, proportional, parts)))
    if not result.handed_in:
        blocks.append(("p", _text("Nothing was handed in on the learning platform; your teaching assistant marked work "
                                  "that reached them another way.")))
    if result.lateness and result.lateness != "on time":
        blocks.append(("p", _text("Submitted ", code(result.lateness, 200), ", by the handout's rule.")))
    if result.comment:
        blocks += [("p", _text("From your teaching assistant:")), ("pre", "text", result.comment)]
    if not result.handed_in:
        return blocks
    beyond = []
    for part in parts:
        blocks += _part_blocks(part, result.verdicts[part.key], earned, points)
        beyond += [(part, name, distinction) for name, distinction in result.verdicts[part.key].distinctions.items()]
    blocks.append(("h", 2, _text("What was handed in")))
    blocks += [("li", segments) for segments in deliverable_lines(result.deliverables)]
    blocks += [("li", _text("Note: ", code(note))) for note in result.all_notes()]
    if beyond:
        blocks.append(("p", _text("Beyond what the course asks (never a cause of lost points): "
                                  + "; ".join(beyond_the_course(name, d["yes"]) for _, name, d in beyond) + ".")))
    blocks.append(("p", _text(STATUSES + (PROPORTIONAL if proportional else ALL_OR_NOTHING))))
    return blocks


STATUSES = ("Statuses: pass, right by the course's contract; fail, it ran and its results are wrong (the cause is named); "
            "error, it raised, could not be loaded or went over a limit; missing, the notebook or the function is not there; "
            "timeout, it did not finish within the time limit. ")
ALL_OR_NOTHING = "A part earns its points only when it passes: all or nothing."
PROPORTIONAL = "A part that fails earns points in proportion to the cases or settings it passed."


def _title(result):
    """"Feedback for Åse Søreide (group Pair 1, with Marte Olsen)": names from the teacher's lists as
    text (Markdown-escaped), a name the download or a folder gave as code (a submission chose it)."""
    who = result.display_name or result.name
    title = [("text", "Feedback for "), ("name", natural_name(who)) if result.named else code(who, 120)]
    if result.group:
        title += [("text", " (group "), ("name", printable(result.group, 80))]
        if result.partners:
            title += [("text", ", with "), ("name", printable(_and([natural_name(p) for p in result.partners]), 200))]
        title.append(("text", ")"))
    return title


def _and(names):
    """"Ida Karlsen", "Ida Karlsen and Magnus Jensen", "A, B and C"."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _total(result, points, earned, manual, proportional, parts):
    """"Total: 127 of 130 points: graded parts 100 of 100, clarity of code 9 of 10, reporting 18 of 20", or the
    points so far and the TA's marks still to come."""
    possible = sum(points[p.key] for p in parts) + sum(manual.values())
    said = [f"graded parts {sum(earned.values()):g} of {sum(points[p.key] for p in parts):g}"]
    said += [f"{name} {result.marks[name]:g} of {maximum:g}" for name, maximum in manual.items() if name in result.marks]
    if result.penalty:
        said.append(f"late penalty -{result.penalty:g}")
    to_come = [f"{name} (of {maximum:g})" for name, maximum in manual.items() if name not in result.marks]
    total = total_of(result, points, proportional, parts)
    if to_come:
        return _text(("strong", f"Points so far: {total:g} of {possible:g}"), ": " + ", ".join(said)
                     + f"; your teaching assistant's marks for {_and(to_come)} are still to come.")
    return _text(("strong", f"Total: {total:g} of {possible:g} points"), ": " + ", ".join(said) + ".")


BEYOND = {"vectorised over a batch": ("your backpropagation also gives the right gradients for a batch of several samples",
                                      "your backpropagation does not give the right gradients for a batch of several samples"),
          "shapes and dtype exactly the parameters'": ("its gradients have exactly the parameters' shapes and dtype",
                                                       "its gradients' shapes or dtype differ from the parameters' (accepted)"),
          "bitwise equal to torch.optim.SGD": ("your SGD is equal to torch.optim.SGD bit for bit",
                                               "your SGD equals torch.optim.SGD to round-off, not bit for bit (as the course allows)")}
SETTINGS = {"dampening+momentum": "momentum with dampening", "momentum+nesterov": "Nesterov momentum",
            "momentum+nesterov+weight_decay": "Nesterov momentum with weight decay",
            "dampening+momentum+weight_decay": "momentum with dampening and weight decay"}


def beyond_the_course(name, yes):
    """A distinction in plain words: "your SGD is equal to torch.optim.SGD bit for bit"."""
    if name in BEYOND:
        return BEYOND[name][0 if yes else 1]
    setting = name.replace(" (beyond the course)", "")
    said = SETTINGS.get(setting, printable(setting, 60).replace("+", " with ").replace("_", " "))
    return f"your SGD also handles {said}" if yes else f"your SGD does not handle {said}"


def _part_blocks(part, verdict, earned, points):
    score = f" ({earned[part.key]:g} / {points[part.key]:g} points)" if earned else ""
    # one name per part everywhere: its key (the gradebook's column, check --part, the autograding step's name)
    blocks = [("h", 2, _text(f"Part {part.key}: ", ("code", part.function), f" in {part.notebook}: {verdict.status.value}{score}"))]
    if verdict.total is not None:
        blocks.append(("li", _text(f"Passed: {verdict.passed} / {verdict.total} {part.unit}.")))
    if verdict.status in (Status.ERROR, Status.MISSING, Status.TIMEOUT) or not verdict.failures:
        blocks.append(("li", _text("What happened: ", code(verdict.message))))
    shown = 5
    for failure in verdict.failures[:shown]:
        count = failure["count"]
        unit = part.unit.split(" (")[0].rstrip("s") + ("s" if count != 1 else "")
        seen = [code(failure["case"], 160)] + ([("text", ": "), code(failure["detail"], 300)] if failure.get("detail") else [])
        blocks.append(("li", _text(("strong", "Failure"), f" ({count} {unit}): ", code(failure["cause"]), "; first: ", *seen)))
    if len(verdict.failures) > shown:
        blocks.append(("li", _text(f"and {len(verdict.failures) - shown} more distinct failure(s): the notebook's check "
                                   "lists them all")))
    blocks += [("li", _text("Note: ", code(note))) for note in verdict.notes]
    if verdict.failures:
        snippet = part.reproduction(verdict.failures[0])
        if snippet:
            blocks += [("p", _text("To see the first failure again, run in your notebook:")), ("pre", "python", snippet)]
    return blocks


def part_markdown(result, part, points=None, proportional=False):
    """One part's feedback as Markdown (check --part, Gradescope's test output)."""
    earned = points_of(result, points, proportional) if points else None
    return markdown(_part_blocks(part, result.verdicts[part.key], earned, points))


def deliverable_lines(facts):
    """[segments] per line: what was handed in, as a TA checks it."""
    if facts is None:
        return [_text("The deliverables could not be checked (the sandbox ended first).")]
    lines = []
    for name, notebook in facts["notebooks"].items():
        if notebook.get("too_large"):
            lines.append(_text(f"{name}: ", ("strong", "handed in, but too large to grade"),
                               f" ({notebook['too_large'] / 2**20:.0f} MiB; the grader reads notebooks of at most "
                               f"{notebook['limit'] >> 20} MiB): clear large outputs and hand it in again."))
        elif not notebook["present"]:
            lines.append(_text(f"{name}: not submitted."))
        elif notebook["run"]:
            lines.append(_text(f"{name}: run, outputs visible", *(["; note: ", code(notebook["note"]), "."] if notebook["note"] else ["."])))
        else:
            lines.append(_text(f"{name}: ", ("strong", "not run as handed in"), ": ", code(notebook["why"]),
                               ". The handout asks for notebooks already run, outputs visible."))
    bp_tests = facts["notebooks"].get("backpropagation.ipynb", {}).get("tests", [0, 0])
    if bp_tests[1]:
        lines.append(_text(f"The course's test cells showing their passing banner: {bp_tests[0]} / {bp_tests[1]}."))
    report = facts["report"]
    if not report["found"]:
        lines.append(_text("Report: ", ("strong", "no PDF report found"), "; the handout asks for one (not a notebook export)."))
    elif not report["readable"]:
        lines.append(_text("Report ", code(report["file"]), ": ", ("strong", "cannot be read"), ": ", code(report["why"]), "."))
    else:
        missing = [f"({a})" for a in deliverables.ANSWERS if a not in report["answers"]]
        answers = ("; answers found for every question (a)-(g)" if not missing else f"; no answer found for {', '.join(missing)}")
        lines.append(_text("Report ", code(report["file"]), f": {report['pages']} page(s)",
                           *(["; ", ("strong", "it looks like a notebook export"), ", which the handout does not accept as the report"]
                             if report["export"] else []),
                           # an untouched template has every heading and no answer: said once, not as answers found
                           *(["; ", ("strong", "it still holds the template's \"Replace this\" lines"), ": write your answers in "
                              "their place"] if report.get("template") else [answers]),
                           *(["; division-of-labour paragraph found."] if report["labour"] else ["; ", ("strong", "no division-of-labour paragraph found"), "."])))
    readme = facts["readme"]
    if readme["needed"] and not readme["present"]:
        lines.append(_text("Other files are submitted but there is no README.txt saying what they are."))
    elif readme["needed"] and readme["unnamed"]:
        names = [segment for f in readme["unnamed"][:5] for segment in (code(f, 80), ("text", ", "))][:-1]
        more = f" and {len(readme['unnamed']) - 5} more" if len(readme["unnamed"]) > 5 else ""
        lines.append(_text("README.txt does not name ", *names, more, "."))
    return lines


# --- rendering ----------------------------------------------------------------------------------------------

def markdown(blocks):
    """The document as Markdown: code segments as code spans (harness.classroom.quoting)."""
    def line(segments):
        return "".join(f"**{t}**" if kind == "strong" else code_span(t, None) if kind == "code"
                       else markdown_text(t) if kind == "name" else t for kind, t in segments)

    out = []
    for i, block in enumerate(blocks):
        if i and not (block[0] == "li" and blocks[i - 1][0] == "li"):
            out.append("")  # a blank line between blocks: a heading or paragraph after a list is not part of it
        if block[0] == "h":
            out.append("#" * block[1] + " " + line(block[2]))
        elif block[0] == "p":
            out.append(line(block[1]))
        elif block[0] == "li":
            out.append("- " + line(block[1]))
        else:
            out.append(fenced(block[2], block[1]))
    return "\n".join(out).strip() + "\n"


def _typst_string(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'


def typst_source(blocks, title="Feedback"):
    """The document as Typst, every text a string literal (no markup of a submission's can start)."""
    def content(segments):
        parts = {"text": "text({})", "strong": "strong({})", "code": "raw({})", "name": "text({})"}
        return " + ".join("[#" + parts[kind].format(_typst_string(t)) + "]" for kind, t in segments) or "[]"

    out = [f"#set document(title: {_typst_string(title)})", '#set page(paper: "a4", margin: 2cm)',
           '#set text(size: 10pt, lang: "en")', "#show raw: set text(size: 9pt)"]
    for block in blocks:
        if block[0] == "h":
            out.append(f"#heading(level: {block[1]}, {content(block[2])})")
        elif block[0] == "p":
            out.append(f"#par({content(block[1])})")
        elif block[0] == "li":
            out.append(f"#list({content(block[1])})")
        else:
            out.append(f"#block(fill: luma(245), inset: 6pt, width: 100%, raw(block: true, lang: {_typst_string(block[1])}, "
                       f"{_typst_string(chr(10).join(printable(l, 500) for l in block[2].splitlines()))}))")
    return "\n".join(out) + "\n"


def feedback_markdown(result, points=None, proportional=False, parts=PARTS, manual=None):
    """The Markdown feedback of one student (or one submission)."""
    return markdown(feedback_document(result, points, proportional, parts, manual))


def feedback_pdf(result, points=None, proportional=False, parts=PARTS, manual=None):
    """The PDF feedback of one student: the same document, compiled by Typst (offline, no system fonts)."""
    return pdf_of(feedback_document(result, points, proportional, parts, manual))


def pdf_of(blocks):
    import typst

    return typst.compile(typst_source(blocks).encode("utf-8"), ignore_system_fonts=True, timestamp=0)


def feedback_stem(result):
    """What a student's feedback file is named after: the name as the roster has it and the user id."""
    who = result.display_name or result.name
    return f"{who}_{result.student_id}" if result.student_id and result.display_name else who


REUPLOAD = "canvas_reupload.zip"


def reupload_name(result):
    """The feedback PDF's name in Canvas's re-upload zip: as the download named the submission's files,
    <name>[_LATE]_<user id>_<attachment id>_feedback.pdf, with this student's user id (Canvas reads the
    first two numbers: the student, and a file of the submission it attaches the comment to)."""
    return f"{result.download_prefix}_{result.student_id}_{result.attachment_id}_feedback.pdf"


def write_feedback(results, folder, points=None, proportional=False, parts=PARTS, manual=None, pdf=True):
    """One <name>_<user id>.md per student in folder (names escaped, transliterated and unique) and,
    with pdf, REUPLOAD: each feedback as a PDF named for Canvas's "Re-Upload Submissions", for every
    student who handed in through Canvas's download. Returns ({result index: path}, [problems]): a file
    that cannot be written is a problem, not the end of the others'."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stems = file_names([feedback_stem(result) for result in results])
    paths, problems, pdfs = {}, [], {}
    for i, result in enumerate(results):
        path = folder / f"{stems[feedback_stem(result)]}.md"
        try:
            document = feedback_document(result, points, proportional, parts, manual)  # one document, two renderings
            path.write_text(markdown(document), encoding="utf-8")
            paths[i] = path
            if pdf and result.handed_in and result.attachment_id and result.student_id:
                pdfs[reupload_name(result)] = pdf_of(document)
        except Exception as error:  # noqa: BLE001 - one student's file never costs the others theirs
            problems.append(f"feedback of {printable(feedback_stem(result), 80)} not written ({type(error).__name__}: {printable(error, 200)})")
    if pdfs:
        try:
            with zipfile.ZipFile(folder / REUPLOAD, "w", zipfile.ZIP_DEFLATED) as archive:
                for name, data in sorted(pdfs.items()):  # no clock in it: the same feedback makes the same zip
                    archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
        except OSError as error:
            problems.append(f"{folder / REUPLOAD} not written ({error.strerror or error})")
    return paths, problems


def print_table(results, parts=PARTS, out=None):
    """One row per submission, then every part that did not pass with its message; names and messages
    printable (no escape sequence of a submission reaches the terminal)."""
    out = out or sys.stdout
    names = {id(result): printable(feedback_stem(result), 60) for result in results}
    width = max([len("submission")] + [len(name) for name in names.values()])
    widths = {part.key: max(len(part.key), 7) for part in parts}
    print(f"{'submission':{width}s}  " + "  ".join(f"{part.key:{widths[part.key]}s}" for part in parts) + f"  {'seconds':>7s}", file=out)
    for result in results:
        statuses = "  ".join(f"{result.verdicts[part.key].status.value:{widths[part.key]}s}" for part in parts)
        print(f"{names[id(result)]:{width}s}  {statuses}  {result.seconds:7.1f}", file=out)
    for result in results:
        for part in parts:
            verdict = result.verdicts[part.key]
            if verdict.status is not Status.PASS:
                print(f"- {names[id(result)]} / {part.key}: {verdict.status.value}: {printable(verdict.message, 600)}", file=out)
