"""Generate mxnet's Python operator wrappers when they are first called, not at ``import mxnet``.

``import mxnet`` (1.x) writes, compiles and documents a Python function for each of its ~2,300
operator registrations (``mx.nd``, ``mx.sym``, their ``numpy`` namespaces): measured here that
is two thirds of the import, and the import is the largest phase of the QA cold start
(docs/performance.md, "Cold start"). A forward uses about twenty operators.

:func:`install` hooks the import of ``mxnet.base`` so that the two registration functions
(``_init_op_module``, ``_init_np_op_module``) receive a factory that returns a small stand-in per
operator: it has the operator's name and is registered in the same module under the same name,
and on its first call it builds mxnet's own wrapper, exactly as the import would have, and calls
it from then on. Results are the wrappers' results; only their docstrings are empty until used
(``help(mx.nd.FullyConnected)`` shows the generated one after the first call).

The same hook loads the modules in :data:`LAZY_MODULES` with :class:`importlib.util.LazyLoader`:
``import mxnet`` imports ``mxnet.test_utils``, ``mxnet.contrib.onnx`` (the ONNX converters),
``mxnet.contrib.text`` (word embeddings) and ``requests`` (for ``mxnet.gluon.utils.download``),
and serving uses none of them: they now execute on their first attribute access (about 0.3 s of
the import here, docs/performance.md). The hook is active only during ``import mxnet``
(:func:`uninstall` ends it).

It must run before the first ``import mxnet`` of the process (:func:`app.qa.runtime.mxnet`
calls it); after that it does nothing. ``LAMBDA_NLP_EAGER_MXNET_OPS=1`` turns it off.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

OpFactory = Callable[..., Callable[..., Any]]
_HOOKED = ("_init_op_module", "_init_np_op_module")

#: Modules ``import mxnet`` executes that serving never uses: loaded on first attribute access.
LAZY_MODULES = frozenset(
    {"mxnet.test_utils", "mxnet.contrib.onnx", "mxnet.contrib.text", "requests"}
)


def lazy_factory(make: OpFactory) -> OpFactory:
    """``make``, deferred: the wrapper it would return is built on the stand-in's first call."""

    def make_later(handle: Any, name: str, func_name: str, *rest: Any) -> Callable[..., Any]:
        built: list[Callable[..., Any]] = []

        def operator(*args: Any, **kwargs: Any) -> Any:
            if not built:
                wrapper = make(handle, name, func_name, *rest)
                operator.__doc__ = wrapper.__doc__
                built.append(wrapper)
            return built[0](*args, **kwargs)

        operator.__name__ = func_name
        operator.__qualname__ = func_name
        # mxnet edits some docstrings right after registering (``str.replace`` on them).
        operator.__doc__ = ""
        return operator

    return make_later


def _defer(init: Callable[..., Any]) -> Callable[..., Any]:
    def init_deferred(*args: Any, **kwargs: Any) -> Any:
        if "make_op_func" in kwargs:
            kwargs["make_op_func"] = lazy_factory(kwargs["make_op_func"])
        else:
            args = (*args[:-1], lazy_factory(args[-1]))
        return init(*args, **kwargs)

    return init_deferred


class _BaseHook(importlib.abc.MetaPathFinder):
    """Finds ``mxnet.base`` and :data:`LAZY_MODULES` as usual, then patches how they execute.

    ``mxnet.base`` gets the deferred wrapper factories right after it executes; each lazy module
    gets a :class:`importlib.util.LazyLoader`. The finder leaves ``sys.meta_path`` once it has
    seen all of them.
    """

    def __init__(self) -> None:
        self.pending = {"mxnet.base", *LAZY_MODULES}

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.pending:
            return None
        self.pending.discard(fullname)
        if not self.pending and self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        if fullname in LAZY_MODULES:
            spec.loader = importlib.util.LazyLoader(spec.loader)
            return spec
        loader = spec.loader
        execute = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            execute(module)
            for attr in _HOOKED:
                if callable(getattr(module, attr, None)):
                    setattr(module, attr, _defer(getattr(module, attr)))

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def install() -> bool:
    """Defer the wrappers of the coming ``import mxnet``; False when too late or turned off."""
    if "mxnet" in sys.modules or os.environ.get("LAMBDA_NLP_EAGER_MXNET_OPS") == "1":
        return False
    if not any(isinstance(finder, _BaseHook) for finder in sys.meta_path):
        sys.meta_path.insert(0, _BaseHook())
    return True


def uninstall() -> None:
    """End the hook (after ``import mxnet``): later imports are not deferred."""
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, _BaseHook)]
