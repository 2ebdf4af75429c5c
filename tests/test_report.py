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
    """White space folded, typographic apostrophes as typed."""
    return " ".join(text.replace("\u2019", "'").split())


def section(text, letter):
    """The text of answer (letter), up to the next answer's heading."""
    start = re.search(rf"^\({letter}\) ", text, re.MULTILINE).start()
    following = re.search(r"^\([a-g]\) |^Appendix", text[start + 4:], re.MULTILINE)
    return flat(text[start:start + 4 + following.start()] if following else text[start:])


def test_first_page_names_the_authors_and_their_division_of_labour(pdf):
    first = flat(pypdf.PdfReader(pdf).pages[0].extract_text())
    assert " and ".join(RESULTS["authors"]["names"]) in first
    assert f"Division of labour. {flat(RESULTS['authors']['division_of_labour'])}" in first
    assert "Collaboration. " in first and "reference solution" in first.lower()  # named as such: no placeholder students
    assert "Author One" not in first


def test_the_edition_is_named_as_the_course_names_it(text):
    edition = flat(text).split("Edition. ", 1)[1][:600]
    classes = " vs ".join(RESULTS["dataset"]["classes"])
    assert classes in edition and "-".join(map(str, RESULTS["settings"]["mlp"])) in edition
    if RESULTS["settings"]["edition"] != "2023":
        assert "the course's 2025 edition" in edition and "deviat" not in edition
        assert "airplane vs bird" in edition and "3072-512-128-32-2" in edition  # where the 2023 handout's report is


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
    last = RESULTS["selected"]["scored_epochs"]
    assert f"scored each configuration (Table 1) by its mean validation accuracy over the last {last} epochs" in f
    assert f"score {100 * RESULTS['selected']['val_score']:.2f}%" in f and "optimistic" in f
    p, n = RESULTS["test_accuracy"], RESULTS["dataset"]["sizes"]["test"]
    standard_error = 100 * (p * (1 - p) / n) ** 0.5
    assert re.search(rf"test accuracy {p} \({100 * p:.2f}% ± {standard_error:.2f} points, standard error\)", f), f


def test_g_reads_the_confusion_matrix_says_what_was_expected_and_shows_mistakes(text, pdf):
    g = section(text, "g")
    matrix, classes = RESULTS["selected"]["confusion_matrix"], RESULTS["dataset"]["classes"]
    assert f"{matrix[0][1]} {classes[0]} images were classified as {classes[1]}" in g
    assert g.index("What we expected.") < g.index("What we obtained.") < g.index("Error analysis.")
    assert "Test images the selected model misclassifies" in flat(text) and "did not measure" not in g
    assert "Extension" not in g and "C. Extension (beyond the handout)" in flat(text)  # an appendix, short


def test_f_shows_both_trainings_losses_epoch_by_epoch(text):
    f = section(text, "f")
    comparison = RESULTS["sgd_vs_manual"]
    assert "torch.optim.SGD" in f and "train_manual_update" in f and comparison["epochs"] >= 3
    assert f"{round(comparison['torch.optim.SGD'][0], 6)}" in f
    if comparison["torch.optim.SGD"] == comparison["train_manual_update"]:
        assert "The losses are equal to every digit" in f


def test_the_data_source_is_said_as_it_was(text):
    assert RESULTS["dataset"]["source"] in flat(text) and "loaded through torchvision" not in flat(text)


def test_c_says_why_gradients_are_reset_and_that_bitwise_means_foreach_false(text):
    c = section(text, "c")
    assert "would add each batch's gradient" in c and "foreach=False" in c and "may round once" in c
    assert "accumulates" in section(text, "a")


def _report_of(results, tmp_path, edition=False):
    """The report built from altered results (a copy of report/, or of the 2023 edition's), its findings
    recomputed from the altered numbers as the notebook computes them."""
    from utils.analysis import findings

    source = REPORT_DIR / "editions" / "2023" if edition else REPORT_DIR
    shutil.copytree(source, tmp_path / "report", ignore=shutil.ignore_patterns("*.pdf", "editions", "*.ipynb"))
    for name in ("report.typ", "claims.typ", "references.yml"):
        shutil.copy(REPORT_DIR / name, tmp_path / "report" / name)
    results = json.loads(json.dumps(results))
    results["findings"] = json.loads(json.dumps(findings(results)))
    results["selected"]["index"] = results["findings"]["selection"]["index"]  # as the notebook would select
    (tmp_path / "report" / "results.json").write_text(json.dumps(results))
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(build(tmp_path / "report")).pages)


