#!/usr/bin/env python3
"""Evaluates EQL queries with the reference implementation (the `eql` package on PyPI).

The second evaluator of analytics/tests/eql_differential.rs. It reads one JSON batch on
stdin:

    {"events": [{...}, ...], "cases": [{"query": "any where ...", "insensitive": false}]}

and prints one JSON document on stdout:

    {"eql": "<version>", "results": [[true, false, ...], ...]}

one list of verdicts per case, one verdict per event of the batch (whether it matches). A query
the package cannot parse or compile is a failure of the whole batch: the script exits 2
and names the query, because every generated query must be one both evaluators accept.

Queries are parsed with Elasticsearch syntax (`:`, `like`, `regex`, `in~`, triple-quoted raw strings).
The package folds case with one global switch (`eql.utils.CASE_INSENSITIVE`), not per
operator, and drops the `~` of `in~`, `like~`, `regex~` and `startsWith~`: a case says
which way it is meant, and the switch is set that way while it is parsed and evaluated.

Runs under the venv scripts/setup.sh makes (/opt/picket-test/eql-venv).
"""

import json
import sys

import eql
import eql.utils
from eql.engine import PythonEngine
from eql.events import Event
from eql.parser import elasticsearch_syntax


def evaluate(case, events):
    eql.utils.CASE_INSENSITIVE = bool(case["insensitive"])
    with elasticsearch_syntax:
        parsed = eql.parse_query(case["query"])
    engine = PythonEngine()
    check = engine._convert_event_query(parsed.first)
    # A match is a truthy verdict; None (the package's null) does not match.
    return [bool(check(Event.from_data(data))) for data in events]


def main():
    batch = json.load(sys.stdin)
    events = batch["events"]
    results = []
    for case in batch["cases"]:
        try:
            results.append(evaluate(case, events))
        except Exception as e:  # noqa: BLE001 - reported with the query, then fail
            print(f"eql could not evaluate {case['query']!r}: {type(e).__name__}: {e}", file=sys.stderr)
            sys.exit(2)
    json.dump({"eql": eql.__version__, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
