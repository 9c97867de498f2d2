"""An offline memory plan for TFLite Micro: activation offsets computed on the host.

TFLM places every activation tensor in the head of its arena with an online
greedy planner (largest buffer first, lowest gap that fits). On TinierHAR's
BiLSTM that plan is about 2.3 KB above what the tensor lifetimes allow. TFLM
also accepts a plan made in advance, stored in the model's metadata under
the name ``OfflineMemoryAllocation`` (see ``micro_allocation_info.cc`` and
``docs/memory_management.md`` in tensorflow/tflite-micro). The metadata
buffer is an int32 array::

    [version, subgraph, n, offset of tensor 0, ..., offset of tensor n-1]

where ``n`` is the number of tensors of all subgraphs, an offset is in bytes
from the start of the arena's head, and -1 leaves a tensor to the online
planner. TFLM reads only ``n`` and the offsets; it does not check that the
plan is valid, so `plan_memory` checks it here (`check_plan`). Op scratch
buffers are requested by kernels at ``Prepare`` time and stay online: TFLM
fits them around the fixed offsets.

Lifetimes follow TFLM's ``AllocationInfoBuilder``: allocation scope 0 is the
start of the subgraph, op ``i`` runs in scope ``i + 1``; a tensor lives from
the op that writes it to the last op that reads it, subgraph inputs from
scope 0, subgraph outputs to the end (after the last op, where the caller
reads them). Some TFLM versions also mark outputs as created at scope 0;
that only makes TFLM's own view more conservative (it fits the online
scratch buffers around a longer lifetime), while the data an output holds
is written by its producer, which is where it starts here.

Example:
    >>> import numpy as np, keras_har
    >>> from keras_har import export
    >>> model = keras_har.TinierHAR(input_shape=(32, 3), num_classes=4)
    >>> flatbuffer = export.convert_int8(model, np.zeros((4, 32, 3), "float32"))  # doctest: +SKIP
    >>> planned = export.add_offline_memory_plan(flatbuffer)  # doctest: +SKIP
    >>> export.describe_memory_plan(planned)["planned_bytes"]  # doctest: +SKIP
"""

import dataclasses
import random

import numpy as np

OFFLINE_MEMORY_ALLOCATION = "OfflineMemoryAllocation"
# TFLM ignores the first two words; these are the values its docs describe.
_FORMAT_VERSION = 1
_SUBGRAPH_INDEX = 0
# TFLM aligns every arena buffer to 16 bytes (MicroArenaBufferAlignment()).
TFLM_BUFFER_ALIGNMENT = 16
_ONLINE = -1

# Bytes per element of each TFLite TensorType that can hold an activation.
_TYPE_BYTES = {
    "FLOAT32": 4, "FLOAT16": 2, "INT32": 4, "UINT8": 1, "INT64": 8, "BOOL": 1, "INT16": 2,
    "INT8": 1, "FLOAT64": 8, "UINT64": 8, "UINT32": 4, "UINT16": 2, "COMPLEX64": 8,
}


@dataclasses.dataclass(frozen=True)
class TensorLifetime:
    """One activation tensor that TFLM places in the arena's head.

    Attributes:
        tensor_index: index in the subgraph's tensor list.
        size_bytes: bytes, rounded up to the arena alignment as TFLM does.
        first_scope: TFLM allocation scope in which it is created (0: before the first op).
        last_scope: last scope in which it is read (inclusive).
    """

    tensor_index: int
    size_bytes: int
    first_scope: int
    last_scope: int

    def overlaps_in_time(self, other):
        return not (self.last_scope < other.first_scope or other.last_scope < self.first_scope)


def _schema():
    from tensorflow.lite.python import schema_py_generated as schema

    return schema


