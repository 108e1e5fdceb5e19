"""The kernel's per-socket UDP drop counts: parsing /proc/net/udp, and a real socket's overflow."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from netpoll.inputs.traps.kerneldrops import socket_inode, udp_drops

HEADER = (
    "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref"
    " pointer drops\n"
)
ROW = (
    "  {sl}: 0100007F:00A2 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 {inode} 2 0"
    " {drops}\n"
)


@pytest.mark.parametrize(
    ("rows", "inodes", "expected"),
    [
        ([(111, 5), (222, 7)], {111}, 5),
        ([(111, 5), (222, 7)], {111, 222}, 12),
        ([(111, 5)], {333}, 0),
        ([(111, 5)], set(), 0),
    ],
)
def test_drops_summed_over_the_sockets_asked_for(
    tmp_path: Path, rows: list[tuple[int, int]], inodes: set[int], expected: int
) -> None:
    table = tmp_path / "udp"
    table.write_text(HEADER + "".join(ROW.format(sl=i, inode=n, drops=d) for i, (n, d) in enumerate(rows)))
    assert udp_drops(inodes, [table]) == expected


def test_missing_or_garbled_tables_count_nothing(tmp_path: Path) -> None:
    garbled = tmp_path / "udp"
    garbled.write_text(HEADER + "  0: short row\n" + ROW.format(sl=1, inode=111, drops="x"))
    assert udp_drops({111}, [tmp_path / "absent", garbled]) == 0


@pytest.mark.skipif(not Path("/proc/net/udp").exists(), reason="Linux only")
def test_a_real_socket_that_overflows_shows_its_drops() -> None:
    """A receive buffer of a few KiB, 2,000 datagrams on loopback and nobody reading: the kernel drops."""
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with receiver, sender:
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        receiver.bind(("127.0.0.1", 0))
        assert udp_drops({socket_inode(receiver)}) == 0
        for _ in range(2000):
            sender.sendto(b"x" * 200, receiver.getsockname())
        assert udp_drops({socket_inode(receiver)}) > 0
