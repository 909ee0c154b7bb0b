"""``tools/build/book.py vendor``: the browser assets of the offline HTML book, pinned and verified.

The built book must render without network access, so MathJax (typesetting), require.js and
``@jupyter-widgets/html-manager`` (static ipywidgets) are served from ``_build/html/_vendor/``
instead of a CDN. This module obtains them from the npm registry with ``npm pack NAME@VERSION``,
checks each tarball against the SRI hash recorded in ``tools/build/vendor.lock.json`` (so a changed or
tampered tarball is an error, not a silent difference), and extracts only the files the book
needs, with their licence files, into ``_vendor/<dest>/``.

It is idempotent: a package whose stamp (``_vendor/<dest>/.vendor.json``) matches the lock and
whose files are all present is left alone, so a second run takes milliseconds and needs no
network. The assets are *not* put under ``_static/``: Jupyter Book 1 links every file found
there into every page.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from book_toc import VENDOR, VENDOR_LOCK


class VendorError(RuntimeError):
    """Vendoring failed (npm missing, registry unreachable, integrity mismatch...)."""


@dataclass(frozen=True)
class VendorPackage:
    """One npm package of the lock file: what to fetch, how to check it, what to keep."""

    name: str
    version: str
    integrity: str
    dest: str
    entry: str
    include: tuple[str, ...]

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    def stamp(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "integrity": self.integrity}


def load_lock(lock: Path = VENDOR_LOCK) -> list[VendorPackage]:
    """The packages recorded in the lock file, validated."""
    data = json.loads(lock.read_text(encoding="utf-8"))
    packages = []
    for item in data.get("packages", []):
        missing = {"name", "version", "integrity", "dest", "entry", "include"} - set(item)
        if missing:
            raise VendorError(f"{lock}: package entry {item.get('name')!r} lacks {sorted(missing)}")
        if not str(item["integrity"]).startswith(("sha512-", "sha384-", "sha256-")):
            raise VendorError(f"{lock}: {item['name']}: integrity must be an SRI hash 'sha512-...'")
        packages.append(
            VendorPackage(
                name=item["name"],
                version=item["version"],
                integrity=item["integrity"],
                dest=item["dest"],
                entry=item["entry"],
                include=tuple(item["include"]),
            )
        )
    if not packages:
        raise VendorError(f"{lock}: no packages listed")
    return packages


def entry_urls(lock: Path = VENDOR_LOCK) -> dict[str, str]:
    """Package name -> its entry file as a path relative to the HTML root (``_vendor/...``)."""
    return {pkg.name: f"_vendor/{pkg.dest}/{pkg.entry}" for pkg in load_lock(lock)}


def sri_digest(path: Path, algorithm: str = "sha512") -> str:
    """The Subresource-Integrity string (``sha512-<base64>``) of a file, as npm records it."""
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"{algorithm}-{base64.b64encode(digest.digest()).decode()}"


def verify_integrity(tarball: Path, expected: str) -> None:
    """Raise :class:`VendorError` unless ``tarball`` hashes to the SRI string ``expected``."""
    algorithm = expected.split("-", 1)[0]
    actual = sri_digest(tarball, algorithm)
    if actual != expected:
        raise VendorError(
            f"{tarball.name}: integrity mismatch\n  expected {expected}\n  got      {actual}\n"
            "The registry served a different tarball than the one recorded in "
            "tools/build/vendor.lock.json; do not use it. If you changed the version on purpose, "
            "update the lock's integrity from `npm view NAME@VERSION dist.integrity`."
        )


def _selected(member: str, patterns: tuple[str, ...]) -> bool:
    for pattern in patterns:
        if pattern.endswith("/**"):
            if member.startswith(pattern[:-2]):
                return True
        elif fnmatch.fnmatchcase(member, pattern):
            return True
    return False


def extract_selected(tarball: Path, patterns: tuple[str, ...], dest: Path) -> list[str]:
    """Extract the regular files of an npm tarball that match ``patterns`` into ``dest``.

    npm tarballs keep their files under one top folder (``package/``); it is stripped. Links and
    paths escaping ``dest`` are refused (``tarfile``'s ``data`` filter). Returns the relative
    paths written; every pattern must have matched at least one file.
    """
    written: list[str] = []
    used: set[str] = set()
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive.getmembers():
            if not member.isfile():
                continue
            relative = member.name.split("/", 1)[1] if "/" in member.name else member.name
            hits = [p for p in patterns if _selected(relative, (p,))]
            if not hits:
                continue
            used.update(hits)
            member.name = relative
            archive.extract(member, dest, filter="data")
            written.append(relative)
    unused = [p for p in patterns if p not in used]
    if unused:
        raise VendorError(f"{tarball.name}: no file matches {unused}; check the lock's 'include'")
    return sorted(written)


def _npm(npm: str | None) -> str:
    found = npm or shutil.which("npm")
    if not found:
        raise VendorError(
            "npm was not found on PATH. The offline HTML book needs MathJax, require.js and the "
            "ipywidgets html-manager from the npm registry: install Node.js with npm (Debian/"
            "Ubuntu: `sudo apt-get install npm`; or https://nodejs.org), then re-run "
            "`make vendor`."
        )
    return found


def npm_pack(spec: str, dest: Path, npm: str | None = None) -> Path:
    """Download the registry tarball of ``spec`` (``name@version``) into ``dest`` with npm."""
    command = [_npm(npm), "pack", spec, "--json", "--pack-destination", str(dest)]
    result = subprocess.run(command, cwd=dest, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise VendorError(
            f"`{' '.join(command)}` failed (exit {result.returncode}); is the npm registry "
            f"reachable?\n{result.stderr.strip()}"
        )
    try:
        filename = json.loads(result.stdout)[0]["filename"]
    except (ValueError, LookupError, TypeError) as exc:
        raise VendorError(f"unexpected output of `npm pack --json`:\n{result.stdout}") from exc
    # npm names scoped packages "@scope/name-1.0.0.tgz" in JSON but writes "scope-name-1.0.0.tgz".
    tarball = dest / filename.lstrip("@").replace("/", "-")
    if not tarball.is_file():
        raise VendorError(f"npm pack reported {filename!r} but {tarball} does not exist")
    return tarball


def is_current(pkg: VendorPackage, vendor_dir: Path = VENDOR) -> bool:
    """Whether ``_vendor/<dest>`` holds exactly the locked version with all its files."""
    stamp_path = vendor_dir / pkg.dest / ".vendor.json"
    try:
        stamp = json.loads(stamp_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if {k: stamp.get(k) for k in ("name", "version", "integrity")} != pkg.stamp():
        return False
    if stamp.get("include") != list(pkg.include):
        return False
    files = stamp.get("files") or []
    return pkg.entry in files and all((vendor_dir / pkg.dest / f).is_file() for f in files)


def _license_of(package_dir: Path) -> str:
    try:
        return str(json.loads((package_dir / "package.json").read_text())["license"])
    except (OSError, ValueError, KeyError):
        return "see the package"


def write_notice(packages: list[VendorPackage], vendor_dir: Path = VENDOR) -> Path:
    """``_vendor/NOTICE.txt``: what was vendored, from where, under which licence."""
    lines = [
        "Third-party browser assets served with the HTML book (fetched by `make vendor`).",
        "Each directory holds the package's own licence file or package.json (licence field);",
        "require.js carries its licence header in the file itself.",
        "",
    ]
    for pkg in packages:
        lines.append(
            f"{pkg.dest}/: npm {pkg.spec}, licence {_license_of(vendor_dir / pkg.dest)}, "
            f"integrity {pkg.integrity}"
        )
    path = vendor_dir / "NOTICE.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def vendor(
    vendor_dir: Path = VENDOR,
    lock: Path = VENDOR_LOCK,
    *,
    npm: str | None = None,
    log: Callable[[str], None] = print,
) -> list[VendorPackage]:
    """Make ``vendor_dir`` hold every locked package; fetch only what is missing or outdated."""
    packages = load_lock(lock)
    vendor_dir.mkdir(parents=True, exist_ok=True)
    for pkg in packages:
        if is_current(pkg, vendor_dir):
            log(f"vendor: {pkg.spec} is up to date in {vendor_dir.name}/{pkg.dest}")
            continue
        with tempfile.TemporaryDirectory(prefix="aibnb-vendor-") as tmp:
            tmp_path = Path(tmp)
            log(f"vendor: fetching {pkg.spec} from the npm registry")
            tarball = npm_pack(pkg.spec, tmp_path, npm)
            verify_integrity(tarball, pkg.integrity)
            staging = tmp_path / "extract"
            files = extract_selected(tarball, pkg.include, staging)
            if pkg.entry not in files:
                raise VendorError(f"{pkg.spec}: entry file {pkg.entry!r} is not among 'include'")
            stamp = {**pkg.stamp(), "include": list(pkg.include), "files": files}
            (staging / ".vendor.json").write_text(json.dumps(stamp, indent=1), encoding="utf-8")
            target = vendor_dir / pkg.dest
            if target.exists():
                shutil.rmtree(target)
            shutil.move(str(staging), str(target))
            log(f"vendor: {pkg.spec} verified ({pkg.integrity[:19]}...), {len(files)} files")
    write_notice(packages, vendor_dir)
    return packages


def check_vendored(vendor_dir: Path = VENDOR, lock: Path = VENDOR_LOCK) -> None:
    """Raise :class:`VendorError` (saying to run ``make vendor``) unless everything is vendored."""
    stale = [pkg.spec for pkg in load_lock(lock) if not is_current(pkg, vendor_dir)]
    if stale:
        raise VendorError(
            f"{vendor_dir} lacks {', '.join(stale)} (or holds other versions); "
            "run `make vendor` (or `python tools/build/book.py vendor`) first"
        )
