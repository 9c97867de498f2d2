"""The command line the row-by-row benchmarks share: ``--output`` (resumable) and ``--table``.

A benchmark gives the jobs it would run, each with the key its result row
will carry, and a function that turns the rows into a markdown table.
Rows already in ``--output`` are skipped; the file is rewritten atomically
after every new row, so an interrupted run resumes where it stopped.
``--table FILE`` prints the table of a results file and runs nothing.
"""

import argparse
import json
import os
import sys

from keras_har.atomic import write_json


def load_rows(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def main(argv, *, description, jobs, row_key, table, add_arguments=None):
    """Runs a row-by-row benchmark's command line.

    Args:
        argv: the arguments (None: ``sys.argv[1:]``).
        description: the ``--help`` description.
        jobs: ``jobs(args)`` yields ``(key, run)``; ``run()`` measures and returns one row (a dict).
        row_key: ``row_key(row)`` gives a finished row's key, to compare with the jobs' keys.
        table: ``table(rows)`` returns the markdown table.
        add_arguments: optional ``add_arguments(parser)`` for the benchmark's own options.

    Returns:
        The exit status, 0.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--output", default=None, help="results JSON (resumed when it exists)")
    parser.add_argument("--table", default=None, help="print the markdown table of a results JSON and exit")
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args(argv)
    if args.table:
        print(table(load_rows(args.table)))
        return 0
    if not args.output:
        parser.error("--output is required unless --table is given")
    rows = load_rows(args.output) if os.path.exists(args.output) else []
    done = {row_key(row) for row in rows}
    for key, run in jobs(args):
        if key in done:
            continue
        rows.append(run())
        write_json(args.output, rows)
        print(f"{key}: done", file=sys.stderr, flush=True)
    print(table(rows))
    return 0
