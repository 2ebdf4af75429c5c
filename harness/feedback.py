"""What goes back to students and into the gradebook: a Markdown file per submission, one CSV row each.

Feedback names, per part, the status, what passed, the distinct failures with their causes, and a few
lines the student can paste into their notebook to reproduce the first failing case.
Points follow a rubric (default backpropagation=60, sgd=40): all or nothing per part, or in
proportion to the cases (backpropagation) or course settings (SGD) passed.
"""

import csv
import re
from pathlib import Path

from harness.sandbox import PARTS as SANDBOX_PARTS

PARTS = {key: (notebook, function) for key, notebook, function in SANDBOX_PARTS}
DEFAULT_POINTS = {"backpropagation": 60.0, "sgd": 40.0}


def parse_points(text):
    """"backpropagation=60,sgd=40" -> {"backpropagation": 60.0, "sgd": 40.0}; ValueError says what is wrong."""
    points = {}
    for item in text.split(","):
        part, _, value = item.partition("=")
        part = part.strip()
        if part not in PARTS:
            raise ValueError(f"--points names an unknown part {part!r}; the parts are {', '.join(PARTS)}")
        try:
            points[part] = float(value)
        except ValueError:
            raise ValueError(f"--points gives {part} the value {value!r}, which is not a number") from None
        if points[part] < 0:
            raise ValueError(f"--points gives {part} a negative value")
    return {**{part: 0.0 for part in PARTS}, **points}


def points_of(verdict, points, proportional=False):
    """{part: points earned} for one submission's verdict entry."""
    earned = {}
    for part in PARTS:
        entry = verdict[part]
        if entry["status"] == "pass":
            earned[part] = points[part]
        elif proportional and entry["status"] == "fail" and entry.get("total"):
            earned[part] = round(points[part] * entry["passed"] / entry["total"], 2)
        else:
            earned[part] = 0.0
    return earned


def write_gradebook(verdicts, path, points=DEFAULT_POINTS, proportional=False):
    """One row per submission: statuses, cases passed, points; the submission's name first."""
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["submission", "backpropagation", "backpropagation passed", "sgd", "sgd passed",
                         "backpropagation points", "sgd points", "total points", "seconds"])
        for verdict in verdicts:
            earned = points_of(verdict, points, proportional)
            passed = {part: f"{verdict[part]['passed']} / {verdict[part]['total']}" if "total" in verdict[part] else ""
                      for part in PARTS}
            writer.writerow([verdict["submission"], verdict["backpropagation"]["status"], passed["backpropagation"],
                             verdict["sgd"]["status"], passed["sgd"], earned["backpropagation"], earned["sgd"],
                             round(sum(earned.values()), 2), verdict["seconds"]])


def reproduction(part, failure):
    """Lines a student pastes into their notebook to see the first failing case again."""
    if part == "backpropagation":
        return "\n".join([
            "from harness.cases import gradient_cases",
            "from harness.gradients import check_case",
            "",
            f"case = next(c for c in gradient_cases() if c.name == {failure['case']!r})",
            "print('widths', case.n_l, '| activation', case.activation, '| weights seed', case.seed, '| batch', case.batch)",
            "for failure in check_case(backpropagation, case).failures:",
            "    print(failure)",
        ])
    config = failure.get("config")
    if config is None:
        return None
    return "\n".join([
        "from tests_backpropagation import check_sgd_equivalence",
        "",
        f"check_sgd_equivalence(train_manual_update, configs=[{config!r}])  # epochs 3, seed 0, as graded",
    ])


def feedback_markdown(verdict, points=None, proportional=False):
    """The feedback file of one submission."""
    lines = [f"# Feedback: {verdict['submission']}", ""]
    earned = points_of(verdict, points, proportional) if points else None
    for part, (notebook, function) in PARTS.items():
        entry = verdict[part]
        score = f" ({earned[part]:g} / {points[part]:g} points)" if earned else ""
        lines += [f"## `{function}` in {notebook}: {entry['status']}{score}", ""]
        if "total" in entry:
            lines.append(f"- Passed: {entry['passed']} / {entry['total']} {'cases (one sample each)' if part == 'backpropagation' else 'course settings (learning rate, weight decay, momentum, both)'}.")
        if entry["status"] in ("error", "missing", "timeout") or not entry.get("failures"):
            lines.append(f"- {entry['message']}")
        unit = "case" if part == "backpropagation" else "setting"
        for failure in entry.get("failures", [])[:5]:
            seen = f"{failure['case']}: {failure['detail']}" if failure.get("detail") else failure["case"]
            lines.append(f"- **{failure['cause']}** ({failure['count']} {unit}{'s' if failure['count'] != 1 else ''}); first: {seen}")
        for name, distinction in entry.get("distinctions", {}).items():
            detail = f": {distinction['detail']}" if distinction.get("detail") else ""
            name = name.replace(" (beyond the course)", "")
            lines.append(f"- Beyond the course, {name}: {'yes' if distinction['yes'] else 'no'}{detail[:300]}")
        for note in entry.get("notes", []):
            lines.append(f"- Note: {note}")
        if entry.get("failures"):
            snippet = reproduction(part, entry["failures"][0])
            if snippet:
                lines += ["", "To see the first failure again, run in your notebook:", "", "```python", snippet, "```"]
        lines.append("")
    return "\n".join(lines)


def safe_file_name(name):
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "submission"


def write_feedback(verdicts, folder, points=None, proportional=False):
    """One <submission>.md per submission in folder; returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for verdict in verdicts:
        path = folder / f"{safe_file_name(verdict['submission'])}.md"
        path.write_text(feedback_markdown(verdict, points, proportional), encoding="utf-8")
        paths.append(path)
    return paths
