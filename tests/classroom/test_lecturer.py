"""The lecturer's view of a class: copying found (and only copying), the class at a glance, regrades
explained. A class from Canvas with six independent right solutions, three disguised copies of one of
them, two students who handed in the template untouched, and a wrong one."""

import csv
import html.parser
import io
import subprocess
import sys
from pathlib import Path

import pytest

from harness.classroom import similarity
from tests.fixtures import independent as I
from tests.fixtures.submissions import COURSE_MYNET, cells, replaced

PROJECT_ROOT = Path(__file__).resolve().parents[2]
COPIES = ("renamed", "reordered", "recommented")
# A seventh way of writing it, first with the sign of the error flipped, then fixed and uploaded again.
OWN_WAY = """
def backpropagation(model, y_true, y_pred):
    grads = {}
    e = (y_pred - y_true) * 2
    for idx in range(model.L, 0, -1):
        e = e * model.df[idx](model.z[idx])
        grads[idx] = (e.t().matmul(model.a[idx - 1]), e.sum(dim=0))
        if idx > 1:
            e = e.matmul(model.fc[str(idx)].weight)
    for idx, (gw, gb) in grads.items():
        model.dL_dw[idx], model.dL_db[idx] = gw.detach(), gb.detach()
"""
WRONG_SIGN = replaced(OWN_WAY, "(y_pred - y_true)", "(y_true - y_pred)")


def write_class(download):
    """Canvas's flat download: {user id: (name, files)}; returns {submission name: user id}."""
    download.mkdir(parents=True, exist_ok=True)
    students = {}
    for i, (name, files) in enumerate(I.solutions().items()):
        students[f"{400 + i}"] = (name.replace("_", ""), files)
    for i, how in enumerate(COPIES):
        students[f"{410 + i}"] = (f"copy{how}", I.disguised(I.solutions()["i03_column_vectors"], how))
    for i in range(2):
        students[f"{420 + i}"] = (f"templateonly{i}", {"backpropagation.ipynb": [I.IMPORTS, COURSE_MYNET]})
    students["430"] = ("wrongsign", {"backpropagation.ipynb": [I.IMPORTS, COURSE_MYNET, WRONG_SIGN]})
    names = {}
    for user, (name, files) in students.items():
        for k, (notebook, sources) in enumerate(files.items()):
            (download / f"{name}_{user}_{user}{k}_{notebook}").write_text(cells(*sources))
        names[f"{name}_{user}"] = user
    return names


def grade(root, *more):
    out = root / "graded"
    command = [sys.executable, str(PROJECT_ROOT / "tests_backpropagation.py"), "grade", str(root / "download"),
               "--csv", str(out / "gradebook.csv"), "--json", str(out / "verdicts.json"), "--marks", str(root / "marks.csv"),
               "--overview", str(out / "overview.html"), "--similarity", str(out / "similarity.html"),
               "--record", str(out / "run.json"), "--template", str(root / "template"), "--timeout", "60", "--jobs", "2", *more]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    return run


@pytest.fixture(scope="module")
def lecture(tmp_path_factory):
    root = tmp_path_factory.mktemp("lecture")
    names = write_class(root / "download")
    (root / "template").mkdir()
    (root / "template" / "backpropagation.ipynb").write_text(cells(I.IMPORTS, COURSE_MYNET))  # what the course hands out
    first = grade(root)
    with open(root / "graded" / "gradebook.csv", newline="", encoding="utf-8") as file:
        book = {row["submission"]: row for row in csv.DictReader(file)}
    # a fix uploaded again, and the TA's marks: grade again into the same folder
    wrong = next((root / "download").glob("wrongsign_430_*_backpropagation.ipynb"))
    wrong.rename(wrong.with_name(wrong.name.replace(".ipynb", "-1.ipynb")))
    wrong.with_name(wrong.name.replace(".ipynb", "-1.ipynb")).write_text(cells(I.IMPORTS, COURSE_MYNET, OWN_WAY))
    second = grade(root)
    return {"root": root, "names": names, "book": book, "first": first, "second": second}


def flagged(book):
    return {name for name, row in book.items() if row["similarity"]}


def test_the_copies_are_flagged_and_nothing_else(lecture):
    copies = {name for name in lecture["names"] if name.startswith("copy")} | {"i03columnvectors_402"}
    assert flagged(lecture["book"]) == copies
    for name in copies:
        share, _, other = lecture["book"][name]["similarity"].partition(" with ")
        assert float(share) >= 0.85 and other in copies - {name}


def test_the_similarity_report_shows_the_shared_code(lecture):
    report = (lecture["root"] / "graded" / "similarity.html").read_text(encoding="utf-8")
    assert "copyrenamed_410" in report and "highlight-red" in report
    assert report.count("highlight-red") >= 6  # the six pairs among the four copies, each with its shared code


def test_partners_are_never_compared_and_the_template_never_counts(tmp_path):
    solution = I.solutions()["i01_matrix_form"]
    for name in ("ada", "alan", "grace"):
        (tmp_path / name).mkdir()
        for notebook, sources in solution.items():
            (tmp_path / name / notebook).write_text(cells(*sources))
    found = similarity.compare([(n, tmp_path / n) for n in ("ada", "alan", "grace")], [I.IMPORTS + "\n" + COURSE_MYNET],
                               partners=[("ada", "alan")])
    assert {frozenset((p["a"], p["b"])) for p in found["pairs"]} == {frozenset(("ada", "grace")), frozenset(("alan", "grace"))}


