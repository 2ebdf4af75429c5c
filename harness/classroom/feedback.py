"""What goes back to students and into the gradebook: a Markdown file per submission, a table on the
terminal, one CSV row each.

Feedback names, per part, the status, what passed, the distinct failures with their causes, and a few
lines the student can paste into their notebook to reproduce the first failing case. Only the grader
writes headings and verdict lines; every text that a submission could have shaped (its name, its
exceptions' messages, the notes on its notebook) is quoted as data (harness.classroom.quoting).
Points, marks and penalties are harness.classroom.gradebook's.
"""

import sys
from pathlib import Path

from harness.classroom.gradebook import points_of, total_of
from harness.classroom.quoting import code_span, fenced, file_names, printable
from harness.grading.parts import PARTS
from harness.grading.parts import deliverables
from harness.status import Status


def feedback_markdown(result, points=None, proportional=False, parts=PARTS, manual=None):
    """The feedback file of one submission."""
    lines = [f"# Feedback: {code_span(result.name, 120)}", ""]
    earned = points_of(result, points, proportional, parts) if points else None
    if points:
        lines += [f"Total: {total_of(result, points, proportional, parts):g} points"
                  f" (graded parts {sum(earned.values()):g} / {sum(points[p.key] for p in parts):g}"
                  + "".join(f", {name} {result.marks[name]:g} / {maximum:g}" for name, maximum in (manual or {}).items() if name in result.marks)
                  + (f", late penalty -{result.penalty:g}" if result.penalty else "") + ").", ""]
    if result.lateness and result.lateness != "on time":
        lines += [f"- Submitted {result.lateness}: {result.penalty:g} points off, by the handout's rule.", ""]
    if result.comment:
        lines += ["From your teaching assistant:", "", fenced(result.comment, "text"), ""]
    lines += ["## What was handed in", ""] + deliverable_lines(result.deliverables)
    lines += [f"- Note: {code_span(note)}" for note in result.notes] + [""]
    for part in parts:
        verdict = result.verdicts[part.key]
        score = f" ({earned[part.key]:g} / {points[part.key]:g} points)" if earned else ""
        lines += [f"## `{part.function}` in {part.notebook}: {verdict.status.value}{score}", ""]
        if verdict.total is not None:
            lines.append(f"- Passed: {verdict.passed} / {verdict.total} {part.unit}.")
        if verdict.status in (Status.ERROR, Status.MISSING, Status.TIMEOUT) or not verdict.failures:
            lines.append(f"- What happened: {code_span(verdict.message, 600)}")
        for failure in verdict.failures[:5]:
            count = failure["count"]
            unit = part.unit.split(" (")[0].rstrip("s") + ("s" if count != 1 else "")
            seen = code_span(failure["case"], 160) + (f": {code_span(failure['detail'], 300)}" if failure.get("detail") else "")
            lines.append(f"- **Failure** ({count} {unit}): {code_span(failure['cause'])}; first: {seen}")
        for name, distinction in verdict.distinctions.items():
            detail = f": {code_span(distinction['detail'], 300)}" if distinction.get("detail") else ""
            lines.append(f"- Beyond the course, {printable(name.replace(' (beyond the course)', ''), 80)}: "
                         f"{'yes' if distinction['yes'] else 'no'}{detail}")
        for note in verdict.notes:
            lines.append(f"- Note: {code_span(note)}")
        if verdict.failures:
            snippet = part.reproduction(verdict.failures[0])
            if snippet:
                lines += ["", "To see the first failure again, run in your notebook:", "", fenced(snippet, "python")]
        lines.append("")
    return "\n".join(lines)


def write_feedback(results, folder, points=None, proportional=False, parts=PARTS, manual=None):
    """One <submission>.md per submission in folder (names escaped and unique); returns
    ({submission name: path}, [problems]): a submission whose file cannot be written is a problem,
    not the end of the others'."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stems = file_names([result.name for result in results])
    paths, problems = {}, []
    for result in results:
        path = folder / f"{stems[result.name]}.md"
        try:
            path.write_text(feedback_markdown(result, points, proportional, parts, manual), encoding="utf-8")
            paths[result.name] = path
        except (OSError, ValueError) as error:
            problems.append(f"feedback of {printable(result.name, 80)} not written ({type(error).__name__}: {printable(error, 200)})")
    return paths, problems


def print_table(results, parts=PARTS, out=None):
    """One row per submission, then every part that did not pass with its message; names and messages
    printable (no escape sequence of a submission reaches the terminal)."""
    out = out or sys.stdout
    names = {result.name: printable(result.name, 60) for result in results}
    width = max([len("submission")] + [len(name) for name in names.values()])
    widths = {part.key: max(len(part.key), 7) for part in parts}
    print(f"{'submission':{width}s}  " + "  ".join(f"{part.key:{widths[part.key]}s}" for part in parts) + f"  {'seconds':>7s}", file=out)
    for result in results:
        statuses = "  ".join(f"{result.verdicts[part.key].status.value:{widths[part.key]}s}" for part in parts)
        print(f"{names[result.name]:{width}s}  {statuses}  {result.seconds:7.1f}", file=out)
    for result in results:
        for part in parts:
            verdict = result.verdicts[part.key]
            if verdict.status is not Status.PASS:
                print(f"- {names[result.name]} / {part.key}: {verdict.status.value}: {printable(verdict.message, 600)}", file=out)


def deliverable_lines(facts):
    """Markdown lines (the grader's words; file names come back quoted by the caller)."""

    if facts is None:
        return ["- The deliverables could not be checked (the sandbox ended first)."]
    lines = []
    for name, notebook in facts["notebooks"].items():
        if not notebook["present"]:
            lines.append(f"- {name}: not submitted.")
        elif notebook["run"]:
            lines.append(f"- {name}: run, outputs visible" + (f"; note: {code_span(notebook['note'])}." if notebook["note"] else "."))
        else:
            lines.append(f"- {name}: **not run as handed in**: {code_span(notebook['why'])}. The handout asks for notebooks already run, outputs visible.")
    bp_tests = facts["notebooks"]["backpropagation.ipynb"]["tests"]
    if bp_tests[1]:
        lines.append(f"- The course's test cells showing their passing banner: {bp_tests[0]} / {bp_tests[1]}.")
    report = facts["report"]
    if not report["found"]:
        lines.append("- Report: **no PDF report found**; the handout asks for one (not a notebook export).")
    elif not report["readable"]:
        lines.append(f"- Report {code_span(report['file'])}: **cannot be read**: {code_span(report['why'])}.")
    else:
        missing = [f"({a})" for a in deliverables.ANSWERS if a not in report["answers"]]
        lines.append(f"- Report {code_span(report['file'])}: {report['pages']} page(s)"
                     + ("; **it looks like a notebook export**, which the handout does not accept as the report" if report["export"] else "")
                     + (f"; answers found for every question (a)-(g)" if not missing else f"; no answer found for {', '.join(missing)}")
                     + ("; division-of-labour paragraph found." if report["labour"] else "; **no division-of-labour paragraph found**."))
    readme = facts["readme"]
    if readme["needed"] and not readme["present"]:
        lines.append("- Other files are submitted but there is no README.txt saying what they are.")
    elif readme["needed"] and readme["unnamed"]:
        lines.append(f"- README.txt does not name {', '.join(code_span(f, 80) for f in readme['unnamed'][:5])}.")
    return lines
