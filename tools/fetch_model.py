"""The QA model step of `make run` and `make models` (docs/qa-model.md, "How `make run` gets a model").

    python3 -m tools.fetch_model probe REPO [--timeout 3]
    python -m tools.fetch_model fetch REPO --out DIR [--precision fp32|int8|auto]
    python -m tools.fetch_model int8 DIR [--precision fp32|int8|auto]

``probe`` asks the Hugging Face hub whether REPO can be fetched: one HEAD request with a short
timeout, standard library only, so `make run` can run it before the dev venv exists. It exits 0
when the hub answers, or when REPO is a local directory; otherwise it prints ONE line saying why
and exits 3, and `make run` starts without a QA model.

``fetch`` converts REPO (hub id or checkpoint directory) with ``python -m tools.convert`` into
``DIR.tmp``, adds the INT8 artefact with ``python -m tools.quantize`` when the precision needs it,
and only then moves the result to DIR, so a failure never leaves a half-written DIR. Every request
the converter sends to the hub has a timeout (``tools.convert.bound_hub_requests``), so a hub that
accepts connections and never answers fails it in about 10 s, with one line saying what to do.

``int8`` adds the INT8 artefact to an existing model directory when the precision needs it and it
is missing or incomplete (a no-op otherwise).

The precision defaults to the default of ``app.config.Settings.qa_precision``, the one the QA
image serves (it sets no QA_PRECISION): ``fp32`` needs no artefact; ``int8`` needs it; ``auto``
(the default) serves INT8 exactly when the artefact's accuracy gate passed, so the artefact is
built for it with the gate (``tools.int8_gate``): on SQuAD dev questions fetched from the hub
for a hub checkpoint (``--check-set`` names others, e.g. a SQuAD-format file for a local one).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path
from typing import IO
from urllib.parse import quote, urlsplit

DEFAULT_ENDPOINT = "https://huggingface.co"
PROBE_TIMEOUT = 3.0
#: Exit status of ``probe`` when the checkpoint cannot be fetched (not an error for `make run`).
UNREACHABLE = 3
PRECISIONS = ("fp32", "int8", "auto")
OFFLINE_NEXT = (
    "starting without a QA model (/qa answers 503; `make models` retries; README: offline use)"
)


def hub_endpoint() -> str:
    """The hub's base URL, as huggingface_hub reads it (HF_ENDPOINT)."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _offline_flag() -> str | None:
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}:
            return name
    return None


def _reason(exc: BaseException) -> str:
    """A short reason for a failed request: the socket error, not urllib's wrapping."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"it answered HTTP {exc.code}"
    inner = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(inner, TimeoutError):
        return "no answer"
    if isinstance(inner, OSError) and inner.strerror:
        return inner.strerror
    return str(inner) or type(inner).__name__


class _Unfollowed(urllib.request.HTTPRedirectHandler):
    """Redirects are answers, not to be followed: urllib would follow a HEAD's with a GET."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


def probe(repo: str, timeout: float = PROBE_TIMEOUT) -> str | None:
    """None when ``repo`` can be fetched (a local directory, or the hub answers); else why not.

    One HEAD of the repo's ``config.json``; a redirect counts as an answer and is not followed
    (the hub answers with a 307 to its resolve-cache URL). Name resolution is not covered by the
    socket timeout, so the request runs in a daemon thread that is abandoned after ``timeout`` +
    1 s.
    """
    if Path(repo).is_dir():
        return None
    flag = _offline_flag()
    if flag:
        return f"{flag} is set"
    endpoint = hub_endpoint()
    url = f"{endpoint}/{quote(repo)}/resolve/main/config.json"
    outcome: list[str | None] = []

    def ask() -> None:
        try:
            request = urllib.request.Request(url, method="HEAD")
            token = os.environ.get("HF_TOKEN")
            if token:  # gated or private checkpoints answer 401 without it
                request.add_header("Authorization", f"Bearer {token}")
            with urllib.request.build_opener(_Unfollowed).open(request, timeout=timeout):
                outcome.append(None)
        except urllib.error.HTTPError as exc:
            exc.close()
            outcome.append(None if 300 <= exc.code < 400 else _reason(exc))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            outcome.append(_reason(exc))

    started = time.monotonic()
    worker = threading.Thread(target=ask, name="hub-probe", daemon=True)
    worker.start()
    worker.join(timeout + 1.0)
    elapsed = time.monotonic() - started
    if not outcome:
        return f"{urlsplit(endpoint).netloc or endpoint}: no answer in {elapsed:.0f} s"
    if outcome[0] is None:
        return None
    return f"{urlsplit(endpoint).netloc or endpoint}: {outcome[0]} ({elapsed:.1f} s)"


def default_precision() -> str:
    """The QA image's precision: the default of ``Settings.qa_precision`` (not the environment)."""
    from app.config import Settings

    default = Settings.model_fields["qa_precision"].default
    if default not in PRECISIONS:
        raise ValueError(
            f"Settings.qa_precision defaults to {default!r}; expected one of {PRECISIONS}"
        )
    return str(default)


def needs_int8(precision: str) -> bool:
    """Whether a model directory served at ``precision`` should carry the INT8 artefact."""
    return precision in ("int8", "auto")


def _run(*args: str) -> bool:
    """Run ``python -m args`` with this interpreter, its output passed through; True on success."""
    return subprocess.run([sys.executable, "-m", *args], check=False).returncode == 0


