"""The deliverables, as a TA checks them before reading: notebooks run, the course's tests passing, a
PDF report (not a notebook export) with (a)-(g) and a division-of-labour paragraph, a README.txt that
names the other files. Broken and hostile PDFs are an answer, never a crash."""

import json
import zlib

import nbformat
import pytest

from harness.classroom.feedback import deliverable_lines
from harness.classroom.gradebook import deliverable_columns
from harness.grading.parts import deliverables
from tests.fixtures import reports
from tests.fixtures import submissions as S


def notebook(*cells, run=True, outputs=True):
    nb = nbformat.v4.new_notebook()
    for i, (source, output) in enumerate(cells, start=1):
        cell = nbformat.v4.new_code_cell(source, execution_count=i if run else None)
        if outputs and output is not None:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=output)]
        nb.cells.append(cell)
    return nbformat.writes(nb)


def facts_of(tmp_path, files):
    folder = tmp_path / "submission"
    folder.mkdir(parents=True)
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return deliverables.decode(json.loads(json.dumps(deliverables.inspect(str(folder)))))


COURSE_CELLS = [("import torch", None), ("main_test(backpropagation, MyNet([2, 3, 2]), verbose=False, data='toy')", "4 / 4: ALL TEST PASSED :)"),
                ("main_test(backpropagation, MyNet([576, 16, 10]), data='mnist')", "2 / 4: SOME TESTS FAILED")]


def test_a_complete_submission(tmp_path):
    facts = facts_of(tmp_path, {"backpropagation.ipynb": notebook(*COURSE_CELLS), "gradient_descent.ipynb": notebook(("x = 1", "1")),
                                "report.pdf": reports.pdf(reports.GOOD)})
    assert deliverable_columns(facts) == {
        "backpropagation.ipynb run": "yes", "course tests passing": "1 / 2", "gradient_descent.ipynb run": "yes", "report": "ok",
        "report answers (a)-(g)": "7 / 7", "division of labour": "yes", "README.txt": "not needed"}


@pytest.mark.parametrize("text, why", [
    (notebook(("x = 1", "1"), ("y = 2", "2"), run=False, outputs=False), "2 of 2 code cells never ran"),
    (notebook(("x = 1", None), ("y = 2", None)), "no cell shows an output"),
    ("{not a notebook", "not a valid notebook"),
    ('{"cells": ' + "[" * 100_000 + "]" * 100_000 + "}", "not a valid notebook"),
])
def test_a_notebook_not_run_as_handed_in_says_why(tmp_path, text, why):
    facts = facts_of(tmp_path, {"backpropagation.ipynb": text})["notebooks"]["backpropagation.ipynb"]
    assert facts["present"] and not facts["run"] and why in facts["why"]


@pytest.mark.parametrize("text, note", [
    (notebook(("x = 1", "1"), ("y = 2", "2")).replace('"execution_count": 1', '"execution_count": 9'), "another order"),
    (notebook(("import torch", None), ("def f():\n    pass", None), ("f()", "None")), ""),  # cells with nothing to show
    (notebook(("x = 1", "1"), ("y = 2", "2"), run=False), ""),  # outputs kept without counts (another front end)
])
def test_a_notebook_whose_cells_all_ran_is_run_whatever_their_order(tmp_path, text, note):
    facts = facts_of(tmp_path, {"backpropagation.ipynb": text})["notebooks"]["backpropagation.ipynb"]
    assert facts["run"] and not facts["why"] and note in facts["note"] and bool(note) == bool(facts["note"])
    lines = deliverable_lines(facts_of(tmp_path / "again", {"backpropagation.ipynb": text}))
    assert not any("not run" in line for line in lines)


def test_the_report_reading(tmp_path):
    partial = facts_of(tmp_path / "1", {"report.pdf": reports.pdf(reports.NO_LABOUR_NOR_G)})["report"]
    assert partial["readable"] and partial["answers"] == list("abcdef") and not partial["labour"] and not partial["export"]
    export = facts_of(tmp_path / "2", {"backpropagation.pdf": reports.pdf(reports.NOTEBOOK_EXPORT)})["report"]
    assert export["readable"] and export["export"]
    assert not facts_of(tmp_path / "3", {"backpropagation.ipynb": "{}"})["report"]["found"]


@pytest.mark.parametrize("content, why", [
    (b"%PDF-1.4\n%broken", "cannot be read"),
    (b"", "cannot be read"),
    (reports.pdf("#set page(fill: black)\n#box(width: 5cm, height: 5cm)"), "no text"),
    (b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [2 0 R] /Count 1 >> endobj\n"
     b"trailer << /Root 1 0 R >>\n%%EOF", "cannot be read"),                     # a page tree that points at itself
    (b"%PDF-1.4\n1 0 obj << /Length 99999999 /Filter /FlateDecode >> stream\n" + zlib.compress(b"\0" * 10**7) + b"\nendstream endobj\n%%EOF",
     "cannot be read"),                                                          # a compressed stream with no page to hold it
], ids=["truncated", "empty", "only a picture", "cyclic page tree", "deflate bomb"])
def test_a_broken_or_hostile_pdf_is_an_answer(tmp_path, content, why):
    report = facts_of(tmp_path, {"report.pdf": content})["report"]
    assert report["found"] and not report["readable"] and why in report["why"]


def test_readme_names_the_other_files(tmp_path):
    files = {"backpropagation.ipynb": "{}", "helpers.py": "x = 1", "weights/model.pt": b"\0"}
    assert facts_of(tmp_path / "1", files)["readme"] == {"needed": True, "present": False, "unnamed": ["helpers.py", "weights/model.pt"]}
    named = facts_of(tmp_path / "2", {**files, "README.txt": "helpers.py: plots. weights/: the trained model."})["readme"]
    assert named == {"needed": True, "present": True, "unnamed": []}
    partly = facts_of(tmp_path / "3", {**files, "README.txt": "helpers.py: plots."})["readme"]
    assert partly["unnamed"] == ["weights/model.pt"]


def test_decode_bounds_what_came_back():
    facts = deliverables.inspect(str(S.HOSTILE_FILES))
    facts["report"]["answers"] = ["a", "<script>", "z"] * 3
    with pytest.raises(ValueError):
        deliverables.decode(facts)
    facts["report"]["answers"] = ["a", "<script>"]
    assert deliverables.decode(facts)["report"]["answers"] == ["a"]
    with pytest.raises(ValueError):
        deliverables.decode({"notebooks": "everything is fine"})
