"""The benchmark harness behind `make bench`: this project against its peers, one run, one report.

Entry point: ``python -m bench.run`` (see docs/performance.md). Each measured engine runs in its
own subprocess (``python -m bench.worker``) so that thread settings and ``DNNL_MAX_CPU_ISA`` apply
before the framework is imported, and so that one engine's memory does not colour another's.
"""
