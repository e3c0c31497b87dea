"""Unpack: real zips built on disk, real faults (truncation, bad CRC, bombs, escapes)."""

from __future__ import annotations

import hashlib
import io
import stat
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roster_pipeline.config import ZipLimits
from roster_pipeline.contracts.rejects import Code, has_fatal
from roster_pipeline.contracts.specs import Spec, load_spec
from roster_pipeline.errors import InputError
from roster_pipeline.stages.unpack import Unpacked, unpack

USERS = b"district_user_id,first_name,last_name,role\n1,Ann,Lee,Student\n"
CLASSES = b"class_id,class_name,school_id,course_id,teacher_id\nc1,Math,s1,m,t1\n"


@pytest.fixture(scope="module")
def spec() -> Spec:
    return load_spec()


def make_zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def run(spec: Spec, tmp_path: Path, *sources: Path, limits: ZipLimits | None = None) -> Unpacked:
    return unpack(list(sources), spec, tmp_path / "work", limits or ZipLimits())


def codes(result: Unpacked) -> list[str]:
    return result.rejects["code"].to_list()


def everything_under(root: Path) -> set[Path]:
    return set(root.rglob("*"))


def test_good_zip_extracts_and_matches(spec: Spec, tmp_path: Path) -> None:
    source = make_zip(tmp_path / "batch.zip", {"users.csv": USERS, "Classes.CSV": CLASSES})
    result = run(spec, tmp_path, source)
    assert result.rejects.height == 0
    by_name = {f.name: f for f in result.files}
    assert set(by_name) == {"users.csv", "Classes.CSV"}
    users = by_name["users.csv"]
    assert users.file_spec == "users"
    assert by_name["Classes.CSV"].file_spec == "classes"
    assert users.path.read_bytes() == USERS
    assert users.path.is_relative_to(tmp_path / "work")
    assert (users.size, users.sha256) == (len(USERS), hashlib.sha256(USERS).hexdigest())


def test_one_folder_level_considered_deeper_ignored(spec: Spec, tmp_path: Path) -> None:
    members = {
        "export/users.csv": USERS,
        "export/deep/classes.csv": CLASSES,
        "export/": b"",
        "__MACOSX/export/._users.csv": b"junk",
        "export/.DS_Store": b"junk",
        "Thumbs.db": b"junk",
        "desktop.ini": b"junk",
    }
    result = run(spec, tmp_path, make_zip(tmp_path / "b.zip", members))
    assert result.rejects.height == 0
    assert [(f.name, f.file_spec) for f in result.files] == [("export/users.csv", "users")]
    assert len(result.ignored) == 6
    assert "b.zip:export/deep/classes.csv" in result.ignored
    assert "b.zip:__MACOSX/export/._users.csv" in result.ignored


def test_loose_files_and_folder_with_zip(spec: Spec, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "sub").mkdir(parents=True)
    (inbox / "users.csv").write_bytes(USERS)
    (inbox / ".hidden.csv").write_bytes(b"x")
    (inbox / "notes.txt").write_bytes(b"hello")
    make_zip(inbox / "more.bin", {"classes.csv": CLASSES})  # a zip by its bytes, not name
    result = run(spec, tmp_path, inbox)
    assert result.rejects.height == 0
    assert {f.name: f.file_spec for f in result.files} == {
        "classes.csv": "classes",
        "notes.txt": None,
        "users.csv": "users",
    }
    assert result.unmatched == ("notes.txt",)
    assert set(result.ignored) == {".hidden.csv", "sub/"}
    loose = next(f for f in result.files if f.name == "users.csv")
    assert loose.path == inbox / "users.csv"
    assert loose.sha256 == hashlib.sha256(USERS).hexdigest()


@pytest.mark.parametrize(
    "member",
    ["../evil-unpack.csv", "../../evil-unpack.csv", "/tmp/evil-unpack.csv",
     "C:/evil-unpack.csv", "c:evil-unpack.csv", "..\\..\\evil-unpack.csv",
     "export/../../evil-unpack.csv"],
)  # fmt: skip
def test_escaping_member_rejects_batch(spec: Spec, tmp_path: Path, member: str) -> None:
    before = everything_under(tmp_path.parent)
    source = make_zip(tmp_path / "b.zip", {"users.csv": USERS, member: b"pwned"})
    result = run(spec, tmp_path, source)
    assert codes(result) == [Code.UNSAFE_ZIP]
    assert member in result.rejects["message"][0]
    assert "The batch was rejected" in result.rejects["message"][0]
    assert result.files == ()
    created = everything_under(tmp_path.parent) - before
    assert {p for p in created if not p.is_relative_to(tmp_path / "work")} == {source}
    assert not list((tmp_path / "work").rglob("*.csv"))


def test_symlink_member_rejects_batch(spec: Spec, tmp_path: Path) -> None:
    source = tmp_path / "b.zip"
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr("users.csv", USERS)
        link = zipfile.ZipInfo("classes.csv")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    result = run(spec, tmp_path, source)
    assert codes(result) == [Code.UNSAFE_ZIP]
    assert "classes.csv is a symbolic link" in result.rejects["message"][0]
    assert not list((tmp_path / "work").rglob("*.csv"))


def test_zip_bomb_ratio_stops_while_streaming(spec: Spec, tmp_path: Path) -> None:
    source = make_zip(tmp_path / "bomb.zip", {"users.csv": b"0" * (40 * 1024 * 1024)})
    assert source.stat().st_size < 200_000
    result = run(spec, tmp_path, source)
    assert codes(result) == [Code.ZIP_LIMIT]
    assert "users.csv expands more than 200 times" in result.rejects["message"][0]
    assert not list((tmp_path / "work").rglob("*.csv"))  # the partial was removed