def _2023():
    return json.loads((REPORT_DIR / "editions" / "2023" / "results.json").read_text())


def _set_right(row, right):
    """A configuration whose kept weights classify the validation images as right says ([bool])."""
    row["val_right"] = "".join("1" if r else "0" for r in right)
    row["val_accuracy"] = sum(right) / len(right)


def _index(results, predicate):
    return next(i for i, row in enumerate(results["search"]) if predicate(row))


MOMENTUM = lambda row: row["momentum"] == 0.9 and row["weight_decay"] == 0 and not row["nesterov"] and row["dampening"] == 0
CONTROL = lambda row: row["momentum"] == 0 and row["weight_decay"] == 0 and abs(row["lr"] - 0.1) < 1e-12


def test_d_states_the_control_at_the_effective_step_as_the_same_images_decide_it(tmp_path):
    """Momentum against plain SGD at its effective step: a tie on the same images is said as no evidence and
    credits momentum with nothing beyond its step; a clear win is said as a win."""
    import copy

    n = RESULTS["dataset"]["sizes"]["val"]
    tie = copy.deepcopy(RESULTS)
    momentum, control = _index(tie, MOMENTUM), _index(tie, CONTROL)
    _set_right(tie["search"][momentum], [True] * (n - 80) + [False] * 80)
    _set_right(tie["search"][control], [True] * (n - 80) + [False] * 80)
    d = section(_report_of(tie, tmp_path / "tie"), "d")
    assert f"plain SGD at learning rate 0.1 (configuration {control + 1}) is the control" in d
    assert "these runs do not credit momentum with more than its larger step" in d and "𝑝 = 1" in d.replace("p = 1", "𝑝 = 1")
    win = copy.deepcopy(tie)
    _set_right(win["search"][control], [True] * (n - 200) + [False] * 200)  # 120 more images wrong than momentum
    d = section(_report_of(win, tmp_path / "win"), "d")
    assert "momentum is right on more validation images than plain SGD at 0.1" in d
    assert "alone is right on 120 and plain SGD at 0.1 alone on 0" in d and "so it credits momentum with more than its larger step" in d


def test_e_says_weight_decay_varied_alone_in_both_editions_and_not_when_it_was_not(tmp_path):
    """The 2023 edition's misfire: weight decay varied alone at momentum 0.9 (not at the first momentum run
    found) was said to be varied only with other settings."""
    import copy

    for name, results in (("default", RESULTS), ("2023", _2023())):
        e = flat(section(_report_of(results, tmp_path / name, edition=name == "2023"), "e"))
        assert "The search varied the weight decay alone" in e and "only together with other settings" not in e, name
        for row in results["search"]:
            if row["weight_decay"] > 0 and row["momentum"] == 0.9 and not row["nesterov"] and row["dampening"] == 0:
                assert f"λ = {row['weight_decay']}" in e.replace("𝜆", "λ"), (name, row["weight_decay"])
    mixed = copy.deepcopy(_2023())
    for row in mixed["search"]:
        if row["weight_decay"] > 0:
            row["lr"] = 0.03  # now every run with weight decay differs in the learning rate too
    assert "only together with other settings" in flat(section(_report_of(mixed, tmp_path / "mixed", edition=True), "e"))


