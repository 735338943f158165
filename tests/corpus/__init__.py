"""A corpus of malformed and hostile bundles, generated at test time (nothing big is committed).

``tests.corpus.cases.CASES`` is the table: each case names its incident, builds its bundle into a
temporary folder (from ``tests/tiny.py`` rows, or a ``rosterlab.synth`` night with a named
incident) and states the exact outcome of ``rosterlab ingest``: the findings (code, entity, field,
value, row) or the one-line error. ``tests/test_corpus.py`` runs the table through the real CLI;
``docs/reliability.md`` lists it. ``tests.corpus.faults`` holds the child processes the crash and
concurrency tests kill or race.
"""
