"""Reads a PyTorch ``state_dict`` file without PyTorch and without running its code.

A ``.pth`` written by ``torch.save`` (PyTorch 1.6 and later) is a zip archive:
``<archive>/data.pkl`` is a pickle of the ``state_dict`` whose tensors point,
through pickle "persistent ids", at raw little-endian storages
``<archive>/data/<key>``. Unpickling such a file with ``pickle.load`` or
``torch.load(weights_only=False)`` runs whatever functions the pickle names,
so a tampered checkpoint can execute arbitrary code. Here the pickle is read
by a restricted unpickler that resolves exactly these globals and refuses
every other one before anything is called:

- ``collections.OrderedDict`` (the ``state_dict`` container);
- ``torch._utils._rebuild_tensor_v2``, ``torch._utils._rebuild_tensor`` and
  ``torch._utils._rebuild_parameter``, replaced by NumPy functions that
  slice a storage;
- ``torch.<Type>Storage`` names, which only say the storage's dtype.

The pickle opcodes that build arbitrary objects (``INST``, ``OBJ``,
``NEWOBJ``, ``NEWOBJ_EX`` and the extension-registry codes) are refused as
well. This module imports neither TensorFlow nor PyTorch.
"""

import collections
import io
import os
import pickle
import pickletools
import zipfile

import numpy as np

# torch storage class name -> NumPy dtype of its raw bytes (little-endian).
_STORAGE_DTYPES = {
    "FloatStorage": "<f4",
    "DoubleStorage": "<f8",
    "HalfStorage": "<f2",
    "BFloat16Storage": "<u2",  # widened to float32 on read
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}

# Opcodes that create instances of arbitrary classes. A state_dict needs none of them.
_REFUSED_OPCODES = {"INST", "OBJ", "NEWOBJ", "NEWOBJ_EX", "EXT1", "EXT2", "EXT4"}


class UnsafeCheckpointError(ValueError):
    """A checkpoint's pickle asks for something other than rebuilding tensors."""