def _load(flatbuffer):
    """Parses ``.tflite`` bytes into a mutable ``ModelT``, with a clear error for anything else."""
    schema = _schema()
    if not isinstance(flatbuffer, (bytes, bytearray, memoryview)):
        raise ValueError(
            f"`flatbuffer` must be the bytes of a .tflite model. Received: type={type(flatbuffer).__name__}"
        )
    data = bytearray(flatbuffer)
    if len(data) < 8 or not schema.Model.ModelBufferHasIdentifier(data, 0):
        raise ValueError(
            "`flatbuffer` is not a TFLite model: it lacks the 'TFL3' file identifier. "
            f"Received: {len(data)} bytes starting with {bytes(data[:8])!r}"
        )
    try:
        model = schema.ModelT.InitFromPackedBuf(data, 0)
    except Exception as error:  # a truncated or corrupt flatbuffer fails anywhere inside the generated code
        raise ValueError(f"`flatbuffer` could not be parsed as a TFLite model: {error}. "
                         f"Received: {len(data)} bytes") from error
    if not model.subgraphs:
        raise ValueError("`flatbuffer` has no subgraph. Received: subgraphs=0")
    return model


def _tensor_bytes(tensor, type_names):
    name = type_names.get(tensor.type, str(tensor.type))
    if name not in _TYPE_BYTES:
        raise ValueError(f"Cannot size a tensor of type {name} for the memory plan. Received: type={name}")
    shape = [] if tensor.shape is None else [int(d) for d in tensor.shape]
    if any(d < 0 for d in shape):
        raise ValueError(
            "The memory plan needs static shapes (TFLM does not resize tensors); convert with a fixed batch. "
            f"Received: shape={shape}"
        )
    return int(np.prod(shape, dtype=np.int64)) * _TYPE_BYTES[name]