def int8_missing(int8_dir: Path) -> list[str]:
    """The files of the INT8 artefact that ``int8_dir`` lacks (all of them when it is absent).

    The forms come from :mod:`app.qa.int8`, so an artefact made by an older quantizer with
    other forms counts as incomplete and is rebuilt rather than baked into a 503.
    """
    from app.qa.int8 import FORMS

    names = [f"{form}-symbol.json" for form in FORMS]  # its weights are the model's own
    return [name for name in names if not (int8_dir / name).is_file()]


def check_set_for(repo: str) -> str:
    """The check set of the INT8 gate for a hub checkpoint: SQuAD 2.0 dev questions for a model
    trained on SQuAD 2.0 (its name says so, e.g. ``albert-base-v2-squad2``), else SQuAD 1.1."""
    name = repo.lower().replace("-", "_")
    return "squad_v2" if "squad2" in name or "squad_v2" in name else "squad"


def add_int8(model_dir: Path, precision: str, check_set: str | None = None) -> bool:
    """Quantize ``model_dir`` when ``precision`` needs it and its INT8 artefact is incomplete.

    With ``check_set`` the artefact is made by the accuracy gate's search (``tools.int8_gate``:
    INT8 serves under ``auto`` only if it keeps fp32's accuracy on those questions); when the
    gate cannot run (no check set, or it cannot be fetched) the artefact is made without one, and
    ``auto`` serves fp32, saying why."""
    int8_dir = model_dir / "int8"
    if not needs_int8(precision):
        return True
    missing = int8_missing(int8_dir)
    if check_set and int8_dir.is_dir() and not (int8_dir / "gate.json").is_file():
        missing.append("gate.json")
    if not missing:
        return True
    if int8_dir.is_dir():
        print(f"==> {int8_dir} lacks {', '.join(missing)}: rebuilding it")
        shutil.rmtree(int8_dir)
    if check_set:
        print(
            f"==> QA precision {precision}: INT8 artefact {int8_dir} with its accuracy gate on "
            f"{check_set} (python -m tools.int8_gate; a few minutes at ALBERT-base size)",
            flush=True,
        )
        if _run("tools.int8_gate", "--model-dir", str(model_dir), "--check-set", check_set):
            return True
        print(
            "==> QA model: the accuracy gate could not run (see above); building the INT8 "
            "artefact without it, so QA_PRECISION=auto serves fp32",
            flush=True,
        )
        shutil.rmtree(int8_dir, ignore_errors=True)
    print(
        f"==> QA precision {precision}: building the INT8 artefact {int8_dir} "
        "(python -m tools.quantize; a few minutes at ALBERT-base size)",
        flush=True,
    )
    if _run("tools.quantize", "--model-dir", str(model_dir)):
        return True
    shutil.rmtree(int8_dir, ignore_errors=True)
    return False


def fetch(repo: str, out: Path, precision: str, check_set: str | None = None) -> bool:
    """Convert ``repo`` into ``out`` (via ``out``.tmp), with INT8 when ``precision`` needs it,
    gated on ``check_set`` (default: SQuAD dev from the hub for a hub checkpoint)."""
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    if check_set is None and not Path(repo).is_dir():
        check_set = check_set_for(repo)
    print(f"==> QA model: converting {repo} into {out} (python -m tools.convert)", flush=True)
    if not (
        _run("tools.convert", "--from-hf", repo, "--out", str(tmp))
        and add_int8(tmp, precision, check_set)
    ):
        shutil.rmtree(tmp, ignore_errors=True)
        return False
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    print(f"==> QA model ready: {out} (precision {precision})", flush=True)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.fetch_model", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_probe = sub.add_parser("probe", help="can REPO be fetched? (standard library only)")
    p_probe.add_argument("repo", metavar="REPO")
    p_probe.add_argument("--timeout", type=float, default=PROBE_TIMEOUT, metavar="SECONDS")
    p_fetch = sub.add_parser("fetch", help="convert REPO into DIR (+ INT8 when needed)")
    p_fetch.add_argument("repo", metavar="REPO")
    p_fetch.add_argument("--out", required=True, type=Path, metavar="DIR")
    p_int8 = sub.add_parser("int8", help="add the INT8 artefact to DIR when needed")
    p_int8.add_argument("model_dir", type=Path, metavar="DIR")
    for p in (p_fetch, p_int8):
        p.add_argument(
            "--precision", choices=PRECISIONS, help="default: Settings.qa_precision's default"
        )
        p.add_argument(
            "--check-set",
            metavar="SPEC",
            help="the INT8 gate's questions (tools.int8_gate): squad, squad_v2, heldout or a "
            "SQuAD-format file; default for a hub REPO: SQuAD dev (v2 for a squad2 model)",
        )
    args = parser.parse_args(argv)

    if args.command == "probe":
        why = probe(args.repo, args.timeout)
        if why is None:
            return 0
        print(f"==> QA model: cannot fetch {args.repo} ({why}); {OFFLINE_NEXT}", flush=True)
        return UNREACHABLE
    precision = args.precision or default_precision()
    if args.command == "fetch":
        return 0 if fetch(args.repo, args.out, precision, args.check_set or None) else 1
    if not (args.model_dir / "config.json").is_file():
        print(
            f"error: {args.model_dir} is not a QA model directory (no config.json)", file=sys.stderr
        )
        return 1
    return 0 if add_int8(args.model_dir, precision, args.check_set or None) else 1


if __name__ == "__main__":
    sys.exit(main())
