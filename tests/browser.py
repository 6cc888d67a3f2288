"""A headless Chromium driven over the DevTools protocol on a pipe: no package, no port.

Chromium started with ``--remote-debugging-pipe`` reads protocol commands on its
file descriptor 3 and writes replies and events on 4, each a JSON text ended by
a NUL.  The page itself holds no script: what the tests measure (the boxes of
the math elements, the requests made) is asked of the browser from outside.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
# the name is resolved nowhere: any host the page asked for fails at once, offline
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND"


def executable() -> str | None:
    return next((p for p in map(shutil.which, CHROMIUM) if p), None)


class Browser:
    """One Chromium; :meth:`load` opens a page and answers what it fetched and drew."""

    def __init__(self, proc: subprocess.Popen[bytes], send: int, recv: int) -> None:
        self.proc, self.send, self.recv = proc, send, recv
        self.ids = 0
        self.buffer = b""
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, params: dict[str, Any] | None = None, session: str = "",
             timeout: float = 30.0) -> dict[str, Any]:
        self.ids += 1
        msg: dict[str, Any] = {"id": self.ids, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.send, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._next(timeout)
            if reply.get("id") == self.ids:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for e in self.events:
                if e.get("method") == method:
                    self.events.remove(e)
                    return e
            self.events.append(self._next(max(0.1, deadline - time.monotonic())))
            if time.monotonic() > deadline:
                raise TimeoutError(method)

    def _next(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.recv], [], [], max(0.0, left))
            if not ready:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self.recv, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed its pipe")
            self.buffer += chunk
        text, _, self.buffer = self.buffer.partition(b"\0")
        message: dict[str, Any] = json.loads(text)
        return message

    def load(self, path: Path, expression: str) -> tuple[Any, list[str]]:
        """Open ``path`` (JavaScript disabled in the page), wait for it to load, evaluate
        ``expression`` from outside; (its value, every URL the page requested)."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        self.call("Network.enable", session=session)
        self.call("Page.enable", session=session)
        self.call("Emulation.setScriptExecutionDisabled", {"value": True}, session=session)
        self.events.clear()
        self.call("Page.navigate", {"url": path.resolve().as_uri()}, session=session)
        self.wait_for("Page.loadEventFired")
        # evaluated by the protocol, which a page's script switch does not govern
        value = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                          session=session)["result"].get("value")
        urls = [e["params"]["request"]["url"] for e in self.events
                if e.get("method") == "Network.requestWillBeSent"]
        self.call("Target.closeTarget", {"targetId": target})
        return value, urls


@contextmanager
def chromium() -> Iterator[Browser]:
    exe = executable()
    if exe is None:
        raise FileNotFoundError("no chromium")
    profile = tempfile.mkdtemp(prefix="einderive-chromium-")
    to_browser_r, to_browser_w = os.pipe()
    from_browser_r, from_browser_w = os.pipe()

    def fds() -> None:  # in the child: its fd 3 reads our commands, fd 4 writes replies
        r, w = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser_r, from_browser_w))
        os.dup2(r, 3)
        os.dup2(w, 4)

    proc = subprocess.Popen(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
         "--no-first-run", "--no-default-browser-check", "--disable-extensions",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         OFFLINE, f"--user-data-dir={profile}", "--window-size=1200,900", "about:blank"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        pass_fds=(3, 4), preexec_fn=fds)
    os.close(to_browser_r)
    os.close(from_browser_w)
    browser = Browser(proc, to_browser_w, from_browser_r)
    try:
        yield browser
    finally:
        try:
            browser.call("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        os.close(to_browser_w)
        os.close(from_browser_r)
        shutil.rmtree(profile, ignore_errors=True)
