"""A graded part is a module: a third one, defined in tests/fixtures/toy_part.py alone, is graded,
tabled, booked and fed back by the pipeline without a change to it."""

import csv
import io

from harness.classroom import collect
from harness.classroom import feedback
from harness.classroom import gradebook
from harness.grading.grade import Options, grade_all
from harness.grading.parts import PARTS
from tests.fixtures import submissions as S
from tests.fixtures.toy_part import PART as TOY


def test_a_third_part_needs_only_its_own_module(tmp_path):
    parts = PARTS + (TOY,)
    for name, double in (("doubles", "def double(x):\n    return 2 * x"), ("triples", "def double(x):\n    return 3 * x")):
        S.write(tmp_path / "submissions", name, {**S.both(), "toy.ipynb": S.cells(double)})
    submissions = collect.collect(tmp_path / "submissions", tmp_path / "stage")
    results = grade_all(submissions, Options(timeout=60, jobs=2, use_sandbox=False, parts=parts))
    statuses = {r.name: {key: v.status.value for key, v in r.verdicts.items()} for r in results}
    assert statuses == {"doubles": {"backpropagation": "pass", "sgd": "pass", "double": "pass"},
                        "triples": {"backpropagation": "pass", "sgd": "pass", "double": "fail"}}
    points = gradebook.parse_points("backpropagation=60,sgd=30,double=10", parts)
    gradebook.write_gradebook(results, tmp_path / "book.csv", points, parts=parts)
    with open(tmp_path / "book.csv", newline="") as file:
        rows = {row["submission"]: row for row in csv.DictReader(file)}
    assert rows["doubles"]["double points"] == "10.0" and rows["triples"]["total points"] == "90.0"
    text = feedback.feedback_markdown(results[1], points, parts=parts)
    assert "## Part double: `double` in toy.ipynb: fail (0 / 10 points)" in text and "print(double(0.5))" in text
    table = io.StringIO()
    feedback.print_table(results, parts=parts, out=table)
    assert table.getvalue().splitlines()[0].split() == ["submission", "backpropagation", "sgd", "double", "seconds"]
    assert [r.to_json(parts)["double"]["status"] for r in results] == ["pass", "fail"]