@pytest.mark.parametrize("edition", ["default", "2023"])
def test_f_says_a_spike_and_a_tie_with_the_runner_up(tmp_path, edition):
    import copy

    results = _2023() if edition == "2023" else RESULTS
    spiky = copy.deepcopy(results)
    runner = max((i for i in range(len(spiky["search"])) if i != spiky["selected"]["index"]),
                 key=lambda i: sum(spiky["search"][i]["val_curve"][-10:]))
    curve = spiky["search"][runner]["val_curve"]
    curve[len(curve) // 2] = 0.99  # one epoch far above its neighbours, before the scored epochs
    _set_right(spiky["search"][runner], [c == "1" for c in spiky["search"][spiky["selected"]["index"]]["val_right"]])
    f = section(_report_of(spiky, tmp_path / "spike", edition=edition == "2023"), "f")
    assert f"The best single epoch of the whole search, 99.00% (configuration {runner + 1}, epoch {len(curve) // 2 + 1}" in f
    assert "is a spike" in f and "Choosing by the best epoch would have rested on it" in f
    assert "The search does not tell its two best configurations apart" in f  # the same images right: p = 1
    steady = copy.deepcopy(results)
    for row in steady["search"]:
        row["val_curve"] = sorted(row["val_curve"])  # rising curves: every best epoch is the last, and stands
    f = section(_report_of(steady, tmp_path / "steady", edition=edition == "2023"), "f")
    assert "does not stand out from its neighbouring epochs" in f and "spike" not in f


def test_g_sets_the_2023_expectation_first_and_measures_against_it(tmp_path):
    g = section(_report_of(_2023(), tmp_path / "g"), "g")
    expected, obtained = g.split("What we obtained.", 1)
    assert "The course's reference output for the 2023 handout" in expected and "about 83% validation accuracy" in expected
    found = json.loads(json.dumps(_2023()["findings"]))["expected"]["reference_run"]
    assert f"Our configuration {found['index'] + 1}, with the reference's settings" in obtained


def test_a_sentence_claiming_a_verdict_the_data_do_not_have_fails_the_build_and_is_named(tmp_path):
    """claims.typ: a sentence printed for one verdict, built from results whose verdict is another."""
    shutil.copy(REPORT_DIR / "claims.typ", tmp_path / "claims.typ")
    (tmp_path / "doc.typ").write_text(
        '#import "claims.typ": claim, say\n'
        '#let finding = (verdict: "no evidence")\n'
        '#say(finding, ("no evidence": [Not told apart.], higher: [Higher.]))\n'
        '#claim(finding, "higher", [Momentum beat the plain step.])\n')
    import typst

    with pytest.raises(Exception, match="Momentum beat the plain step.*needs the verdict 'higher'.*'no evidence'"):
        typst.compile(str(tmp_path / "doc.typ"), root=str(tmp_path), ignore_system_fonts=True)
    (tmp_path / "doc.typ").write_text('#import "claims.typ": say\n#say((verdict: "mixed"), (higher: [Higher.]))\n')
    with pytest.raises(Exception, match="no sentence for the verdict 'mixed'"):
        typst.compile(str(tmp_path / "doc.typ"), root=str(tmp_path), ignore_system_fonts=True)


def test_findings_that_are_not_those_of_the_numbers_stop_the_build(tmp_path):
    import copy

    stale = copy.deepcopy(RESULTS)
    stale["search"][0]["val_right"] = "0" * len(stale["search"][0]["val_right"])  # numbers changed, findings not
    shutil.copytree(REPORT_DIR, tmp_path / "report", ignore=shutil.ignore_patterns("*.pdf", "editions"))
    (tmp_path / "report" / "results.json").write_text(json.dumps(stale))
    with pytest.raises(SystemExit, match="findings are not those of its own numbers: run gradient_descent.ipynb again"):
        build(tmp_path / "report")


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
    # the handout's experiment: at least the course's six configurations, learning rate, momentum and weight
    # decay each varied, every one bitwise equal; and that edition's three deliverables beside its PDF
    search = results["search"]
    assert len(search) >= 6 and all(row["bitwise_equal"] for row in search)
    for key in ("lr", "momentum", "weight_decay"):
        assert len({row[key] for row in search}) >= 2, key
    assert "handout of spring 2023" in text and "about 83% validation accuracy" in text
    for name in ("backpropagation.ipynb", "gradient_descent.ipynb"):
        assert (pdf.parent / name).is_file(), f"the 2023 edition's executed {name} is not committed"
    assert (pdf.parent / "figures" / "misclassified.png").is_file()
