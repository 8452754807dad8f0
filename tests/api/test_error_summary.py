"""error_summary: the one line of an exception that a user may read (no traceback, no source)."""

from __future__ import annotations

import pytest

from app.errors import error_summary


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        # mxnet 1.9: C++ traceback first, reason last.
        (
            'Traceback (most recent call last):\n  File "../src/ndarray/ndarray.cc", line 1860\n'
            "MXNetError: Check failed: fi->Read(data): Invalid NDArray file format",
            "Check failed: fi->Read(data): Invalid NDArray file format",
        ),
        # mxnet-mkl 1.6: timestamp and source position before the reason, stack after it.
        (
            "[07:41:02] ../src/ndarray/ndarray.cc:1860: Check failed: fi->Read(data)\n"
            "Stack trace:\n  [bt] (0) /opt/libmxnet.so(+0x1)",
            "Check failed: fi->Read(data)",
        ),
        (
            "Parameter 'x' is missing in file 'a.params'",
            "Parameter 'x' is missing in file 'a.params'",
        ),
        ("", "MXNetError"),
    ],
)
def test_error_summary_keeps_the_reason_only(message: str, expected: str) -> None:
    class MXNetError(Exception):
        pass

    assert error_summary(MXNetError(message)) == expected
