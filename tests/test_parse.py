"""Parse: real files as PowerSchool and spreadsheets write them, line numbers checked."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roster_pipeline.contracts.headers import normalise_header
from roster_pipeline.contracts.rejects import SCHEMA, Code, has_fatal
from roster_pipeline.contracts.specs import Spec, load_spec
from roster_pipeline.stages.parse import LINE, ParsedFile, parse
from roster_pipeline.stages.unpack import ReceivedFile

HEADER = b"district_user_id,first_name,last_name,role"


@pytest.fixture(scope="module")
def spec() -> Spec:
    return load_spec()


def parse_bytes(
    spec: Spec, tmp_path: Path, data: bytes, file_spec: str = "users", name: str = "users.csv"
) -> ParsedFile:
    path = tmp_path / "upload.csv"
    path.write_bytes(data)
    received = ReceivedFile(name, path, file_spec, len(data), "")
    return parse(received, spec.file(file_spec))


def rows(parsed: ParsedFile) -> list[tuple[object, ...]]:
    return parsed.frame.rows()


def only_reject(parsed: ParsedFile) -> dict[str, object]:
    assert parsed.rejects.height == 1, parsed.rejects
    return parsed.rejects.row(0, named=True)


def test_plain_file(spec: Spec, tmp_path: Path) -> None:
    parsed = parse_bytes(spec, tmp_path, HEADER + b"\n1,Ann,Lee,Student\n2,Bo,Ng,Teacher\n")
    assert parsed.frame.columns == [LINE, "district_user_id", "first_name", "last_name", "role"]
    assert parsed.frame.schema[LINE] == pl.Int64()
    assert rows(parsed) == [(2, "1", "Ann", "Lee", "Student"), (3, "2", "Bo", "Ng", "Teacher")]
    assert (parsed.rejects.height, parsed.warnings, parsed.rows) == (0, (), 2)
    assert parsed.rejects.schema == SCHEMA
    assert (parsed.name, parsed.file_spec, parsed.delimiter) == ("users.csv", "users", ",")


def test_utf8_bom_stripped(spec: Spec, tmp_path: Path) -> None:
    parsed = parse_bytes(spec, tmp_path, b"\xef\xbb\xbf" + HEADER + b"\n1,Zo\xc3\xab,Lee,Student\n")
    assert rows(parsed) == [(2, "1", "Zoë", "Lee", "Student")]


@pytest.mark.parametrize(("delimiter", "sent"), [("\t", b"\t"), ("|", b"|"), (";", b";")])
def test_other_delimiters(spec: Spec, tmp_path: Path, delimiter: str, sent: bytes) -> None:
    data = HEADER.replace(b",", sent) + b"\n" + b"1,Ann,Lee,Student".replace(b",", sent) + b"\n"
    data += b'2,"a,b",Lee,Student\n'.replace(b",", sent).replace(b'"a' + sent + b'b"', b"a,b")
    parsed = parse_bytes(spec, tmp_path, data)
    assert parsed.delimiter == delimiter
    assert rows(parsed) == [(2, "1", "Ann", "Lee", "Student"), (3, "2", "a,b", "Lee", "Student")]


def test_crlf(spec: Spec, tmp_path: Path) -> None:
    parsed = parse_bytes(spec, tmp_path, HEADER + b"\r\n1,Ann,Lee,Student\r\n2,Bo,Ng,Teacher\r\n")
    assert rows(parsed) == [(2, "1", "Ann", "Lee", "Student"), (3, "2", "Bo", "Ng", "Teacher")]


def test_cr_only_old_mac(spec: Spec, tmp_path: Path) -> None:
    parsed = parse_bytes(spec, tmp_path, HEADER + b"\r1,Ann,Lee,Student\r\r2,Bo,Ng,Teacher")
    assert rows(parsed) == [(2, "1", "Ann", "Lee", "Student"), (4, "2", "Bo", "Ng", "Teacher")]


def test_quoted_delimiter_and_doubled_quotes(spec: Spec, tmp_path: Path) -> None:
    data = HEADER + b'\n1,"Lee, Ann","O""Neil",Student\n2,"say ""hi""",x,Teacher\n'
    parsed = parse_bytes(spec, tmp_path, data)
    assert rows(parsed) == [
        (2, "1", "Lee, Ann", 'O"Neil', "Student"),
        (3, "2", 'say "hi"', "x", "Teacher"),
    ]