# Code another course hands out, that this project's template does not hold: every student's notebook starts with it.
HANDED_OUT = """
import numpy as np
import matplotlib.pyplot as plt


def load_split(images, labels, fraction=0.9, seed=265):
    generator = np.random.default_rng(seed)
    order = generator.permutation(len(images))
    cut = int(fraction * len(images))
    return (images[order[:cut]], labels[order[:cut]]), (images[order[cut:]], labels[order[cut:]])


def normalise(images, mean=None, std=None):
    mean = images.mean(axis=0) if mean is None else mean
    std = images.std(axis=0) + 1e-8 if std is None else std
    return (images - mean) / std, mean, std


def plot_history(history, title, ylabel):
    figure, axes = plt.subplots(figsize=(6, 4))
    for name, values in history.items():
        axes.plot(range(1, len(values) + 1), values, label=name)
    axes.set_title(title)
    axes.set_xlabel("epoch")
    axes.set_ylabel(ylabel)
    axes.legend()
    return figure


def accuracy_of(predictions, labels):
    return float((predictions.argmax(axis=1) == labels).mean())


def confusion(predictions, labels, classes):
    table = np.zeros((classes, classes), dtype=int)
    for guess, truth in zip(predictions.argmax(axis=1), labels):
        table[truth, guess] += 1
    return table


def describe(table, names):
    lines = []
    for i, name in enumerate(names):
        right = table[i, i]
        total = table[i].sum()
        lines.append(f"{name}: {right} of {total} right ({right / max(total, 1):.1%})")
    return "\\n".join(lines)
"""


def test_code_most_of_the_class_shares_counts_as_handed_out_without_a_template(tmp_path, monkeypatch):
    solutions = list(I.solutions().values())
    entries = []
    for i, files in enumerate(solutions + [I.disguised(solutions[0], "renamed")]):
        folder = tmp_path / f"s{i}"
        folder.mkdir()
        for notebook, sources in files.items():
            (folder / notebook).write_text(cells(HANDED_OUT, *sources))
        entries.append((f"s{i}", folder))
    found = similarity.compare(entries, [], report=str(tmp_path / "similarity.html"), template_said="no template")
    assert {frozenset((p["a"], p["b"])) for p in found["pairs"]} == {frozenset(("s0", "s6"))}  # the copy, and only it
    assert found["common"] > 0
    report = (tmp_path / "similarity.html").read_text(encoding="utf-8")
    assert "Handed-out code, never counted: no template, and" in report and "more than half of the 7 submissions" in report
    monkeypatch.setattr(similarity, "COMMON_AT_LEAST", 1000)  # without the rule, the handed-out code makes everyone alike
    assert len(similarity.compare(entries, [])["pairs"]) > 1


def test_a_reference_corpus_is_compared_too(tmp_path):
    (tmp_path / "class" / "ada").mkdir(parents=True)
    for notebook, sources in I.solutions()["i02_outer_products"].items():
        (tmp_path / "class" / "ada" / notebook).write_text(cells(*sources))
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "solution_2023.py").write_text(I.BACKPROPAGATIONS["outer_products"] + I.TRAININGS["velocity_list"])
    found = similarity.compare([("ada", tmp_path / "class" / "ada")], [], reference=tmp_path / "public")
    assert [(p["a"], p["b"]) for p in found["pairs"]] == [("ada", "reference: solution_2023.py")]


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.headings, self.cells, self._in = [], [], [], None

    def handle_starttag(self, tag, attrs):
        self._in = tag
        if tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_data(self, data):
        if self._in in ("h1", "h2", "h3"):
            self.headings.append(data)
        elif self._in == "td":
            self.cells.append(data)


def test_the_overview_renders_with_its_figures_and_the_class_in_numbers(lecture):
    import base64

    from PIL import Image

    page = Page()
    page.feed((lecture["root"] / "graded" / "overview.html").read_text(encoding="utf-8"))
    assert {"Points", "Each part's pass rate", "Mistakes by cause", "Deliverables missing", "Lateness", "Similar code"} <= set(page.headings)
    assert page.images
    for source in page.images:  # each figure decodes to a picture of a readable size
        image = Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1])))
        assert image.format == "PNG" and image.size[0] >= 400
    # the second run's class: every backpropagation right now; the template-only ones lack it
    assert "2 of 12" in page.cells  # the two template-only submissions: backpropagation missing
    assert "5 of 12" in page.cells  # gradient_descent.ipynb not handed in: i05, i06, the template-only ones, the wrong one
    assert any("copyrenamed_410" in cell for cell in page.cells)


def test_grading_again_says_exactly_what_changed_and_keeps_the_previous_gradebook(lecture):
    said = [line for line in lecture["second"].stderr.splitlines() if line.startswith("- ")]
    assert said == ["- wrongsign (430): 0.0 -> 60.0 points: a new upload; backpropagation fail -> pass"], lecture["second"].stderr[-1500:]
    kept = list((lecture["root"] / "graded").glob("gradebook.*.csv"))
    assert len(kept) == 1 and "wrongsign_430" in kept[0].read_text()
    assert "Since the previous run:" in lecture["second"].stderr and "Since the previous run" not in lecture["first"].stderr


def test_progress_and_timing_are_shown_for_each_step(lecture):
    err = lecture["first"].stderr
    assert "Graded 12 submission(s) in" in err and "Similarity: 12 submission(s) compared in" in err and "Overview written to" in err
