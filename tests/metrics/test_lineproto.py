"""The line-protocol parser against the InfluxDB reference's cases (no Django)."""

from __future__ import annotations

import pytest

from steward.metrics import lineproto


def one(line: str, precision: str = "ns") -> lineproto.Point:
    result = lineproto.parse(line, precision)
    assert result.errors == [], result.errors
    assert len(result.points) == 1
    return result.points[0]


def error_of(line: str) -> str:
    result = lineproto.parse(line)
    assert result.points == []
    assert result.rejected_lines == 1
    return result.errors[0][1]


def test_a_plain_line_gives_measurement_tags_fields_and_timestamp():
    point = one("cpu,host=web-01,cpu=cpu0 usage_idle=99.5,usage_user=0.25 1764390600000000000")
    assert point.measurement == "cpu"
    assert point.tags == {"host": "web-01", "cpu": "cpu0"}
    assert point.fields == [("usage_idle", 99.5), ("usage_user", 0.25)]
    assert point.timestamp_ms == 1764390600000


def test_no_timestamp_means_none_so_the_server_uses_its_clock():
    assert one("mem used=1i").timestamp_ms is None


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("1", 1.0),
        ("-1.5", -1.5),
        ("1e3", 1000.0),
        ("1.", 1.0),
        (".5", 0.5),
        ("12i", 12.0),
        ("-12i", -12.0),
        ("12u", 12.0),
        ("9223372036854775807i", 9.223372036854776e18),
        ("t", 1.0),
        ("T", 1.0),
        ("true", 1.0),
        ("True", 1.0),
        ("TRUE", 1.0),
        ("f", 0.0),
        ("False", 0.0),
        ("FALSE", 0.0),
    ],
)
def test_field_types_become_floats(raw, value):
    assert one(f"m v={raw}").fields == [("v", value)]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("abc", "invalid field value 'abc'"),
        ("nan", "invalid field value 'nan'"),
        ("inf", "invalid field value 'inf'"),
        ("1_000", "invalid field value '1_000'"),
        ("1.5i", "invalid integer value '1.5i'"),
        ("-1u", "invalid unsigned value '-1u'"),
        ("9223372036854775808i", "integer value '9223372036854775808i' out of range"),
        ("18446744073709551616u", "unsigned value '18446744073709551616u' out of range"),
        ("yes", "invalid field value 'yes'"),
    ],
)
def test_invalid_field_values_are_refused_with_the_value_named(raw, reason):
    assert error_of(f"m v={raw}") == reason


def test_string_fields_are_skipped_and_counted():
    result = lineproto.parse('syslog,host=a message="disk full, again",severity=3i')
    assert result.strings_skipped == 1
    assert result.points[0].fields == [("severity", 3.0)]


def test_a_line_with_only_string_fields_is_valid_but_yields_no_point():
    result = lineproto.parse('event text="hello world"')
    assert (result.points, result.errors, result.strings_skipped) == ([], [], 1)


def test_escaped_commas_spaces_and_equals_in_names_and_tag_values():
    point = one(r"my\ meas\,ure,tag\ key=val\=ue\,x\ y fi\=eld\ k=1 0")
    assert point.measurement == "my meas,ure"
    assert point.tags == {"tag key": "val=ue,x y"}
    assert point.fields == [("fi=eld k", 1.0)]


def test_an_equals_sign_needs_no_escape_in_a_measurement():
    assert one("a=b v=1").measurement == "a=b"


def test_quoted_strings_keep_spaces_commas_and_escaped_quotes():
    result = lineproto.parse(r'log msg="say \"hi\", then go=away",n=1i 1000000')
    assert result.errors == []
    assert result.points[0].fields == [("n", 1.0)]
    assert result.points[0].timestamp_ms == 1


def test_backslashes_before_ordinary_characters_are_literal():
    assert one(r"path,dir=C:\Temp v=1").tags == {"dir": r"C:\Temp"}
    assert one(r"path,dir=a\\b v=1").tags == {"dir": "a\\b"}


@pytest.mark.parametrize(
    ("precision", "raw", "ms"),
    [
        ("ns", "1764390600123456789", 1764390600123),
        ("us", "1764390600123456", 1764390600123),
        ("u", "1764390600123456", 1764390600123),
        ("ms", "1764390600123", 1764390600123),
        ("s", "1764390600", 1764390600000),
        ("m", "2", 120_000),
        ("h", "1", 3_600_000),
    ],
)
def test_timestamps_follow_the_precision(precision, raw, ms):
    assert one(f"m v=1 {raw}", precision).timestamp_ms == ms


def test_unknown_precision_is_an_error():
    with pytest.raises(ValueError, match="unknown precision"):
        lineproto.parse("m v=1", "fortnight")


def test_comments_blank_lines_and_crlf_are_ignored():
    text = "# a comment\r\n\r\n   \nm v=1\r\n  # indented comment\nm v=2\n"
    result = lineproto.parse(text)
    assert [p.fields[0][1] for p in result.points] == [1.0, 2.0]
    assert result.errors == []


def test_bad_lines_are_reported_with_their_line_number_and_the_rest_kept():
    text = "m v=1\nm v=2\nm v=abc\nm\nm v=5\n"
    result = lineproto.parse(text)
    assert [p.line for p in result.points] == [1, 2, 5]
    assert result.errors == [(3, "invalid field value 'abc'"), (4, "missing fields")]
    assert result.first_error == "line 3: invalid field value 'abc'"
    assert result.rejected_lines == 2


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("m", "missing fields"),
        (",t=1 v=1", "missing measurement"),
        ("m,t v=1", "invalid tag 't': expected key=value"),
        ("m,t= v=1", "missing value for tag 't'"),
        ("m v=", "missing value for field 'v'"),
        ("m v", "invalid field 'v': expected key=value"),
        ("m v=1 12x", "invalid timestamp '12x'"),
        ("m v=1 1 2", "unexpected space (escape spaces in names with '\\ ')"),
        ('m s="open', "unterminated string field value"),
        ('m s="a" 1 2', "unexpected text after the timestamp"),
    ],
)
def test_malformed_lines_name_the_reason(line, reason):
    assert error_of(line) == reason


def test_only_the_first_hundred_errors_are_kept_in_detail_but_all_are_counted():
    result = lineproto.parse("\n".join(["bad"] * 250))
    assert len(result.errors) == 100
    assert result.rejected_lines == 250