def test_quoted_newlines_keep_physical_lines(spec: Spec, tmp_path: Path) -> None:
    data = (
        HEADER + b'\n1,"two\nlines",Lee,Student\n2,"three\r\n\r\nlines",Ng,Teacher\n'
        b"3,Cy,Oz,Student\n4,short\n"
    )
    parsed = parse_bytes(spec, tmp_path, data)
    assert rows(parsed) == [
        (2, "1", "two\nlines", "Lee", "Student"),
        (4, "2", "three\n\nlines", "Ng", "Teacher"),
        (7, "3", "Cy", "Oz", "Student"),
    ]
    assert only_reject(parsed)["line"] == 8


def test_blank_lines_skipped_numbers_stay_physical(spec: Spec, tmp_path: Path) -> None:
    data = b"\n  \n" + HEADER + b"\n\n1,Ann,Lee,Student\n   \t\n,,,\n2,Bo,Ng,Teacher\n\n\n"
    parsed = parse_bytes(spec, tmp_path, data)
    assert rows(parsed) == [(5, "1", "Ann", "Lee", "Student"), (8, "2", "Bo", "Ng", "Teacher")]
    assert parsed.rows == 2
    assert parsed.rejects.height == 0


def test_powerschool_headers_and_extra_column(spec: Spec, tmp_path: Path) -> None:
    data = b'USERS.District_User_ID\t[2]First Name\t"Students.LAST-NAME"\t ROLE \tNickname\n'
    data += b"00123\tAnn\tLee\tStudent\tannie\n"
    parsed = parse_bytes(spec, tmp_path, data)
    assert parsed.frame.columns == [LINE, "district_user_id", "first_name", "last_name", "role"]
    assert rows(parsed) == [(2, "00123", "Ann", "Lee", "Student")]
    assert parsed.warnings == ("users.csv: extra columns ignored: Nickname",)


def test_optional_columns_absent_and_spec_order(spec: Spec, tmp_path: Path) -> None:
    data = b"role,email,last_name,first_name,district_user_id\nStudent,a@b.c,Lee,Ann,1\n"
    parsed = parse_bytes(spec, tmp_path, data)
    assert parsed.frame.columns == [
        LINE, "district_user_id", "first_name", "last_name", "role", "email",
    ]  # fmt: skip
    assert rows(parsed) == [(2, "1", "Ann", "Lee", "Student", "a@b.c")]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("CC.SectionID", "sectionid"), ("[39]Student_Number", "student_number"),
     (' "Students.First  Name" ', "first_name"), ("\ufeffUSERS.Last-Name", "last_name"),
     ("[1]CC.Course_Number", "course_number"), ("Grade Level", "grade_level"),
     ("e-mail", "e_mail"), ("__ID__", "id")],
)  # fmt: skip
def test_normalise_header(raw: str, expected: str) -> None:
    assert normalise_header(raw) == expected


def test_missing_required_column(spec: Spec, tmp_path: Path) -> None:
    parsed = parse_bytes(spec, tmp_path, b"district_user_id,first_name,role\n1,Ann,Student\n")
    reject = only_reject(parsed)
    assert reject["code"] == Code.MISSING_COLUMN
    assert reject["column"] == "last_name"
    assert "required column last_name is missing" in str(reject["message"])
    assert "headers found: district_user_id, first_name, role" in str(reject["message"])
    assert has_fatal(parsed.rejects)
    assert parsed.frame.height == 0


def test_duplicate_column(spec: Spec, tmp_path: Path) -> None:
    data = HEADER + b",USERS.First_Name\n1,Ann,Lee,Student,Ann\n"
    reject = only_reject(parse_bytes(spec, tmp_path, data))
    assert reject["code"] == Code.DUPLICATE_COLUMN
    assert "columns 2 (first_name) and 5 (USERS.First_Name) both mean first_name" in str(
        reject["message"]
    )


@pytest.mark.parametrize("data", [b"", b"\n\n", b"  \r\n\t\r\n", b"\xef\xbb\xbf"])
def test_empty_file(spec: Spec, tmp_path: Path, data: bytes) -> None:
    reject = only_reject(parse_bytes(spec, tmp_path, data))
    assert reject["code"] == Code.EMPTY_FILE
    assert "users.csv: the file is empty" in str(reject["message"])


def test_header_only_is_zero_rows(spec: Spec, tmp_path: Path) -> None:
    parsed = parse_bytes(spec, tmp_path, HEADER + b"\r\n")
    assert parsed.frame.height == 0
    assert parsed.frame.columns == [LINE, "district_user_id", "first_name", "last_name", "role"]
    assert parsed.rejects.height == 0


