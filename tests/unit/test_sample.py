import pytest

from netpoll.sample import Sample


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
    ],
)
def test_line_protocol(sample: Sample, line: str) -> None:
    assert sample.to_line_protocol() == line
