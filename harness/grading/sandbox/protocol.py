"""The wire between a submission's sandbox and the grader: JSON and numbers, nothing that runs.

Two layers, both decoded here and nowhere else:

frames   what the worker writes to its stdout, one per graded part:
             PART <key> <run status> <code> <n_bytes>\\n<n_bytes bytes of payload>
         run status: ok | timeout | oversized | exited (code: the exit status) | signalled (code: the signal)
payload  what a part's process sent back (only with run status ok):
             <byte length of the JSON part>\\n{"meta": {...}, "arrays": {name: [dtype, shape, offset, n_bytes]}}<array bytes>
         meta is an envelope: {"outcome": "ran" | "missing" | "load_error", "message": str, "notes": [str],
         "data": {...}}; "data" is the part's own raw outcome (see each part's module).

Everything that comes back was written where submitted code ran, so it is data to check, never to
trust: every size is bounded by what the grader asked for before anything is allocated, every type
is checked, and anything malformed raises ProtocolError (the part's verdict is then an error).
This module imports no torch: the sandbox's probe imports it to see that Python runs there.
"""

import json
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

NUMERIC_KINDS = "biufc"
MAX_PAYLOAD_BYTES = 64 * 2**20  # raw outputs one part may send out of its sandbox
MAX_HEADER_BYTES = 4 * 2**20    # the JSON part of a payload
MAX_FRAME_HEADER = 200          # bytes of one frame's header line
MAX_NOTES = 8
MAX_TEXT = 2000                 # characters of one message or note that crosses the boundary


class ProtocolError(ValueError):
    """What came back from a sandbox does not have the shape the grader asked for."""


# --- payloads ---------------------------------------------------------------------------------------

def pack(meta, arrays):
    """bytes of meta (JSON-able) and {name: numpy array}."""
    index, chunks, offset = {}, [], 0
    for name, array in arrays.items():
        data = np.ascontiguousarray(array)
        index[name] = [data.dtype.str, list(data.shape), offset, data.nbytes]
        chunks.append(data.tobytes())
        offset += data.nbytes
    header = json.dumps({"meta": meta, "arrays": index}).encode()
    return str(len(header)).encode() + b"\n" + header + b"".join(chunks)


def unpack(payload, max_header=MAX_HEADER_BYTES):
    """(meta, {name: numpy array}) from pack's bytes, arrays as read-only views of payload."""
    length, _, rest = bytes(payload[:32]).partition(b"\n")
    if not length.isdigit() or int(length) > max_header or int(length) > len(payload) - len(length) - 1:
        raise ProtocolError("the payload has no valid header")
    start = len(length) + 1
    try:
        header = json.loads(bytes(payload[start:start + int(length)]))
    except (ValueError, RecursionError) as error:
        raise ProtocolError(f"the payload's header is not JSON ({type(error).__name__})") from None
    if not isinstance(header, dict) or not isinstance(header.get("arrays"), dict):
        raise ProtocolError("the payload's header is not an object with arrays")
    body = memoryview(payload)[start + int(length):]
    arrays = {}
    for name, entry in header["arrays"].items():
        arrays[name] = _array(name, entry, body)
    return header.get("meta"), arrays


def _array(name, entry, body):
    if not (isinstance(entry, list) and len(entry) == 4 and isinstance(entry[0], str) and isinstance(entry[1], list)
            and all(type(n) is int and 0 <= n < 2**31 for n in entry[1]) and len(entry[1]) <= 8
            and all(type(n) is int for n in entry[2:])):
        raise ProtocolError(f"array {name!r} is not described as [dtype, shape, offset, n_bytes]")
    dtype_text, shape, offset, n_bytes = entry
    try:
        dtype = np.dtype(dtype_text)
    except (TypeError, ValueError):
        raise ProtocolError(f"array {name!r} has an unknown dtype") from None
    if dtype.kind not in NUMERIC_KINDS or dtype.hasobject or dtype.itemsize > 16:
        raise ProtocolError(f"array {name!r} has a non-numeric dtype {dtype}")
    count = 1
    for n in shape:  # Python integers: a declared shape cannot overflow
        count *= n
    if n_bytes != count * dtype.itemsize or offset < 0 or offset + n_bytes > len(body):
        raise ProtocolError(f"array {name!r} does not fit the payload")
    return np.frombuffer(body, dtype=dtype, count=count, offset=offset).reshape(shape)


