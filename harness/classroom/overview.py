"""The lecturer's view of a class, one HTML page readable without the terminal: how points are spread,
each part's pass rate, the mistakes by cause across the class (what to take into the next lecture),
the deliverables missing, lateness, and the pairs whose code is alike.

Figures are drawn with matplotlib and embedded in the page (one file to open or mail). Every text a
submission shaped (causes quote exception messages, names) is escaped.
"""

import base64
import html
import io
from collections import Counter

from harness.classroom.gradebook import total_of
from harness.grading.parts import PARTS
from harness.status import Status


def _figure(draw, width=5.0, height=2.6):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(width, height), dpi=110)
    draw(axes)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return f'<img alt="" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def class_facts(students, points, proportional=False, parts=PARTS):
    """What the overview shows, as data (tested without rendering): totals, pass rates, causes, deliverables, lateness."""
    handed_in = [s for s in students if s.handed_in]
    submissions = {}
    for student in handed_in:  # a pair's submission counts once in the causes
        submissions.setdefault((student.name, student.group), student)
    causes = {part.key: Counter() for part in parts}
    for submission in submissions.values():
        for part in parts:
            for cause in {failure["cause"] for failure in submission.verdicts[part.key].failures}:
                causes[part.key][cause] += 1
            verdict = submission.verdicts[part.key]
            if verdict.status in (Status.ERROR, Status.MISSING, Status.TIMEOUT):
                causes[part.key][f"{verdict.status.value}: {verdict.message[:120]}"] += 1
    deliverable = Counter()
    for submission in submissions.values():
        facts = submission.deliverables
        if facts is None:
            deliverable["deliverables not checked"] += 1
            continue
        for name, notebook in facts["notebooks"].items():
            what = f"{name} too large to grade" if notebook.get("too_large") else f"{name} missing" if not notebook["present"] \
                else f"{name} not run"
            deliverable[what] += not (notebook["present"] and notebook["run"])
        report = facts["report"]
        deliverable["no readable PDF report"] += not (report["found"] and report["readable"])
        deliverable["report looks like a notebook export"] += bool(report.get("export"))
        deliverable["no division-of-labour paragraph"] += bool(report["readable"] and not report["labour"])
        deliverable["an answer of (a)-(g) not found"] += bool(report["readable"] and len(report["answers"]) < 7)
    return {"students": len(students), "handed in": len(handed_in), "submissions": len(submissions),
            "totals": [total_of(s, points, proportional, parts) for s in handed_in],
            "pass rates": {part.key: sum(s.verdicts[part.key].status is Status.PASS for s in submissions.values()) for part in parts},
            "causes": {key: counter.most_common() for key, counter in causes.items()},
            "deliverables": {what: n for what, n in deliverable.most_common() if n},
            "late": sum(bool(s.penalty) for s in submissions.values()),
            "penalties": sorted(s.penalty for s in submissions.values() if s.penalty)}


def overview_html(students, points, pairs=(), proportional=False, parts=PARTS, title="INF265 Project 1", similarity_report=None):
    """The page, as a string."""
    facts = class_facts(students, points, proportional, parts)
    e = html.escape
    n = max(facts["submissions"], 1)
    possible = sum(points.values())
    out = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{e(title)}: the class</title>",
           "<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto;line-height:1.4}"
           "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}"
           "td.n{text-align:right}</style></head><body>",
           f"<h1>{e(title)}: the class</h1>",
           f"<p>{facts['handed in']} of {facts['students']} students handed in, in {facts['submissions']} submissions; "
           f"{facts['late']} submission(s) late.</p>", "<h2>Points</h2>"]
    if facts["totals"]:
        out.append(_figure(lambda ax: (ax.hist(facts["totals"], bins=20, range=(0, max(possible, max(facts["totals"]))), color="#4c72b0"),
                                       ax.set_title("Total points per student"), ax.set_xlabel("points"),
                                       ax.set_ylabel("students"))))
    out.append("<h2>Each part's pass rate</h2><table><tr><th>part</th><th>passed</th><th>of</th><th>rate</th></tr>")
    for part in parts:
        passed = facts["pass rates"][part.key]
        out.append(f"<tr><td>{e(part.function)}</td><td class=n>{passed}</td><td class=n>{facts['submissions']}</td>"
                   f"<td class=n>{passed / n:.0%}</td></tr>")
    out.append("</table><h2>Mistakes by cause</h2>")
    for part in parts:
        causes = facts["causes"][part.key]
        out.append(f"<h3>{e(part.function)}</h3>")
        if not causes:
            out.append("<p>No submission failed this part.</p>")
            continue
        out.append("<table><tr><th>submissions</th><th>cause</th></tr>")
        out += [f"<tr><td class=n>{count} of {facts['submissions']}</td><td>{e(cause)}</td></tr>" for cause, count in causes[:15]]
        out.append("</table>")
    out.append("<h2>Deliverables missing</h2>")
    if facts["deliverables"]:
        out.append("<table><tr><th>submissions</th><th>what</th></tr>")
        out += [f"<tr><td class=n>{count} of {facts['submissions']}</td><td>{e(what)}</td></tr>" for what, count in facts["deliverables"].items()]
        out.append("</table>")
    else:
        out.append("<p>Every submission handed in everything the handout asks for.</p>")
    out.append(f"<h2>Lateness</h2><p>{facts['late']} submission(s) late"
               + (f"; penalties {', '.join(f'{p:g}' for p in facts['penalties'])} points" if facts["penalties"] else "") + ".</p>")
    out.append("<h2>Similar code</h2>")
    if pairs:
        link = f" (<a href='{e(str(similarity_report))}'>the shared code, highlighted</a>)" if similarity_report else ""
        out.append(f"<p>Pairs above the threshold{link}; partners of one group are never compared.</p>"
                   "<table><tr><th>similarity</th><th>submission</th><th>and</th></tr>")
        out += [f"<tr><td class=n>{p['similarity']:.2f}</td><td>{e(p['a'])}</td><td>{e(p['b'])}</td></tr>" for p in pairs]
        out.append("</table>")
    else:
        out.append("<p>No pair above the threshold (or the check was not run: <code>--similarity</code>).</p>")
    out.append("</body></html>")
    return "\n".join(out)
