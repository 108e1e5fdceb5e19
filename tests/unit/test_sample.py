import pytest

from netpoll.sample import TAG_MAX, Sample


@pytest.mark.parametrize(
    ("sample", "line"),
    [
        (Sample("snmp", {"device": "r1"}, {"uptime_s": 5}, 1), "snmp,device=r1 uptime_s=5i 1"),
        (
            Sample("ping", {"device": "a b", "url": "::1"}, {"reachable": True}, 2),
            r"ping,device=a\ b,url=::1 reachable=true 2",
        ),
        (
            Sample("interface", {"ifName": "Gi0/1,x=y", "site": ""}, {"in_bps": 1.5}, 3),
            r"interface,ifName=Gi0/1\,x\=y in_bps=1.5 3",
        ),
        (Sample("alert", {}, {"msg": 'say "hi" \\'}, 4), r'alert msg="say \"hi\" \\" 4'),
        # A backslash that would end a tag value (or stand before an escaped character) has no encoding:
        # U+FF3C. Line breaks in names become spaces, in string fields the two characters backslash-n.
        (Sample("interface", {"ifAlias": "core\\"}, {"n": 1}, 5), "interface,ifAlias=core\uff3c n=1i 5"),
        (Sample("interface", {"ifAlias": "a\\,b"}, {"n": 1}, 6), "interface,ifAlias=a\uff3c\\,b n=1i 6"),
        (Sample("interface", {"ifAlias": "a\\b"}, {"n": 1}, 7), r"interface,ifAlias=a\b n=1i 7"),
        (Sample("m", {"t": "a\nb"}, {"s": "a\nb"}, 8), r'm,t=a\ b s="a\nb" 8'),
        (Sample("m", {"t": "\udcff"}, {"s": "\udcff"}, 9), 'm,t=\ufffd s="\ufffd" 9'),
        # Counter64 at and above 2^63: two's complement; beyond 64 bits: a float; NaN: the field is left out.
        (Sample("m", {}, {"c": 2**64 - 1, "d": 2**63}, 10), f"m c=-1i,d={-(2**63)}i 10"),
        (
            Sample("m", {}, {"c": 2**64, "nan": float("nan"), "ok": 1.0}, 11),
            "m c=1.8446744073709552e+19,ok=1.0 11",
        ),
        (Sample("m", {}, {"nan": float("inf")}, 12), ""),
    ],
)
def test_line_protocol(sample: Sample, line: str) -> None:
    assert sample.to_line_protocol() == line


def test_long_tag_values_are_cut_and_stay_distinct() -> None:
    lines = [Sample("m", {"t": name}, {"n": 1}, 1).to_line_protocol() for name in ("/" * 22000, "/" * 22001)]
    assert lines[0] != lines[1]
    assert all(len(line.encode()) < TAG_MAX + 40 for line in lines)


def test_records_of_one_shape_each_spell_their_own_values() -> None:
    # Records with the same fields and types share a compiled template; one whose values the template cannot
    # spell (NaN, infinity, an int beyond 64 signed bits) is spelled field by field, and the next is not.
    shape = {"c": 0, "r": 0.0, "k%s": 0}
    values = [
        ((1, 2.5, -3), "m c=1i,r=2.5,k%s=-3i 1"),
        ((2**63, 0.1, 0), f"m c={-(2**63)}i,r=0.1,k%s=0i 1"),
        ((1, float("nan"), 2), "m c=1i,k%s=2i 1"),
        ((-(2**63) - 1, -0.0, 1), "m c=-9.223372036854776e+18,r=-0.0,k%s=1i 1"),
        ((0, 1e308, 0), "m c=0i,r=1e+308,k%s=0i 1"),
        ((0, float("-inf"), 0), "m c=0i,k%s=0i 1"),
        ((7, 7.0, 7), "m c=7i,r=7.0,k%s=7i 1"),
    ]
    for row, line in values:
        fields = dict(zip(shape, row, strict=True))
        assert Sample("m", {}, fields, 1).to_line_protocol() == line


def test_tag_values_seen_before_are_escaped_the_same() -> None:
    tags = {"site": "a b", "device": "r,1", "ifName": "Gi0/1", "role": ""}
    line = r"interface,device=r\,1,ifName=Gi0/1,site=a\ b n=1i 1"
    for _ in range(3):
        assert Sample("interface", dict(tags), {"n": 1}, 1).to_line_protocol() == line
