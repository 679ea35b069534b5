"""Vendor the web app's browser assets from the npm registry at pinned versions (`make vendor`).

Each asset is fetched with npm's own client (`npm pack`, so the registry and any proxy are npm's
configuration, never named here), its tarball's SHA-512 is checked against the integrity hash the
registry's metadata states (`npm view`), and the named dist file and the licence files are copied
into `<dest>/<name>-<version>/`. The run is repeatable: bump a version below, run it, commit the
result (the old directory is removed). Nothing is loaded from a CDN at run time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NPM_TIMEOUT = 120  # seconds one npm call may take (a registry that hangs must not hang make)


@dataclass(frozen=True)
class Asset:
    name: str
    version: str
    files: tuple[str, ...]  # paths inside the tarball's package/ directory
    dest: Path  # the directory that gets <name>-<version>/


ASSETS = (
    # htmx 2.0.x: `allowEval: false` keeps it working under a CSP without 'unsafe-eval'.
    Asset("htmx.org", "2.0.11", ("dist/htmx.min.js", "LICENSE"), ROOT / "app/http/static/vendor"),
    # Tests only: the accessibility checks inject it into pages with Playwright.
    Asset(
        "axe-core",
        "4.14.1",
        ("axe.min.js", "LICENSE", "LICENSE-3RD-PARTY.txt"),
        ROOT / "tests/fixtures/vendor",
    ),
)


def npm(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        ["npm", *args], cwd=cwd, capture_output=True, text=True, timeout=NPM_TIMEOUT, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"npm {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def expected_integrity(asset: Asset) -> str:
    """The registry metadata's `dist.integrity` (sha512-<base64>) of this exact version."""
    answer = json.loads(npm("view", f"{asset.name}@{asset.version}", "dist.integrity", "--json"))
    if not isinstance(answer, str) or not answer.startswith("sha512-"):
        raise SystemExit(f"{asset.name}@{asset.version}: the registry states no sha512 integrity")
    return answer


def fetch(asset: Asset, work: Path) -> Path:
    """The tarball of this version, its SHA-512 checked against the registry's metadata."""
    packed = json.loads(npm("pack", f"{asset.name}@{asset.version}", "--json", cwd=work))
    tarball = work / packed[0]["filename"]
    digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    expected = expected_integrity(asset)
    if f"sha512-{digest}" != expected:
        raise SystemExit(f"{asset.name}@{asset.version}: tarball sha512-{digest} != {expected}")
    return tarball


def install(asset: Asset, tarball: Path) -> Path:
    target = asset.dest / f"{asset.name}-{asset.version}"
    for old in asset.dest.glob(f"{asset.name}-*"):
        shutil.rmtree(old)
    target.mkdir(parents=True)
    with tarfile.open(tarball) as tar:
        for name in asset.files:
            member = tar.extractfile(f"package/{name}")
            if member is None:
                raise SystemExit(f"{asset.name}@{asset.version}: no {name} in the tarball")
            (target / Path(name).name).write_bytes(member.read())
    return target


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        for asset in ASSETS:
            target = install(asset, fetch(asset, Path(tmp)))
            print(f"vendored {asset.name}@{asset.version} -> {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
