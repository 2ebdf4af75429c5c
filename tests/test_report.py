"""The report builds offline and reproducibly, and shows what results.json holds."""

import json
import re
import shutil
from pathlib import Path

import pypdf
import pytest

from report.build import REPORT_DIR, build, missing_inputs

RESULTS = json.loads((REPORT_DIR / "results.json").read_text())


@pytest.fixture(scope="module")
def pdf(tmp_path_factory):
    return build(output=tmp_path_factory.mktemp("report") / "report.pdf")


@pytest.fixture(scope="module")
def text(pdf):
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(pdf).pages)


def test_two_builds_are_byte_identical(pdf, tmp_path):
    again = build(output=tmp_path / "again.pdf")
    assert pdf.read_bytes() == again.read_bytes()


def test_committed_pdf_is_the_build_of_the_committed_sources(pdf):
    assert (REPORT_DIR / "report.pdf").read_bytes() == pdf.read_bytes()


def test_all_seven_answer_headings(text):
    for letter in "abcdefg":
        assert re.search(rf"^\({letter}\) ", text, re.MULTILINE), f"heading ({letter}) missing"


def test_test_accuracy_is_printed_exactly_as_results_json_holds_it(text):
    value = RESULTS["test_accuracy"]
    assert RESULTS["selected"]["test_accuracy"] == value
    assert f"test accuracy {value} " in text.replace("\n", " ")


def test_at_least_four_figures(pdf):
    assert sum(len(page.images) for page in pypdf.PdfReader(pdf).pages) >= 4


def test_missing_results_name_the_notebook_to_run(tmp_path):
    shutil.copytree(REPORT_DIR, tmp_path / "report", ignore=shutil.ignore_patterns("*.pdf"))
    (tmp_path / "report" / "figures" / "confusion_matrix.png").unlink()
    assert missing_inputs(tmp_path / "report") == ["figures/confusion_matrix.png is missing: run gradient_descent.ipynb."]
    (tmp_path / "report" / "results.json").unlink()
    with pytest.raises(SystemExit, match="results.json is missing: run backpropagation.ipynb and gradient_descent.ipynb"):
        build(tmp_path / "report")


def test_results_without_a_notebook_s_part_name_that_notebook(tmp_path):
    shutil.copytree(REPORT_DIR, tmp_path / "report", ignore=shutil.ignore_patterns("*.pdf"))
    results = dict(RESULTS)
    del results["backpropagation"]
    (tmp_path / "report" / "results.json").write_text(json.dumps(results))
    assert missing_inputs(tmp_path / "report") == ["results.json has no 'backpropagation': run backpropagation.ipynb."]
