"""Datagrams the kernel dropped for a socket because its receive buffer was full.

A flood faster than the receiver reads is lost in the kernel before netpoll sees it; Linux counts those
drops per socket in the last column of ``/proc/net/udp`` and ``/proc/net/udp6`` (this network namespace),
keyed by the socket's inode. Reading them there puts the drops on netpoll's own counters.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Collection, Iterable
from pathlib import Path

UDP_TABLES = (Path("/proc/net/udp"), Path("/proc/net/udp6"))
# Columns of a /proc/net/udp row (after the header line): ... inode (10th) ... drops (last).
_INODE, _DROPS = 9, -1


def socket_inode(sock: socket.socket) -> int:
    """The inode that names ``sock`` in ``/proc/net/udp``."""
    return os.fstat(sock.fileno()).st_ino


def udp_drops(inodes: Collection[int], tables: Iterable[Path] = UDP_TABLES) -> int:
    """The kernel's drop count summed over the UDP sockets with these inodes (0 where it cannot tell)."""
    if not inodes:
        return 0
    total = 0
    for table in tables:
        try:
            lines = table.read_text().splitlines()[1:]
        except OSError:
            continue  # no IPv6, or not Linux: nothing to add
        for line in lines:
            columns = line.split()
            if len(columns) > _INODE and columns[_INODE].isdigit() and int(columns[_INODE]) in inodes:
                drops = columns[_DROPS]
                total += int(drops) if drops.isdigit() else 0
    return total