def read_state_dict(path):
    """Reads a PyTorch ``state_dict`` from a ``.pth`` file or an ``.npz`` of it.

    The format is recognised from the content, not the file name: a zip with
    a ``data.pkl`` record is a ``torch.save`` archive, a zip of ``.npy``
    arrays is an ``.npz`` (read with ``allow_pickle=False``). The pickle of a
    ``.pth`` is read without PyTorch and without running any of its code
    (see the module docstring).

    Args:
        path: the checkpoint file.

    Returns:
        A dict from the ``state_dict``'s keys, in file order, to NumPy arrays.

    Raises:
        FileNotFoundError: the file does not exist.
        UnsafeCheckpointError: the pickle refers to anything but the
            tensor-rebuild functions (a ``ValueError``).
        ValueError: the file is not a ``state_dict`` in either format.

    Example:
    >>> import numpy as np, keras_har.models.torch_state_dict as torch_state_dict
    >>> np.savez("/tmp/keras_har_state.npz", **{"fc.weight": np.ones((2, 3), "float32")})
    >>> torch_state_dict.read_state_dict("/tmp/keras_har_state.npz")["fc.weight"].shape
    (2, 3)
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such checkpoint file. Received: path={path!r}")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            "The checkpoint is not a zip archive, so it is neither a `torch.save` file of PyTorch 1.6 or "
            "later nor an `.npz`. Re-save it with a recent PyTorch (`torch.save(model.state_dict(), path)`), "
            f"or save its tensors with `numpy.savez`. Received: path={path!r}"
        )
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    if any(name == "data.pkl" or name.endswith("/data.pkl") for name in names):
        return _read_torch_zip(path)
    if names and all(name.endswith(".npy") for name in names):
        return _read_npz(path)
    raise ValueError(
        "The zip archive holds neither a `data.pkl` record (a `torch.save` file) nor only `.npy` arrays "
        f"(an `.npz`). Received: path={path!r}"
    )


def _read_npz(path):
    try:
        with np.load(path, allow_pickle=False) as arrays:
            return {key: np.asarray(arrays[key]) for key in arrays.files}
    except ValueError as error:
        raise ValueError(
            f"The `.npz` holds an array that needs pickle (an object array): {error}. Received: path={path!r}"
        ) from None


def _read_torch_zip(path):
    with zipfile.ZipFile(path) as archive:
        pickles = [name for name in archive.namelist() if name == "data.pkl" or name.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise ValueError(
                f"A `torch.save` archive has exactly one `data.pkl`; this one has {len(pickles)}: {pickles}. "
                f"Received: path={path!r}"
            )
        prefix = pickles[0][: -len("data.pkl")]
        byteorder = "little"
        if f"{prefix}byteorder" in archive.namelist():
            byteorder = archive.read(f"{prefix}byteorder").decode("ascii", "replace").strip()
        if byteorder not in ("little", "big"):
            raise ValueError(f"Unknown byte order {byteorder!r} in the archive. Received: path={path!r}")
        data = archive.read(pickles[0])
        _check_opcodes(data, path)
        storages = {}

        def read_storage(key, dtype, numel):
            if key not in storages:
                record = f"{prefix}data/{key}"
                if record not in archive.namelist():
                    raise ValueError(f"The pickle refers to storage {key!r}, but `{record}` is missing. "
                                     f"Received: path={path!r}")
                storages[key] = archive.read(record)
            raw = storages[key]
            dtype = np.dtype(dtype).newbyteorder("<" if byteorder == "little" else ">")
            if len(raw) < numel * dtype.itemsize:
                raise ValueError(
                    f"Storage {key!r} has {len(raw)} bytes, fewer than its {numel} elements of {dtype} need. "
                    f"Received: path={path!r}"
                )
            return np.frombuffer(raw, dtype=dtype, count=numel)

        try:
            state = _RestrictedUnpickler(io.BytesIO(data), read_storage, path).load()
        except UnsafeCheckpointError:
            raise
        except ValueError as error:
            message = str(error)
            raise ValueError(message if "Received:" in message else f"{message} Received: path={path!r}") from None
        except Exception as error:  # a malformed pickle: EOF, bad memo, wrong arity, ...
            raise ValueError(f"The checkpoint's pickle could not be read: {error!r}. Received: path={path!r}") from None
    return _check_state_dict(state, path)


def _check_opcodes(data, path):
    try:
        for opcode, _, _ in pickletools.genops(data):
            if opcode.name in _REFUSED_OPCODES:
                raise UnsafeCheckpointError(
                    f"The checkpoint's pickle uses opcode {opcode.name}, which builds arbitrary objects; a "
                    f"state_dict needs only tensors. Refusing to load it. Received: path={path!r}"
                )
    except UnsafeCheckpointError:
        raise
    except Exception as error:
        raise ValueError(f"The checkpoint's pickle is malformed: {error}. Received: path={path!r}") from None


def _check_state_dict(state, path):
    if not isinstance(state, dict):
        raise ValueError(
            "The checkpoint holds a pickled "
            f"{type(state).__name__}, not a state_dict (a mapping of names to tensors). Save "
            f"`model.state_dict()`, not the model. Received: path={path!r}"
        )
    result = {}
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, np.ndarray):
            raise ValueError(
                f"A state_dict maps names to tensors, but key {key!r} holds a {type(value).__name__}. "
                f"Received: path={path!r}"
            )
        result[key] = value
    return result


class _StorageType:
    """What ``torch.FloatStorage`` and its kin become: only a dtype."""

    __slots__ = ("name", "dtype")

    def __init__(self, name, dtype):
        self.name = name
        self.dtype = dtype


class _Storage:
    __slots__ = ("key", "array", "bfloat16")

    def __init__(self, key, array, bfloat16):
        self.key = key
        self.array = array
        self.bfloat16 = bfloat16


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _int_tuple(value):
    return isinstance(value, tuple) and all(_is_int(v) and v >= 0 for v in value)


class _Rebuild:
    """A callable that stands for one of torch's tensor-rebuild functions."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __call__(self, *args):
        if self.name == "_rebuild_parameter":
            if len(args) not in (3, 4) or not isinstance(args[0], np.ndarray):
                raise ValueError(f"torch._utils._rebuild_parameter got unexpected arguments: {args!r}")
            return args[0]
        # _rebuild_tensor(storage, offset, size, stride) and
        # _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks[, metadata]).
        if len(args) < 4 or not isinstance(args[0], _Storage):
            raise ValueError(f"torch._utils.{self.name} got unexpected arguments: {args!r}")
        storage, offset, size, stride = args[:4]
        if not (_is_int(offset) and offset >= 0 and _int_tuple(size) and _int_tuple(stride)
                and len(size) == len(stride)):
            raise ValueError(f"torch._utils.{self.name} got an invalid offset, size or stride: {args[1:4]!r}")
        array = storage.array
        if int(np.prod(size, dtype=np.int64)) > max(len(array), 1):
            # Only overlapping (e.g. stride-0 expanded) views hold more elements than their storage;
            # a state_dict has none, and a crafted one could ask for any amount of memory.
            raise ValueError(
                f"A tensor of size {size} has more elements than its storage {storage.key!r} ({len(array)})."
            )
        if 0 in size:
            result = np.zeros(size, dtype=array.dtype)
        else:
            last = offset + sum((n - 1) * s for n, s in zip(size, stride))
            if last >= len(array):
                raise ValueError(
                    f"A tensor of size {size} and stride {stride} at offset {offset} reaches element {last} "
                    f"of storage {storage.key!r}, which has {len(array)}."
                )
            view = np.lib.stride_tricks.as_strided(
                array[offset:], shape=size, strides=[s * array.itemsize for s in stride], writeable=False
            )
            result = np.array(view, dtype=array.dtype.newbyteorder("="))
        if storage.bfloat16:
            result = (result.astype(np.uint32) << 16).view(np.float32)
        return result


