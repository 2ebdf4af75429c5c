"""What goes back to students and into the gradebook: a Markdown file per submission, a table on the
terminal, one CSV row each.

Feedback names, per part, the status, what passed, the distinct failures with their causes, and a few
lines the student can paste into their notebook to reproduce the first failing case. Only the grader
writes headings and verdict lines; every text that a submission could have shaped (its name, its
exceptions' messages, the notes on its notebook) is quoted as data (harness.grading.quoting).
Points follow a rubric (default: each part's points): all or nothing per part, or in proportion to
the cases or settings passed.
"""

import csv
import sys
from pathlib import Path

from harness.grading.parts import PARTS
from harness.grading.quoting import code_span, csv_cell, fenced, file_names, printable
from harness.status import Status


def default_points(parts=PARTS):
    return {part.key: part.points for part in parts}


def parse_points(text, parts=PARTS):
    """"backpropagation=60,sgd=40" -> {"backpropagation": 60.0, "sgd": 40.0}; ValueError says what is wrong."""
    keys = [part.key for part in parts]
    points = {}
    for item in text.split(","):
        key, _, value = item.partition("=")
        key = key.strip()
        if key not in keys:
            raise ValueError(f"--points names an unknown part {key!r}; the parts are {', '.join(keys)}")
        try:
            points[key] = float(value)
        except ValueError:
            raise ValueError(f"--points gives {key} the value {value!r}, which is not a number") from None
        if points[key] < 0:
            raise ValueError(f"--points gives {key} a negative value")
    return {**{key: 0.0 for key in keys}, **points}


def points_of(result, points, proportional=False, parts=PARTS):
    """{part key: points earned} for one submission's result."""
    earned = {}
    for part in parts:
        verdict = result.verdicts[part.key]
        if verdict.status is Status.PASS:
            earned[part.key] = points[part.key]
        elif proportional and verdict.status is Status.FAIL and verdict.total:
            earned[part.key] = round(points[part.key] * verdict.passed / verdict.total, 2)
        else:
            earned[part.key] = 0.0
    return earned


def write_gradebook(results, path, points, proportional=False, parts=PARTS):
    """One row per submission: statuses, cases passed, points; the submission's name first."""
    header = ["submission"]
    for part in parts:
        header += [part.key, f"{part.key} passed"]
    header += [f"{part.key} points" for part in parts] + ["total points", "seconds"]
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        for result in results:
            earned = points_of(result, points, proportional, parts)
            row = [result.name]
            for part in parts:
                verdict = result.verdicts[part.key]
                row += [verdict.status.value, f"{verdict.passed} / {verdict.total}" if verdict.total is not None else ""]
            row += [earned[part.key] for part in parts] + [round(sum(earned.values()), 2), result.seconds]
            writer.writerow([csv_cell(value) for value in row])


def feedback_markdown(result, points=None, proportional=False, parts=PARTS):
    """The feedback file of one submission."""
    lines = [f"# Feedback: {code_span(result.name, 120)}", ""]
    earned = points_of(result, points, proportional, parts) if points else None
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


def write_feedback(results, folder, points=None, proportional=False, parts=PARTS):
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
            path.write_text(feedback_markdown(result, points, proportional, parts), encoding="utf-8")
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
