"""The benchmark harness behind `make bench`: this project against its peers, one run, one report.

Entry point: ``python -m bench.run`` (see docs/performance.md). Each measured engine runs in its
own subprocess (``python -m bench.worker``) so that thread settings and ``DNNL_MAX_CPU_ISA`` apply
before the framework is imported, and so that one engine's memory does not colour another's.

Layout: :mod:`bench.records` holds what a run measures as frozen dataclasses, with their JSON form
(report.json, worker specs and results); one module measures each section (``engines`` +
``worker`` for QA, ``ner``, ``containers``, ``load``, ``designs``, ``cost``); :mod:`bench.run` calls them in
order and writes report.json; :mod:`bench.report` renders report.md from
:class:`bench.records.BenchResults` alone, so ``python -m bench.report DIR`` re-renders a saved
run. To add a section: its records (and a field of ``BenchResults``, optional in ``from_json``
so older report.json files still render) in ``records``; a module that measures it and returns
them; one call in ``run.main``; a function ``BenchResults -> list[str]`` in ``report``, listed in
``report.SECTIONS``.
"""
