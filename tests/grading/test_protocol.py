"""The wire between sandbox and grader, without bwrap: each part's raw outcome round-trips to the verdict
it earns, and whatever a submission could make the sandbox send (malformed, forged, declaring huge
sizes) is an error, decided without allocating by what it declares."""

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from harness.checks.notebook import load_notebook
from harness.grading.parts import backpropagation as part_backpropagation
from harness.grading.parts import sgd as part_sgd
from harness.grading.sandbox import protocol
from harness.grading.parts.part import JudgeContext
from harness.grading.sandbox.protocol import FrameReader, ProtocolError, RunStatus, envelope, frame_bytes, open_envelope, pack
from harness.status import Status
from tests.fixtures import submissions as S


def run_in_process(part, files, tmp_path):
    """A part's run and judge, as the sandbox and the grader do them, minus the sandbox."""
    folder = S.write(tmp_path, "submission", files)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    part.write_inputs(inputs)
    loaded = load_notebook(folder / part.notebook)
    data, arrays = part.run(loaded.get(part.function), loaded, inputs)
    payload = pack(envelope("ran", notes=loaded.notes, data=data), arrays)
    return payload, JudgeContext(folder=folder, notebook_path=folder / part.notebook)


@pytest.mark.parametrize("part, files, status", [
    (part_backpropagation.PART, S.both(), Status.PASS),
    (part_backpropagation.PART, S.both(S.replaced(S.RIGHT_BACKPROPAGATION, "2 * (y_pred", "(y_pred")), Status.FAIL),
    (part_sgd.PART, S.both(), Status.PASS),
    (part_sgd.PART, S.both(sgd=S.replaced(S.RIGHT_SGD, "buffers[i].mul_(momentum)", "buffers[i].mul_(0.8 * momentum)")), Status.FAIL),
], ids=["backpropagation right", "backpropagation wrong", "sgd right", "sgd wrong"])
def test_a_raw_outcome_round_trips_to_its_verdict(part, files, status, tmp_path):
    payload, context = run_in_process(part, files, tmp_path)
    verdict = part.judge(open_envelope(payload), context)
    assert verdict.status is status, verdict.message


def test_pack_and_unpack_keep_dtypes_shapes_and_values():
    arrays = {"a": np.arange(6, dtype=np.float64).reshape(2, 3), "b": np.array([1, 2], dtype=np.int64), "c": np.zeros((0, 4))}
    meta, back = protocol.unpack(pack({"x": [1, "y"]}, arrays))
    assert meta == {"x": [1, "y"]}
    for name, array in arrays.items():
        assert back[name].dtype == array.dtype and back[name].shape == array.shape and np.array_equal(back[name], array)


def describe_array(dtype, shape, offset, n_bytes, body=b""):
    header = json.dumps({"meta": envelope("ran"), "arrays": {"x": [dtype, shape, offset, n_bytes]}}).encode()
    return str(len(header)).encode() + b"\n" + header + body


@pytest.mark.parametrize("payload, words", [
    (b"", "no valid header"),
    (b"10\n{not json}", "not JSON"),
    (b"99999999999\n{}", "no valid header"),
    (b"2\n[]", "not an object"),
    (b"1000\n" + b"[" * 1000, "not JSON"),                                   # nesting that would overflow the stack
    (describe_array("|O", [1], 0, 8, b"\0" * 8), "non-numeric dtype"),        # objects: what pickle would need
    (describe_array("<f8", [2**30, 2**30], 0, 8 * 2**60), "does not fit"),    # declares 8 EiB in a few bytes
    (describe_array("<f8", [2**31 + 1], 0, 8), "is not described"),
    (describe_array("<f8", [1], -8, 8, b"\0" * 8), "does not fit"),
    (describe_array("<f8", [2], 0, 8, b"\0" * 8), "does not fit"),
    (describe_array("not a dtype", [1], 0, 8, b"\0" * 8), "unknown dtype"),
], ids=["empty", "bad json", "header longer than the payload", "header not an object", "deep nesting", "object dtype",
        "8 EiB declared", "dimension too large", "negative offset", "size disagrees", "unknown dtype"])
def test_malformed_payloads_are_protocol_errors(payload, words):
    with pytest.raises(ProtocolError, match=words):
        open_envelope(payload)


def test_an_envelope_must_say_how_the_part_ended():
    with pytest.raises(ProtocolError, match="names no outcome"):
        open_envelope(pack({"outcome": "passed, trust me"}, {}))
    with pytest.raises(ProtocolError, match="notes"):
        open_envelope(pack({**envelope("ran"), "notes": ["x"] * 10_000}, {}))
    long = open_envelope(pack(envelope("missing", "m" * 10**6), {}))
    assert len(long.message) == protocol.MAX_TEXT


