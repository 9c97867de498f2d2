"""Benchmark: the offline TFLM memory plan at the UCI HAR shape (T=128, C=9, K=6).

    nice -n 10 python benchmarks/bench_memory_plan.py bilstm lstm bigru

For each recurrent variant: arena with and without the plan, TFLM head/tail, flash, and whether
TFLM outputs are identical with and without it on 200 fixed windows. Prints one JSON line per
variant and writes them to /tmp/keras_har_memory_plan/bench.json; recorded in
``benchmarks/results/tflite_memory_plan.md``.
"""
import os
import json, subprocess, sys, time
import numpy as np
import keras_har
from keras_har import export

PROBE = ("import sys; from tflite_micro.python.tflite_micro import runtime; "
         "runtime.Interpreter.from_bytes(open(sys.argv[1],'rb').read(), arena_size=int(sys.argv[2])).print_allocations()")

def allocations(path, arena_bytes):
    out = subprocess.run([sys.executable, "-c", PROBE, path, str(arena_bytes)], capture_output=True, text=True)
    out = out.stdout + out.stderr
    return {line.split("Arena allocation ")[1].split()[0]: int(line.split()[-2])
            for line in out.splitlines() if "Arena allocation " in line}

os.makedirs("/tmp/keras_har_memory_plan", exist_ok=True)
rows = {}
windows = np.random.default_rng(123).standard_normal((200, 128, 9)).astype("float32")
for recurrent in sys.argv[1:]:
    model = keras_har.TinierHAR(input_shape=(128, 9), num_classes=6, recurrent=recurrent)
    flatbuffer = export.convert_int8(model, np.random.default_rng(0).standard_normal((32, 128, 9)).astype("float32"))
    started = time.time()
    planned = export.add_offline_memory_plan(flatbuffer)
    plan_seconds = time.time() - started
    row = {"plan_seconds": round(plan_seconds, 2), "flash_bytes": [len(flatbuffer), len(planned)]}
    row.update(export.describe_memory_plan(planned))
    window = windows[0]
    for key, fb in (("online", flatbuffer), ("offline", planned)):
        path = f"/tmp/keras_har_memory_plan/bench_{recurrent}_{key}.tflite"
        open(path, "wb").write(fb)
        arena = export.find_arena_bytes(fb, window=window)
        row[f"arena_{key}"] = arena
        row[f"allocations_{key}"] = allocations(path, arena)
        row[f"allocations_large_arena_{key}"] = allocations(path, 1 << 20)
    online = export.run_tflm(flatbuffer, windows, arena_bytes=row["arena_online"])
    offline = export.run_tflm(planned, windows, arena_bytes=row["arena_offline"])
    row["identical_windows"] = int((online == offline).all(-1).sum())
    row["windows"] = len(windows)
    row["distinct_outputs"] = len({tuple(r) for r in online})
    rows[recurrent] = row
    print(recurrent, json.dumps(row), flush=True)
json.dump(rows, open("/tmp/keras_har_memory_plan/bench.json", "w"), indent=1)
