"""The report builds offline and reproducibly, and shows what results.json holds."""

import json
import math
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


def flat(text):
    return " ".join(text.split())


def section(text, letter):
    """The text of answer (letter), up to the next answer's heading."""
    start = re.search(rf"^\({letter}\) ", text, re.MULTILINE).start()
    following = re.search(r"^\([a-g]\) |^Appendix", text[start + 4:], re.MULTILINE)
    return flat(text[start:start + 4 + following.start()] if following else text[start:])


def test_first_page_names_the_authors_and_their_division_of_labour(pdf):
    first = flat(pypdf.PdfReader(pdf).pages[0].extract_text())
    assert " and ".join(RESULTS["authors"]["names"]) in first
    assert f"Division of labour. {flat(RESULTS['authors']['division_of_labour'])}" in first
    assert "Collaboration. " in first and "reference solution" not in first.lower()


def test_the_edition_and_its_deviations_from_the_handout_are_named(text):
    edition = flat(text).split("Edition. ", 1)[1][:600]
    assert "handout of spring 2023" in edition
    classes = " vs ".join(RESULTS["dataset"]["classes"])
    assert classes in edition and "-".join(map(str, RESULTS["settings"]["mlp"])) in edition
    if RESULTS["settings"]["edition"] != "2023":
        assert "airplane vs bird" in edition and "3072-512-128-32-2" in edition  # what the handout asks instead


def test_a_names_backward_and_c_names_step_and_zero_grad(text):
    assert "loss.backward()" in section(text, "a") and "torch.autograd.backward" in section(text, "a")
    assert "optimizer.step()" in section(text, "c") and "optimizer.zero_grad()" in section(text, "c")


def test_b_gives_the_recipe_and_the_criterion_the_code_uses(text):
    from harness.checks.tolerances import FINITE_DIFFERENCE_ROUNDOFF_SAFETY, FINITE_DIFFERENCE_STEP

    answer = section(text, "b")
    assert "finite differences" in answer and "2ℎ" in answer  # (L+ - L-) / 2h
    exponent = round(math.log10(FINITE_DIFFERENCE_STEP))
    assert f"ℎ=10−{-exponent}" in answer.replace(" ", "")
    assert f"{FINITE_DIFFERENCE_ROUNDOFF_SAFETY}𝑢𝑆/ℎ" in answer.replace(" ", "")
    assert "unit round-off" in answer and "truncation" in answer


def test_d_and_e_state_purposes_and_the_limit_of_the_momentum_step(text):
    d, e = section(text, "d"), section(text, "e")
    assert "exponentially weighted sum" in d and "(1−𝜏)𝑔/(1−𝜇)" in d.replace(" ", "")
    assert "overfitting" in e and "(1−𝛾𝜆)" in e.replace(" ", "")


def test_f_states_seed_selection_and_test_accuracy_with_its_standard_error(text):
    f = section(text, "f")
    assert f"seed {RESULTS['settings']['seed']}" in f
    assert f"at epoch {RESULTS['selected']['best_epoch']} of {RESULTS['settings']['epochs']}" in f
    assert "optimistic" in f
    p, n = RESULTS["test_accuracy"], RESULTS["dataset"]["sizes"]["test"]
    standard_error = 100 * (p * (1 - p) / n) ** 0.5
    assert re.search(rf"test accuracy {p} \({100 * p:.2f}% ± {standard_error:.2f} points, standard error\)", f), f


def test_g_reads_the_confusion_matrix_and_the_extension(text):
    g = section(text, "g")
    matrix, classes = RESULTS["selected"]["confusion_matrix"], RESULTS["dataset"]["classes"]
    assert f"{matrix[0][1]} {classes[0]} images were classified as {classes[1]}" in g
    assert "Sigmoid trails" in g and "not the optimizers" in g


def test_references_cite_the_sgd_documentation_cifar10_and_the_course(text):
    references = flat(text).split("References", 1)[1]
    assert "torch.optim.SGD" in references and "Krizhevsky" in references and "INF265" in references


def test_the_2023_edition_report_is_committed_beside_the_default():
    pdf = REPORT_DIR / "editions" / "2023" / "report.pdf"
    assert pdf.is_file(), "run make run EDITION=2023"
    text = flat("\n".join(page.extract_text() for page in pypdf.PdfReader(pdf).pages))
    results = json.loads((pdf.parent / "results.json").read_text())
    assert results["settings"]["edition"] == "2023" and f"test accuracy {results['test_accuracy']} " in text
    assert "airplane vs bird in 32×32 images and MyMLP 3072-512-128-32-2" in text