_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): lambda: collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): lambda: _Rebuild("_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_tensor"): lambda: _Rebuild("_rebuild_tensor"),
    ("torch._utils", "_rebuild_parameter"): lambda: _Rebuild("_rebuild_parameter"),
}
_ALLOWED_GLOBALS.update({
    ("torch", name): (lambda name=name, dtype=dtype: _StorageType(name, dtype))
    for name, dtype in _STORAGE_DTYPES.items()
})


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, read_storage, path):
        super().__init__(file)
        self._read_storage = read_storage
        self._path = path

    def find_class(self, module, name):
        make = _ALLOWED_GLOBALS.get((module, name))
        if make is None:
            raise UnsafeCheckpointError(
                f"The checkpoint's pickle asks for the global `{module}.{name}`. Only what a state_dict needs "
                "(collections.OrderedDict, torch._utils._rebuild_tensor_v2, _rebuild_tensor, "
                "_rebuild_parameter and the torch.<Type>Storage names) is allowed, so the checkpoint is "
                f"refused before any of its code runs. Received: path={self._path!r}"
            )
        return make()

    def persistent_load(self, pid):
        # ("storage", storage_type, key, location, numel), as torch.save writes it.
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and isinstance(pid[2], str)
                and isinstance(pid[3], str) and _is_int(pid[4]) and pid[4] >= 0):
            raise ValueError(f"Unexpected persistent id {pid!r} in the checkpoint. Received: path={self._path!r}")
        storage_type, key, numel = pid[1], pid[2], pid[4]
        array = self._read_storage(key, storage_type.dtype, numel)
        return _Storage(key, array, bfloat16=storage_type.name == "BFloat16Storage")