def test_not_utf8_names_line_of_first_bad_byte(spec: Spec, tmp_path: Path) -> None:
    data = HEADER + b'\r\n1,"two\r\nlines",Lee,Student\r\n\r\n2,Ren\xe9,Lee,Student\r\n'
    reject = only_reject(parse_bytes(spec, tmp_path, data))
    assert reject["code"] == Code.NOT_UTF8
    assert reject["line"] == 5
    assert str(reject["message"]).startswith(
        "users.csv line 5: byte 0xE9 is not valid UTF-8; export the file as UTF-8 "
        "(in PowerSchool: Character Set UTF-8). The batch was rejected"
    )


@pytest.mark.parametrize("bad", [b"Ren\xe9", b"Ren\xe2\x82"])  # a stray byte; a cut-off character
def test_not_utf8_deep_in_a_large_file(spec: Spec, tmp_path: Path, bad: bytes) -> None:
    # Over a MiB of accented text, checked a piece at a time: the bad byte keeps its line.
    good = "1,Zoë,Lee,Student\n".encode() * 80_000
    data = HEADER + b"\n" + good + b"2," + bad + b"\n,Lee,Student\n" + good
    reject = only_reject(parse_bytes(spec, tmp_path, data))
    assert reject["line"] == 80_002
    byte = "E9" if bad.endswith(b"\xe9") else "E2"
    assert str(reject["message"]).startswith(
        f"users.csv line 80002: byte 0x{byte} is not valid UTF-8; export the file as UTF-8"
    )


def test_utf16_is_not_utf8(spec: Spec, tmp_path: Path) -> None:
    data = (HEADER.decode() + "\n1,Ann,Lee,Student\n").encode("utf-16")
    reject = only_reject(parse_bytes(spec, tmp_path, data))
    assert reject["code"] == Code.NOT_UTF8
    assert "UTF-16" in str(reject["message"])


