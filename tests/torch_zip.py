"""Writes ``torch.save``-format archives without PyTorch, for tests of the checkpoint reader.

The layout is the one of the committed official checkpoint: a zip with
``<archive>/data.pkl`` (pickle protocol 2), ``<archive>/version`` and one raw
little-endian record ``<archive>/data/<key>`` per storage. The pickle is
written opcode by opcode, exactly as ``torch.save`` writes a ``state_dict``
of contiguous tensors: an ``OrderedDict`` of ``_rebuild_tensor_v2`` calls on
persistent storage ids.
"""

import pickle
import struct
import zipfile

import numpy as np

_STORAGE_NAMES = {
    np.dtype("float32"): "FloatStorage", np.dtype("float64"): "DoubleStorage",
    np.dtype("float16"): "HalfStorage", np.dtype("int64"): "LongStorage",
}


def _unicode(text):
    data = text.encode("utf-8")
    return pickle.BINUNICODE + struct.pack("<I", len(data)) + data


def _int(value):
    return pickle.BININT + struct.pack("<i", value)


def _global(module, name):
    return pickle.GLOBAL + f"{module}\n{name}\n".encode("ascii")


def _tuple(items):
    return pickle.MARK + b"".join(items) + pickle.TUPLE


def tensor_opcodes(storage_name, key, numel, offset, size, stride):
    """The pickle opcodes of one ``_rebuild_tensor_v2`` call."""
    persistent_id = _tuple([_unicode("storage"), _global("torch", storage_name), _unicode(key), _unicode("cpu"),
                            _int(numel)])
    return (
        _global("torch._utils", "_rebuild_tensor_v2")
        + pickle.MARK
        + persistent_id + pickle.BINPERSID
        + _int(offset)
        + _tuple([_int(n) for n in size])
        + _tuple([_int(s) for s in stride])
        + pickle.NEWFALSE
        + _global("collections", "OrderedDict") + pickle.EMPTY_TUPLE + pickle.REDUCE
        + pickle.TUPLE + pickle.REDUCE
    )


def state_dict_pickle(entries):
    """``entries``: (key, opcodes of its value) pairs -> pickle bytes of an ``OrderedDict``."""
    body = b"".join(_unicode(key) + value for key, value in entries)
    return (pickle.PROTO + b"\x02" + _global("collections", "OrderedDict") + pickle.EMPTY_TUPLE + pickle.REDUCE
            + pickle.MARK + body + pickle.SETITEMS + pickle.STOP)


def write_archive(path, pickle_bytes, storages, archive="archive"):
    """Writes the zip: ``storages`` maps storage key -> raw bytes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zipped:
        zipped.writestr(f"{archive}/data.pkl", pickle_bytes)
        zipped.writestr(f"{archive}/byteorder", "little")
        for key, data in storages.items():
            zipped.writestr(f"{archive}/data/{key}", data)
        zipped.writestr(f"{archive}/version", "3\n")


def write_pth(path, state):
    """Writes a ``state_dict`` of NumPy arrays as ``torch.save`` would (contiguous tensors)."""
    entries, storages = [], {}
    for index, (key, array) in enumerate(state.items()):
        array = np.ascontiguousarray(array)
        storage = str(index)
        strides = tuple(s // array.itemsize for s in array.strides)
        entries.append((key, tensor_opcodes(_STORAGE_NAMES[array.dtype], storage, array.size, 0, array.shape,
                                            strides)))
        storages[storage] = array.astype(array.dtype.newbyteorder("<")).tobytes()
    write_archive(path, state_dict_pickle(entries), storages)
