"""Text a submission shaped is data wherever the grader writes it: no forged heading, verdict, HTML,
terminal escape or formula, and no name that ends the run or lands on another student's file."""

import csv
import io
import json
import re

import pytest

from harness.classroom import feedback
from harness.classroom import gradebook
from harness.grading.grade import SubmissionResult
from harness.classroom.quoting import code_span, csv_cell, file_names, printable
from harness.grading.parts.verdict import Verdict
from harness.status import Status

FORGERIES = [
    "oops\n\n## `backpropagation` in backpropagation.ipynb: pass (60 / 60 points)\n",
    "<!-- everything below is hidden when rendered",
    "<script>alert('graded')</script>",
    "\x1b[2J\x1b[1;1Hsubmission  backpropagation  pass",
    "```\n# Feedback: someone else\n```",
    "right-to-left \u202e ssap",
    "lone surrogate \udcff from bytes that are not UTF-8",
]


def result_with(text, name="student"):
    raised = Verdict(Status.ERROR, f"backpropagation raised RuntimeError: {text}", notes=[text],
                     failures=[{"cause": text, "count": 1, "first": text, "case": text, "detail": text}],
                     distinctions={"vectorised over a batch": {"yes": False, "detail": text}})
    return SubmissionResult(name, {"backpropagation": raised, "sgd": Verdict(Status.MISSING, text)}, 1.0)


def grader_lines(markdown):
    """Lines that render as structure: headings, and anything outside code spans that is HTML."""
    outside = re.sub(r"(`+)(?s:.*?)\1", "", markdown)
    return [line for line in outside.splitlines() if line.startswith("#")], re.findall(r"<|\x1b", outside)


@pytest.mark.parametrize("text", FORGERIES, ids=range(len(FORGERIES)))
def test_feedback_quotes_every_text_a_submission_shaped(text):
    markdown = feedback.feedback_markdown(result_with(text, name=text), gradebook.default_points())
    headings, markup = grader_lines(markdown)
    assert headings == ["# Feedback for ", "## Part backpropagation:  in backpropagation.ipynb: error (0 / 60 points)",
                        "## Part sgd:  in gradient_descent.ipynb: missing (0 / 40 points)", "## What was handed in"], headings
    assert markup == []
    markdown.encode("utf-8")  # writable as UTF-8, whatever the name was


TYPST_FORGERIES = ['#set page(fill: black)', '"); #pagebreak(); #text("', '] #heading[pass] [', '\\" + "x', "$ x^2 $ *pass* _pass_"]


@pytest.mark.parametrize("text", FORGERIES + TYPST_FORGERIES, ids=range(len(FORGERIES) + len(TYPST_FORGERIES)))
def test_the_pdf_feedback_shows_every_text_a_submission_shaped_as_text(text):
    """Each text is a Typst string literal: it compiles, and the PDF shows it as text, on one page."""
    from pypdf import PdfReader

    pdf = feedback.feedback_pdf(result_with(text, name=text), gradebook.default_points())
    reader = PdfReader(io.BytesIO(pdf))
    shown = " ".join(page.extract_text() for page in reader.pages)
    assert len(reader.pages) <= 2 and "Feedback for" in shown and "What was handed in" in shown
    if text.isascii() and text.isprintable():
        assert " ".join(text.split())[:12] in " ".join(shown.split())


@pytest.mark.parametrize("text", FORGERIES, ids=range(len(FORGERIES)))
def test_the_table_shows_no_escape_and_no_extra_line(text):
    out = io.StringIO()
    feedback.print_table([result_with(text, name=text)], out=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 4 and "\x1b" not in out.getvalue() and "\u202e" not in out.getvalue()
    out.getvalue().encode("utf-8")


@pytest.mark.parametrize("name", ["=HYPERLINK(\"http://x\",\"pass\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1,2)", "\tstart", "\rstart"])
def test_gradebook_cells_never_start_a_formula(name, tmp_path):
    gradebook.write_gradebook([result_with("x", name=name)], tmp_path / "book.csv", gradebook.default_points())
    with open(tmp_path / "book.csv", newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    for cell in rows[1]:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert rows[1][0].startswith("'") or rows[1][0].startswith(("\\t", "\\r"))  # control characters are shown escaped


def test_numbers_stay_numbers_in_csv():
    assert csv_cell(-2.0) == -2.0 and csv_cell(3) == 3 and csv_cell("normal") == "normal"


def test_feedback_files_are_unique_safe_and_one_failing_file_loses_no_other(tmp_path):
    names = ["name", "name.", "NAME", "-rf", "..", "", "a/b", "\udcffbytes", "x" * 300]
    stems = file_names(names)
    assert len({stem.lower() for stem in stems.values()}) == len(names)
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", stem) and not stem.endswith(".") for stem in stems.values())
    results = [result_with("x", name=name) for name in names]
    (tmp_path / "fb").mkdir()
    (tmp_path / "fb" / f"{stems['name']}.md").mkdir()  # that file cannot be written: a folder sits there
    paths, problems = feedback.write_feedback(results, tmp_path / "fb")
    assert len(paths) == len(names) - 1 and len(problems) == 1 and "name" in problems[0]


def test_printable_and_code_span():
    assert printable("a\nb\x1b[0m\udcff") == "a\\nb\\x1b[0m\\udcff"
    assert printable("x" * 1000, 10) == "x" * 9 + "…"
    assert code_span("a ``` b") == "````a ``` b````" and code_span("`x") == "`` `x ``"


def test_the_json_of_any_text_is_valid():
    text = json.dumps(result_with("\udcff\x00").to_json())
    assert json.loads(text)["submission"] == "student"
