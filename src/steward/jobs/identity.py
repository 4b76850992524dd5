"""Who a worker is, for leases: host and process id. Kept apart from the job table so
modules that lease work (notifications) can import it without importing every job."""

from __future__ import annotations

import os
import socket


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"