def test_other_encoding_on_request(spec: Spec, tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_bytes(HEADER + b"\n1,Ren\xe9,Lee,Student\n")
    parsed = parse(ReceivedFile("u.csv", path, "users", 0, ""), spec.file("users"), "cp1252")
    assert rows(parsed) == [(2, "1", "René", "Lee", "Student")]


def test_ragged_rows_rejected_with_line(spec: Spec, tmp_path: Path) -> None:
    data = HEADER + b"\n1,Ann,Lee,Student\n2,Bo\n\n3,Cy,Oz,Student,extra\n4,Di,Ek,Teacher\n"
    parsed = parse_bytes(spec, tmp_path, data)
    assert rows(parsed) == [(2, "1", "Ann", "Lee", "Student"), (6, "4", "Di", "Ek", "Teacher")]
    assert parsed.rows == 4
    assert parsed.rejects.select("line", "code", "value").rows() == [
        (3, "field_count", "2,Bo"),
        (5, "field_count", "3,Cy,Oz,Student,extra"),
    ]
    messages = parsed.rejects["message"].to_list()
    assert messages[0] == (
        "users.csv line 3: expected 4 fields as in the header, found 2; "
        "the row was rejected, the other rows load."
    )
    assert "found 5" in messages[1]
    assert not has_fatal(parsed.rejects)


def test_leading_zeros_and_trimming(spec: Spec, tmp_path: Path) -> None:
    data = HEADER + b',email\n 00123 ,  Ann\t," ",Student,\n0007,"  Bo ",Ng,Teacher,""\n'
    parsed = parse_bytes(spec, tmp_path, data)
    assert rows(parsed) == [
        (2, "00123", "Ann", None, "Student", None),
        (3, "0007", "Bo", "Ng", "Teacher", None),
    ]


def test_content_found_past_the_first_bytes_or_only_inside_quotes(
    spec: Spec, tmp_path: Path
) -> None:
    # Rows are blank when they hold only spaces, quotes and separators; a quoted
    # delimiter or a doubled quote is content, so those rows are ragged, not blank.
    data = HEADER + b'\n,,Lee,Student\n"",""\n  "" ,\n","\n""""\n  1,Bo,Ng,Teacher\n'
    parsed = parse_bytes(spec, tmp_path, data)
    assert rows(parsed) == [(2, None, None, "Lee", "Student"), (7, "1", "Bo", "Ng", "Teacher")]
    assert parsed.rejects.select("line", "value").rows() == [(5, '","'), (6, '""""')]
    assert parsed.rows == 4


@pytest.mark.parametrize(
    ("value", "expected"),
    [(b"Ann", "Ann"), (b'""', None), (b"Ann\xc2\xa0", "Ann"), (b"\xe3\x80\x80Ann", "Ann"),
     (b'"\nAnn"', "Ann"), (b"\xe2\x80\x99Ann", "\u2019Ann")],
)  # fmt: skip
def test_trimming_whatever_the_only_whitespace_in_the_file(
    spec: Spec, tmp_path: Path, value: bytes, expected: str | None
) -> None:
    parsed = parse_bytes(spec, tmp_path, HEADER + b"\n1," + value + b",Lee,Student\n")
    assert rows(parsed) == [(2, "1", expected, "Lee", "Student")]


def test_space_before_quote_and_stray_quote_read_literally(spec: Spec, tmp_path: Path) -> None:
    # Neither is valid RFC 4180; polars refuses them, so the exact reader takes over.
    data = HEADER + b'\n1, "Lee, Ann" ,Ng,Student\n2,5\'11",Oz,Teacher\n3,Cy,Oz,Student\n'
    parsed = parse_bytes(spec, tmp_path, data + b"\n4,short\n")
    assert rows(parsed) == [
        (2, "1", "Lee, Ann", "Ng", "Student"),
        (3, "2", "5'11\"", "Oz", "Teacher"),
        (4, "3", "Cy", "Oz", "Student"),
    ]
    assert parsed.rejects.row(0) == (
        "users.csv", 6, None, "4,short", "field_count",
        "users.csv line 6: expected 4 fields as in the header, found 2; "
        "the row was rejected, the other rows load.",
    )  # fmt: skip
    assert parsed.rows == 4


PIECES = [b",", b'"', b"\n", b"\r", b"a", b" ", b"\t", b";", b"\xe9", b"\xc3\xa9", b"|", b"\x00"]

# Control characters other than TAB and LF are left out: Python's str.strip() and
# polars disagree on whether \x1c-\x1f are whitespace, which is not what is tested.
field_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")) | st.sampled_from('\t\n ,";|'),
    max_size=6,
)
row_fields = st.one_of(
    st.lists(field_text, min_size=4, max_size=4),  # most rows fit the header
    st.lists(field_text, max_size=6),  # some are ragged or blank
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=st.lists(row_fields, max_size=8), newline=st.sampled_from(["\n", "\r\n"]))
def test_written_csv_parses_like_the_oracle(
    spec: Spec, tmp_path: Path, records: list[list[str]], newline: str
) -> None:
    """Any file the csv module writes: kept rows, rejects and physical lines as expected."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(HEADER.decode().split(","))
    kept, ragged = [], []
    for fields in records:
        line = 1 + out.getvalue().replace("\r\n", "\n").count("\n")
        writer.writerow(fields)
        if not any(f.strip() for f in fields):
            continue
        if len(fields) == 4:
            kept.append((line, *(f.strip() or None for f in fields)))
        else:
            ragged.append(line)
    parsed = parse_bytes(spec, tmp_path, out.getvalue().encode())
    assert rows(parsed) == kept
    assert parsed.rejects["line"].to_list() == ragged
    assert set(parsed.rejects["code"]) <= {Code.FIELD_COUNT}
    assert parsed.rows == len(kept) + len(ragged)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.lists(st.sampled_from(PIECES), max_size=60).map(b"".join),
    ),
    header=st.booleans(),
)  # fmt: skip
def test_arbitrary_bytes_never_raise(spec: Spec, tmp_path: Path, data: bytes, header: bool) -> None:
    parsed = parse_bytes(spec, tmp_path, (HEADER + b"\n" if header else b"") + data)
    assert parsed.rejects.schema == SCHEMA
    assert parsed.frame.schema[LINE] == pl.Int64()
    if parsed.frame.height:
        assert parsed.frame[LINE].is_sorted()
        first = parsed.frame[LINE].min()
        assert isinstance(first, int)
        assert first >= 2
    assert parsed.frame.height <= parsed.rows


def test_aliases_and_a_file_with_no_spec_column(tmp_path: Path) -> None:
    yaml = "name: t\nfiles:\n  things:\n    key: [id]\n    columns:\n"
    yaml += "      id: {aliases: [Thing Number]}\n      label: {}\n"
    (tmp_path / "t.yaml").write_text(yaml)
    spec = load_spec(str(tmp_path / "t.yaml"))
    aliased = parse_bytes(spec, tmp_path, b"Things.THING-NUMBER,x\n1,2\n\n3,4\n", "things")
    assert aliased.frame.rows() == [(2, "1"), (4, "3")]
    assert aliased.frame.columns == [LINE, "id"]
    nothing = parse_bytes(spec, tmp_path, b"other\n1\n2,3\n", "things")
    assert nothing.frame.rows() == [(2,)]
    assert nothing.rejects.select("line", "code").rows() == [(3, "field_count")]
    assert nothing.warnings == ("users.csv: extra columns ignored: other",)
