"""The format raw outputs cross the sandbox's boundary in: JSON and numbers, nothing that runs.

    header line: the byte length of the JSON part
    JSON: {"meta": {...}, "arrays": {name: [dtype, shape, offset, n_bytes]}}
    then the arrays' bytes, concatenated

unpack checks every dtype (numbers only) and every offset and size against the payload; anything
malformed raises ValueError. No pickle is involved on either side.
"""

import json

import numpy as np

NUMERIC_KINDS = "biufc"


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


def unpack(payload):
    """(meta, {name: numpy array}) from pack's bytes; ValueError when anything does not add up."""
    length, _, rest = payload.partition(b"\n")
    if not length.isdigit() or int(length) > len(rest):
        raise ValueError("the payload has no valid header")
    header = json.loads(rest[:int(length)])
    body = memoryview(rest)[int(length):]
    arrays = {}
    for name, (dtype, shape, offset, n_bytes) in header["arrays"].items():
        dtype = np.dtype(dtype)
        if dtype.kind not in NUMERIC_KINDS or dtype.hasobject:
            raise ValueError(f"array {name!r} has a non-numeric dtype {dtype}")
        count = int(np.prod(shape)) if shape else 1
        if n_bytes != count * dtype.itemsize or offset < 0 or offset + n_bytes > len(body):
            raise ValueError(f"array {name!r} does not fit the payload")
        arrays[name] = np.frombuffer(body, dtype=dtype, count=count, offset=offset).reshape(shape)
    return header["meta"], arrays
