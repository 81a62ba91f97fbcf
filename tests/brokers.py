"""A private mosquitto for a test module or a benchmark: Debian's broker on a free loopback port, with a
user name and password like scripts/mqtt.sh, in the foreground of a child process stopped at the end."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MOSQUITTO = os.environ.get("MOSQUITTO", "/usr/sbin/mosquitto")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def private_broker() -> Iterator[str]:
    """Start a broker; yield its mqtt:// URL; stop it."""
    if not Path(MOSQUITTO).exists():
        raise RuntimeError(f"{MOSQUITTO} is missing: `make system` installs mosquitto")
    folder = Path(tempfile.mkdtemp(prefix="nanhui-mqtt-"))
    port, password = _free_port(), uuid.uuid4().hex
    plain = folder / "passwd"
    plain.write_text(f"nanhui:{password}\n")
    subprocess.run(["mosquitto_passwd", "-U", str(plain)], check=True, capture_output=True)
    os.chmod(folder, 0o755)  # as root the broker drops to `mosquitto`, which reads the password file after
    os.chmod(plain, 0o644)
    config = folder / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {plain}\n"
                      "persistence false\nlog_dest stderr\nlog_type error\nlog_type warning\n"
                      "max_queued_messages 200000\nmax_inflight_messages 1000\n")
    log = (folder / "mosquitto.log").open("wb")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mosquitto did not start: {(folder / 'mosquitto.log').read_text()}") from None
                time.sleep(0.05)
        yield f"mqtt://nanhui:{password}@127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)