def peak_bytes(function):
    tracemalloc.start()
    try:
        result = function()
    except ProtocolError as error:
        result = error
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, peak


def test_declared_pass_counts_allocate_nothing(tmp_path):
    """A few hundred bytes declaring a billion SGD passes: the grader asks for a handful and reads no more."""
    forged = pack(envelope("ran", data={"plan": {"roles": {r: r for r in ("n_epochs", "model", "loss_fn", "train_loader", "lr")},
                                                 "unfillable": [], "positional_only": []},
                                        "outcomes": {str(i): {"error": None, "raised": False, "passes": 10**9} for i in range(8)}}), {})
    assert len(forged) < 1000
    verdict, peak = peak_bytes(lambda: part_sgd.judge(open_envelope(forged), None))
    assert peak < 20 * 2**20, peak
    assert verdict.status is Status.FAIL and "trained for 1000000000 passes" in verdict.message


def test_declared_case_counts_and_gradient_sizes_are_bounded():
    from harness.checks.gradients import cached_references

    cases, references = cached_references(part_backpropagation.N_RANDOM, part_backpropagation.SEED)
    too_many = envelope("ran", data={"cases": [{"error": None, "gradients": {}}] * (len(cases) + 1)})
    with pytest.raises(ProtocolError, match="not a list of at most"):
        part_backpropagation.decode(open_envelope(pack(too_many, {})), cases, references)
    # every gradient an array 1000 times the parameter's size: refused one by one, never copied
    huge = {f"c0.{l}.{kind}": np.zeros(1000 * p.numel() + 1000) for l, kind, p in
            __import__("harness.checks.references", fromlist=["x"]).parameter_items(references[0].model)}
    entries = [{"error": None, "gradients": {key.split(".", 1)[1]: "array" for key in huge}}] + \
              [{"error": None, "gradients": {}}] * (len(cases) - 1)
    outcomes, peak = peak_bytes(lambda: part_backpropagation.decode(open_envelope(pack(envelope("ran", data={"cases": entries}), huge)),
                                                                     cases, references))
    assert all(v == "missing or oversized array" for v in outcomes[0].gradients.values())
    assert peak < 20 * 2**20, peak


def test_a_forged_error_kind_or_an_unknown_setting_is_refused():
    from harness.checks.gradients import cached_references

    cases, references = cached_references(part_backpropagation.N_RANDOM, part_backpropagation.SEED)
    forged = envelope("ran", data={"cases": [{"error": ["pass", "trust me"], "gradients": {}}] * len(cases)})
    with pytest.raises(ProtocolError, match="not \\[kind, message\\]"):
        part_backpropagation.decode(open_envelope(pack(forged, {})), cases, references)
    unknown = envelope("ran", data={"plan": {"roles": {"lr": "lr"}}, "outcomes": {"99": {"error": None, "passes": 3}}})
    with pytest.raises(ProtocolError, match="did not ask for"):
        part_sgd.judge(open_envelope(pack(unknown, {})), None)
    with pytest.raises(ProtocolError, match="unknown role"):
        part_sgd.judge(open_envelope(pack(envelope("ran", data={"plan": {"roles": {"__class__": "x"}}}), {})), None)


def test_frames_are_read_in_any_chunks_and_stop_at_the_first_malformed_header():
    stream = frame_bytes("backpropagation", RunStatus.OK, 0, b"abc") + frame_bytes("sgd", RunStatus.SIGNALLED, 9)
    for size in (1, 2, 7, len(stream)):
        reader = FrameReader(["backpropagation", "sgd"])
        for start in range(0, len(stream), size):
            reader.feed(stream[start:start + size])
        assert reader.done and not reader.broken
        assert reader.frames["backpropagation"].payload == b"abc"
        assert (reader.frames["sgd"].status, reader.frames["sgd"].code) == (RunStatus.SIGNALLED, 9)
    for bad in (b"PART report ok 0 0\n", b"PART sgd ok 0 99999999999\n", b"PART sgd passed 0 0\n", b"x" * 300,
                frame_bytes("sgd", RunStatus.OK) + frame_bytes("sgd", RunStatus.OK)):
        reader = FrameReader(["backpropagation", "sgd"])
        reader.feed(bad)
        assert reader.broken and "backpropagation" not in reader.frames


def test_only_an_ok_frame_carries_a_payload():
    assert frame_bytes("sgd", RunStatus.TIMEOUT, 0, b"forged") == b"PART sgd timeout 0 0\n"


def test_the_protocol_module_does_not_load_torch():
    import subprocess
    import sys

    code = "import sys, harness.grading.sandbox.protocol; print('torch' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    assert subprocess.check_output([sys.executable, "-c", code], cwd=root, text=True).strip() == "False"