def _align(size_bytes, alignment):
    return -(-size_bytes // alignment) * alignment


def tensor_lifetimes(flatbuffer, *, alignment=TFLM_BUFFER_ALIGNMENT):
    """The activation tensors of the model and when each is alive, in TFLM's terms.

    A tensor is planned when TFLM would allocate it in the head: it has no
    constant data, is not a variable (TFLM keeps variables, such as the LSTM
    state, in the persistent tail) and has a non-zero size (the int8 LSTM's
    empty "intermediate" tensors).

    Args:
        flatbuffer: ``.tflite`` bytes with one subgraph.
        alignment: TFLM's arena alignment; sizes are rounded up to it.

    Returns:
        list of `TensorLifetime`, in tensor order.

    Raises:
        ValueError: the bytes are not a TFLite model, it has several
            subgraphs (control flow), or a tensor has a dynamic shape.
    """
    model = _load(flatbuffer)
    return _lifetimes(model, alignment)


def _lifetimes(model, alignment):
    schema = _schema()
    if len(model.subgraphs) != 1:
        raise ValueError(
            "The offline memory plan supports single-subgraph models only (no WHILE/IF control flow). "
            f"Received: subgraphs={len(model.subgraphs)}"
        )
    type_names = {value: name for name, value in vars(schema.TensorType).items() if not name.startswith("_")}
    subgraph = model.subgraphs[0]
    operators = subgraph.operators or []
    end_scope = len(operators)
    inputs = {int(i) for i in (subgraph.inputs if subgraph.inputs is not None else [])}
    outputs = {int(i) for i in (subgraph.outputs if subgraph.outputs is not None else [])}
    first, last = {}, {}
    for index in inputs:
        first[index] = 0
        last[index] = 0
    for op_index, op in enumerate(operators):
        scope = op_index + 1
        for index in (op.outputs if op.outputs is not None else []):
            first.setdefault(int(index), scope)
            last[int(index)] = max(last.get(int(index), scope), scope)
        for index in (op.inputs if op.inputs is not None else []):
            if index >= 0:  # -1 marks an omitted optional input
                last[int(index)] = max(last.get(int(index), scope), scope)
    for index in outputs:
        first.setdefault(index, 0)  # an output that no op writes is there from the start, as in TFLM
        last[index] = end_scope

    lifetimes = []
    for index, tensor in enumerate(subgraph.tensors):
        buffer = model.buffers[tensor.buffer] if tensor.buffer < len(model.buffers) else None
        constant = buffer is not None and buffer.data is not None and len(buffer.data) > 0
        if constant or tensor.isVariable:
            continue
        size_bytes = _tensor_bytes(tensor, type_names)
        if size_bytes == 0 or index not in first:
            # Never written by an op nor fed from outside: left to TFLM as it is.
            continue
        lifetimes.append(TensorLifetime(index, _align(size_bytes, alignment), first[index], last[index]))
    return lifetimes


def lower_bound_bytes(lifetimes):
    """The most bytes alive at once: no plan of these tensors can use less."""
    if not lifetimes:
        return 0
    end = max(t.last_scope for t in lifetimes)
    alive = np.zeros(end + 2, dtype=np.int64)
    for t in lifetimes:
        alive[t.first_scope] += t.size_bytes
        alive[t.last_scope + 1] -= t.size_bytes
    return int(np.cumsum(alive).max())


def plan_peak_bytes(lifetimes, offsets):
    """The head bytes a plan needs: the highest end of any planned tensor."""
    return max((offsets[t.tensor_index] + t.size_bytes for t in lifetimes), default=0)


def check_plan(lifetimes, offsets, *, alignment=TFLM_BUFFER_ALIGNMENT):
    """Raises ValueError unless every tensor has an aligned offset and no two live tensors share a byte."""
    for t in lifetimes:
        offset = offsets.get(t.tensor_index)
        if offset is None or offset < 0 or offset % alignment:
            raise ValueError(
                f"Tensor {t.tensor_index} needs a non-negative offset that is a multiple of {alignment}. "
                f"Received: offset={offset}"
            )
    ordered = sorted(lifetimes, key=lambda t: offsets[t.tensor_index])
    for i, a in enumerate(ordered):
        a_end = offsets[a.tensor_index] + a.size_bytes
        for b in ordered[i + 1:]:
            if offsets[b.tensor_index] >= a_end:
                break
            if a.overlaps_in_time(b):
                raise ValueError(
                    f"Tensors {a.tensor_index} and {b.tensor_index} are alive at the same time and overlap in "
                    f"memory. Received: offsets={offsets[a.tensor_index]}+{a.size_bytes}, "
                    f"{offsets[b.tensor_index]}+{b.size_bytes}; scopes=[{a.first_scope}, {a.last_scope}], "
                    f"[{b.first_scope}, {b.last_scope}]"
                )


def _place(ordered, best_fit):
    """Places tensors one by one in the given order; each goes to a free gap (lowest or tightest)."""
    placed = []  # (offset, end, lifetime)
    offsets = {}
    peak = 0
    for t in ordered:
        busy = sorted((offset, end) for offset, end, other in placed if t.overlaps_in_time(other))
        candidate, chosen, chosen_gap = 0, None, None
        for offset, end in busy:
            gap = offset - candidate
            if gap >= t.size_bytes:
                if not best_fit:
                    chosen = candidate
                    break
                if chosen_gap is None or gap < chosen_gap:
                    chosen, chosen_gap = candidate, gap
            candidate = max(candidate, end)
        if chosen is None:
            chosen = candidate
        offsets[t.tensor_index] = chosen
        placed.append((chosen, chosen + t.size_bytes, t))
        peak = max(peak, chosen + t.size_bytes)
    return peak, offsets


def plan_memory(lifetimes, *, seed=0, iterations=2000, alignment=TFLM_BUFFER_ALIGNMENT):
    """Offsets for the tensors that keep the head small; checked before they are returned.

    Placing intervals of memory over time at the smallest peak is NP-hard in
    general, so this is a heuristic: greedy placement (first-fit and
    best-fit) in several deterministic orders (by size, by lifetime, by
    size x lifetime, by creation), then a seeded local search on the best
    order that moves a tensor ending at the peak earlier, or swaps two
    tensors, and keeps any change that does not raise the peak. It stops
    when the peak reaches `lower_bound_bytes`, which proves the plan
    optimal for these lifetimes.

    Args:
        lifetimes: from `tensor_lifetimes`.
        seed: seed of the local search (the result is deterministic).
        iterations: local-search steps.
        alignment: the alignment every offset must keep (sizes in
            ``lifetimes`` are already rounded up to it).

    Returns:
        dict tensor index -> byte offset.
    """
    lifetimes = list(lifetimes)
    if not lifetimes:
        return {}
    bound = lower_bound_bytes(lifetimes)

    def duration(t):
        return t.last_scope - t.first_scope + 1

    orders = [
        sorted(lifetimes, key=lambda t: (-t.size_bytes, -duration(t), t.tensor_index)),
        sorted(lifetimes, key=lambda t: (-duration(t), -t.size_bytes, t.tensor_index)),
        sorted(lifetimes, key=lambda t: (-t.size_bytes * duration(t), t.tensor_index)),
        sorted(lifetimes, key=lambda t: (t.first_scope, -t.size_bytes, t.tensor_index)),
    ]
    best = None
    for order in orders:
        for best_fit in (False, True):
            peak, offsets = _place(order, best_fit)
            if best is None or peak < best[0]:
                best = (peak, offsets, order, best_fit)
    rng = random.Random(seed)
    peak, offsets, order, best_fit = best
    for _ in range(iterations if len(order) > 1 else 0):
        if peak <= bound:
            break
        trial = list(order)
        if rng.random() < 0.5:
            # Move a tensor that reaches the peak earlier, so it is placed before whatever pushed it up.
            top = [k for k, t in enumerate(order) if offsets[t.tensor_index] + t.size_bytes == peak]
            k = rng.choice(top)
            trial.insert(rng.randrange(k + 1), trial.pop(k))
        else:
            i, j = rng.sample(range(len(order)), 2)
            trial[i], trial[j] = trial[j], trial[i]
        trial_peak, trial_offsets = _place(trial, best_fit)
        if trial_peak <= peak:
            peak, offsets, order = trial_peak, trial_offsets, trial
    check_plan(lifetimes, offsets, alignment=alignment)
    return offsets


def add_offline_memory_plan(flatbuffer, *, alignment=TFLM_BUFFER_ALIGNMENT, seed=0, iterations=2000):
    """Returns the model with an ``OfflineMemoryAllocation`` plan for its activation tensors.

    Weights, variables and empty tensors get -1 (TFLM does not place them in
    the head anyway); op scratch buffers stay with TFLM's online planner. An
    existing plan is replaced. The arithmetic is unchanged: only where each
    tensor lives in the arena moves.

    Args:
        flatbuffer: ``.tflite`` bytes with one subgraph and static shapes.
        alignment: TFLM's arena alignment (16 in TFLM).
        seed, iterations: see `plan_memory`.

    Returns:
        The ``.tflite`` bytes with the plan.

    Raises:
        ValueError: malformed model, several subgraphs, dynamic shapes.
    """
    model = _load(flatbuffer)
    offsets = plan_memory(_lifetimes(model, alignment), seed=seed, iterations=iterations, alignment=alignment)
    return _write_offsets(model, offsets)


def _write_offsets(model, offsets):
    """Serialises ``model`` with ``offsets`` (tensor index -> byte offset) as its only offline plan.

    Not checked: `add_offline_memory_plan` checks its plan first; tests use
    this directly to write a wrong plan on purpose.
    """
    from tensorflow.lite.tools import flatbuffer_utils

    schema = _schema()
    tensor_count = sum(len(subgraph.tensors) for subgraph in model.subgraphs)
    words = [_FORMAT_VERSION, _SUBGRAPH_INDEX, tensor_count]
    words += [int(offsets.get(index, _ONLINE)) for index in range(tensor_count)]
    data = np.asarray(words, dtype="<i4").view(np.uint8)

    metadata = [m for m in (model.metadata or []) if _name(m.name) != OFFLINE_MEMORY_ALLOCATION]
    existing = [m for m in (model.metadata or []) if _name(m.name) == OFFLINE_MEMORY_ALLOCATION]
    if existing:
        buffer_index = existing[0].buffer  # reuse its buffer rather than leave an orphan
        model.buffers[buffer_index].data = data
    else:
        buffer = schema.BufferT()
        buffer.data = data
        model.buffers.append(buffer)
        buffer_index = len(model.buffers) - 1
    entry = schema.MetadataT()
    entry.name = OFFLINE_MEMORY_ALLOCATION
    entry.buffer = buffer_index
    model.metadata = metadata + [entry]
    planned = bytes(flatbuffer_utils.convert_object_to_bytearray(model))
    read_back = read_offline_memory_plan(planned)
    if read_back is None or list(read_back) != words[3:]:
        raise RuntimeError("The offline memory plan did not survive serialisation.")
    return planned


def _name(name):
    return name.decode() if isinstance(name, bytes) else name


def read_offline_memory_plan(flatbuffer):
    """The per-tensor offsets of a model's ``OfflineMemoryAllocation`` metadata, or None without one.

    Raises:
        ValueError: the metadata is malformed (wrong length, tensor count
            that TFLM would reject, or a buffer TFLM would read unaligned).
    """
    schema = _schema()
    model = _load(flatbuffer)
    entries = [i for i, m in enumerate(model.metadata or []) if _name(m.name) == OFFLINE_MEMORY_ALLOCATION]
    if not entries:
        return None
    buffer_index = model.metadata[entries[0]].buffer
    raw = np.asarray(model.buffers[buffer_index].data if model.buffers[buffer_index].data is not None else [],
                     dtype=np.uint8)
    if raw.size < 12 or raw.size % 4:
        raise ValueError(f"{OFFLINE_MEMORY_ALLOCATION} metadata must be int32 words [version, subgraph, n, "
                         f"offsets...]. Received: {raw.size} bytes")
    words = raw.view("<i4")
    tensor_count = sum(len(subgraph.tensors) for subgraph in model.subgraphs)
    if int(words[2]) != tensor_count or words.size != 3 + tensor_count:
        raise ValueError(
            f"{OFFLINE_MEMORY_ALLOCATION} metadata must hold one offset per tensor ({tensor_count}); TFLM "
            f"refuses the model otherwise. Received: n={int(words[2])}, offsets={words.size - 3}"
        )
    # TFLM reads the buffer as uint32 in place: its data must start 4-byte aligned in the file.
    root = schema.Model.GetRootAs(bytearray(flatbuffer), 0)
    table = root.Buffers(buffer_index)._tab
    start = table.Vector(table.Offset(4))
    if start % 4:
        raise ValueError(f"{OFFLINE_MEMORY_ALLOCATION} data starts at byte {start}, not 4-byte aligned; "
                         f"TFLM reads it as int32. Received: start={start}")
    return words[3:].astype(np.int64)


def describe_memory_plan(flatbuffer, *, alignment=TFLM_BUFFER_ALIGNMENT):
    """Facts about a model's activation memory.

    Returns:
        dict with ``planned_tensors`` (tensors TFLM places in the head),
        ``lower_bound_bytes`` (most bytes alive at once), ``offline_plan``
        (whether the model carries ``OfflineMemoryAllocation``), and with a
        plan, ``planned_bytes`` (the head the plan needs before scratch
        buffers) and ``online_tensors`` (planned tensors the metadata leaves to
        TFLM).
    """
    lifetimes = tensor_lifetimes(flatbuffer, alignment=alignment)
    offsets = read_offline_memory_plan(flatbuffer)
    facts = {
        "planned_tensors": len(lifetimes),
        "lower_bound_bytes": lower_bound_bytes(lifetimes),
        "offline_plan": offsets is not None,
    }
    if offsets is not None:
        fixed = [t for t in lifetimes if offsets[t.tensor_index] != _ONLINE]
        fixed_offsets = {t.tensor_index: int(offsets[t.tensor_index]) for t in fixed}
        check_plan(fixed, fixed_offsets, alignment=alignment)
        facts["planned_bytes"] = plan_peak_bytes(fixed, fixed_offsets)
        facts["online_tensors"] = len(lifetimes) - len(fixed)
    return facts