@dataclass
class Envelope:
    """A part's payload, checked: how it ended, what it says, and its raw outcome (data, arrays)."""
    outcome: str                  # "ran", "missing" or "load_error"
    message: str = ""
    notes: list = field(default_factory=list)
    data: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict)


OUTCOMES = ("ran", "missing", "load_error")


def envelope(outcome, message="", notes=(), data=None):
    """The meta of a payload (the worker side)."""
    return {"outcome": outcome, "message": message, "notes": list(notes), "data": data or {}}


def open_envelope(payload):
    """Envelope of a payload (the grader side); ProtocolError when it is malformed."""
    meta, arrays = unpack(payload)
    if not isinstance(meta, dict) or meta.get("outcome") not in OUTCOMES:
        raise ProtocolError("the payload's envelope names no outcome")
    notes = expect_list(meta.get("notes", []), MAX_NOTES, "notes")
    return Envelope(meta["outcome"], text(meta.get("message", ""), "message"),
                    [text(note, "note") for note in notes], expect_dict(meta.get("data", {}), "data"), arrays)


# --- checking decoded values (each part's decoder uses these) -----------------------------------------

def text(value, what):
    """A string that crossed the boundary, cut to MAX_TEXT characters."""
    if not isinstance(value, str):
        raise ProtocolError(f"{what} is not a string")
    return value[:MAX_TEXT]


def expect_list(value, max_length, what):
    if not isinstance(value, list) or len(value) > max_length:
        raise ProtocolError(f"{what} is not a list of at most {max_length} entries")
    return value


def expect_dict(value, what, max_length=10_000):
    if not isinstance(value, dict) or len(value) > max_length:
        raise ProtocolError(f"{what} is not an object")
    return value


def expect_int(value, low, high, what):
    if type(value) is not int or not low <= value <= high:
        raise ProtocolError(f"{what} is not an integer from {low} to {high}")
    return value


def bounded_array(arrays, name, max_elements):
    """arrays[name] if it holds at most max_elements numbers, else None (absent or oversized)."""
    array = arrays.get(name)
    if array is None or array.size > max_elements:
        return None
    return array


# --- frames -------------------------------------------------------------------------------------------

class RunStatus(str, Enum):
    """How a part's process ended, as the worker saw it."""
    OK = "ok"
    TIMEOUT = "timeout"
    OVERSIZED = "oversized"   # sent more than MAX_PAYLOAD_BYTES
    EXITED = "exited"         # ended without results; code: its exit status
    SIGNALLED = "signalled"   # killed; code: the signal


@dataclass
class Frame:
    key: str
    status: RunStatus
    code: int = 0
    payload: bytes = b""


def max_frames_bytes(n_frames):
    """The most bytes n_frames frames can take: payloads at their limit, headers at theirs."""
    return n_frames * (MAX_PAYLOAD_BYTES + MAX_FRAME_HEADER)


def frame_bytes(key, status, code=0, payload=b""):
    """One frame as the worker writes it."""
    if status is not RunStatus.OK:
        payload = b""
    return f"PART {key} {status.value} {int(code)} {len(payload)}\n".encode() + payload


class FrameReader:
    """Frames from the worker's stdout, fed in chunks; stops at the first malformed header.

    keys: the parts the grader asked for (a frame for anything else is malformed)."""

    def __init__(self, keys):
        self.keys, self.frames, self.buffer, self.broken = set(keys), {}, bytearray(), False

    @property
    def done(self):
        return self.broken or len(self.frames) == len(self.keys)

    def feed(self, chunk):
        self.buffer += chunk
        while not self.done:
            newline = self.buffer.find(b"\n", 0, MAX_FRAME_HEADER)
            if newline < 0:
                self.broken = len(self.buffer) >= MAX_FRAME_HEADER
                return
            fields = bytes(self.buffer[:newline]).decode("ascii", errors="replace").split(" ")
            if (len(fields) != 5 or fields[0] != "PART" or fields[1] not in self.keys or fields[1] in self.frames
                    or fields[2] not in RunStatus._value2member_map_ or not fields[3].lstrip("-").isdigit()
                    or not fields[4].isdigit() or int(fields[4]) > MAX_PAYLOAD_BYTES):
                self.broken = True
                return
            size = int(fields[4])
            if len(self.buffer) < newline + 1 + size:
                return
            payload = bytes(self.buffer[newline + 1:newline + 1 + size])
            del self.buffer[:newline + 1 + size]
            self.frames[fields[1]] = Frame(fields[1], RunStatus(fields[2]), int(fields[3]), payload)