def test_total_size_limit(spec: Spec, tmp_path: Path) -> None:
    members = {"users.csv": USERS * 50, "classes.csv": CLASSES * 50}
    source = make_zip(tmp_path / "b.zip", members, method=zipfile.ZIP_STORED)
    result = run(spec, tmp_path, source, limits=ZipLimits(max_unpacked_bytes=3000))
    assert codes(result) == [Code.ZIP_LIMIT]
    assert "more than 3000 bytes" in result.rejects["message"][0]
    assert not list((tmp_path / "work").rglob("*.csv"))


def test_too_many_members(spec: Spec, tmp_path: Path) -> None:
    source = make_zip(tmp_path / "b.zip", {f"f{i}.csv": b"x" for i in range(6)})
    result = run(spec, tmp_path, source, limits=ZipLimits(max_members=5))
    assert codes(result) == [Code.ZIP_LIMIT]
    assert "6 members" in result.rejects["message"][0]


def test_truncated_zip_is_bad_zip(spec: Spec, tmp_path: Path) -> None:
    whole = make_zip(tmp_path / "whole.zip", {"users.csv": USERS * 100}).read_bytes()
    source = tmp_path / "half.zip"
    source.write_bytes(whole[: len(whole) // 2])
    result = run(spec, tmp_path, source)
    assert codes(result) == [Code.BAD_ZIP]
    message = result.rejects["message"][0]
    assert message.startswith("half.zip: the zip is damaged or truncated")
    assert message.endswith(
        "The batch was rejected; the data loaded before stays loaded; re-send the zip."
    )
    assert has_fatal(result.rejects)


def test_bad_crc_is_bad_zip_and_leaves_nothing(spec: Spec, tmp_path: Path) -> None:
    source = make_zip(tmp_path / "b.zip", {"users.csv": USERS}, method=zipfile.ZIP_STORED)
    data = bytearray(source.read_bytes())
    at = data.index(b"Ann")
    data[at] = ord("X")
    source.write_bytes(bytes(data))
    result = run(spec, tmp_path, source)
    assert codes(result) == [Code.BAD_ZIP]
    assert "b.zip: member users.csv is damaged" in result.rejects["message"][0]
    assert "CRC" in result.rejects["message"][0]
    assert not list((tmp_path / "work").rglob("*.csv"))


def test_encrypted_member_is_bad_zip(spec: Spec, tmp_path: Path) -> None:
    # zipfile cannot write encrypted members: set the "encrypted" flag bit in the
    # local header (offset 6) and the central directory entry (offset 8) by hand.
    data = bytearray(make_zip(tmp_path / "b.zip", {"users.csv": USERS}).read_bytes())
    data[data.index(b"PK\x03\x04") + 6] |= 0x1
    data[data.index(b"PK\x01\x02") + 8] |= 0x1
    source = tmp_path / "b.zip"
    source.write_bytes(bytes(data))
    result = run(spec, tmp_path, source)
    assert codes(result) == [Code.BAD_ZIP]
    assert "users.csv is encrypted" in result.rejects["message"][0]


def test_not_a_zip_named_zip(spec: Spec, tmp_path: Path) -> None:
    source = tmp_path / "batch.zip"
    source.write_bytes(USERS)
    result = run(spec, tmp_path, source)
    assert codes(result) == [Code.BAD_ZIP]
    assert "batch.zip is named .zip but is not a zip file" in result.rejects["message"][0]
    assert result.files == ()


def test_two_files_for_one_spec_file_are_ambiguous(spec: Spec, tmp_path: Path) -> None:
    members = {"users.csv": USERS, "export/users_2026.csv": USERS}
    result = run(spec, tmp_path, make_zip(tmp_path / "b.zip", members))
    assert codes(result) == [Code.AMBIGUOUS_FILE]
    message = result.rejects["message"][0]
    assert message == (
        "users.csv and export/users_2026.csv each match the users file; send only one. "
        "The batch was rejected; the data loaded before stays loaded."
    )


def test_missing_source_is_an_input_error(spec: Spec, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.zip: no such file"):
        run(spec, tmp_path, tmp_path / "nope.zip")


def _good_zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("users.csv", USERS * 40)
        archive.writestr("export/classes.csv", CLASSES)
    return buffer.getvalue()


GOOD_ZIP = _good_zip_bytes()


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    edits=st.lists(st.tuples(st.integers(0, len(GOOD_ZIP) - 1), st.integers(0, 255)), max_size=6),
    cut=st.integers(4, len(GOOD_ZIP)),
)
def test_damaged_zips_never_raise(
    spec: Spec, tmp_path_factory: pytest.TempPathFactory, edits: list[tuple[int, int]], cut: int
) -> None:
    tmp_path = tmp_path_factory.mktemp("z")
    data = bytearray(GOOD_ZIP)
    for at, byte in edits:
        data[at] = byte
    source = tmp_path / "b.zip"
    source.write_bytes(bytes(data[:cut]))
    result = run(spec, tmp_path, source)
    assert set(result.rejects["code"]) <= {Code.BAD_ZIP, Code.UNSAFE_ZIP, Code.ZIP_LIMIT}
    if result.rejects.height:
        assert result.files == ()
        assert not list((tmp_path / "work").rglob("*.csv"))
    for received in result.files:  # whatever survived is complete and where it says
        assert received.path.is_relative_to(tmp_path / "work")
        assert hashlib.sha256(received.path.read_bytes()).hexdigest() == received.sha256
