"""Fail unless the distributions installed in DIR need nothing that DIR lacks.

    python3.11 images/check-closure.py DIR [DIR ...] [--build-only NAME ...]

Every hash lock is installed with ``pip install --require-hashes --no-deps``: pip then takes
exactly the pinned files and never resolves anything itself (pip before 23.3 resolved a pinned
requirement with an extra, such as ``smart-open[http]``, to the newest release and refused it,
pypa/pip#12095). The price of ``--no-deps`` is that pip no longer notices a lock that misses a
package. This script gives that check back for a ``pip install --target DIR`` tree, where
``pip check`` cannot look (it checks the interpreter's whole environment, base image included).

For each distribution in the DIRs it reads its requirements (the environment markers evaluated
for this interpreter, including the extras that other installed distributions ask of it) and
prints one line per requirement that no installed distribution satisfies, naming the package and
the lock to fix. ``--build-only NAME`` names a requirement that is declared but only needed to
build (gluonnlp 0.10 declares cython, which compiles its extension in the build stage only).
Exit status: 0 when closed, 1 otherwise. Standard library plus pip's vendored ``packaging``.
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import sys

try:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name
except ImportError:  # the build stages have pip, which vendors packaging
    from pip._vendor.packaging.requirements import InvalidRequirement, Requirement
    from pip._vendor.packaging.utils import canonicalize_name


def requirements_of(dist: metadata.Distribution, extras: set[str]) -> list[Requirement]:
    """The requirements of ``dist`` that apply here, for no extra and for each of ``extras``."""
    applying = []
    for line in dist.requires or []:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        marker = requirement.marker
        if marker is None or any(marker.evaluate({"extra": e}) for e in ("", *sorted(extras))):
            applying.append(requirement)
    return applying


def problems(paths: list[str], build_only: set[str]) -> list[str]:
    dists: dict[str, metadata.Distribution] = {}
    for dist in metadata.distributions(path=paths):
        dists.setdefault(canonicalize_name(dist.metadata["Name"]), dist)
    # The extras asked of each distribution, gathered to a fixed point (an extra may pull
    # in a requirement that asks another extra).
    extras: dict[str, set[str]] = {name: set() for name in dists}
    changed = True
    while changed:
        changed = False
        for name, dist in dists.items():
            for req in requirements_of(dist, extras[name]):
                wanted = {canonicalize_name(e) for e in req.extras}
                target = extras.get(canonicalize_name(req.name))
                if target is not None and not wanted <= target:
                    target |= wanted
                    changed = True
    found = []
    for name, dist in sorted(dists.items()):
        for req in requirements_of(dist, extras[name]):
            needed = canonicalize_name(req.name)
            if needed in build_only:
                continue
            have = dists.get(needed)
            label = f"{dist.metadata['Name']}=={dist.version} requires {req}"
            if have is None:
                found.append(f"{label}, which the lock does not pin")
            elif req.specifier and not req.specifier.contains(have.version, prereleases=True):
                found.append(f"{label}, but the lock pins {have.metadata['Name']}=={have.version}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", metavar="DIR")
    parser.add_argument("--build-only", action="append", default=[], metavar="NAME")
    args = parser.parse_args(argv)
    found = problems(args.paths, {canonicalize_name(n) for n in args.build_only})
    count = sum(1 for _ in metadata.distributions(path=args.paths))
    if count == 0:
        print(
            f"check-closure: no distribution installed in {' '.join(args.paths)}", file=sys.stderr
        )
        return 1
    for line in found:
        print(f"incomplete lock: {line}", file=sys.stderr)
    if found:
        print(
            "check-closure: add the missing pins to the lock's .in file and regenerate it "
            "(`make lock` / `make locks`)",
            file=sys.stderr,
        )
        return 1
    print(f"check-closure: {count} distributions, every requirement pinned")
    return 0


if __name__ == "__main__":
    sys.exit(main())
