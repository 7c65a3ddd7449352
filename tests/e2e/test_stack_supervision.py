"""The stack runner (tools/stack.py, what `make run` runs) with the real services, on free ports.

- A SIGTERM to `make run`'s process group (systemd, `docker stop`, a CI runner, a closed terminal) stops every
  process of the stack within 20 s and frees the ports, so the next `make run` starts cleanly. `make` forwards
  the SIGTERM to the runner, so the runner gets it twice: the old runner gave up its clean-up half-way.
- An engine killed mid-conversation is restarted; meanwhile the gateway answers citizens with its apology and
  the 「担当者と話す」 button and a chat with a person goes on. Then the gateway is killed: it is restarted, and
  the chat with the person goes on with nothing lost (`make test-faults` runs this with the LINE inbox's tests).

Both start real Rasa processes (1–2 min each on a small machine).
"""

from __future__ import annotations

import asyncio
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, List, Optional, Tuple

import httpx
import pytest

from gateway import texts
from tests.gateway.conftest import create_staff_user, staff_login
from tests.socketio_client import WidgetClient
from tools.model import ENGINE_BIN, ROOT, engine_env, model_path
from tools.stack import free_port

pytestmark = pytest.mark.e2e

START_TIMEOUT = 300  # seconds for the whole stack to come up on a busy 2-core machine
STOP_LIMIT = 20  # what the issue asks for


# ---------------------------------------------------------------- processes, read from /proc
def _stat(pid: int) -> Optional[Tuple[int, str, str]]:
    """(parent pid, state, start time) of a process, None if there is none."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), fields[0], fields[19]


def descendants(root: int) -> Dict[int, str]:
    """Every process below ``root`` (any depth, whatever its process group or session): pid → start time."""
    parents: Dict[int, List[int]] = {}
    starts: Dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))):
            parents.setdefault(stat[0], []).append(int(entry))
            starts[int(entry)] = stat[2]
    found: Dict[int, str] = {}
    todo = [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            found[child] = starts[child]
            todo.append(child)
    return found


def still_running(processes: Dict[int, str]) -> List[int]:
    """The pids of ``processes`` that still run (the same process: same start time, not a zombie)."""
    left = []
    for pid, start in processes.items():
        stat = _stat(pid)
        if stat and stat[2] == start and stat[1] != "Z":
            left.append(pid)
    return left


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Runner:
    """A stack runner started like a terminal job: its own process group, output read line by line."""

    def __init__(self, cmd: List[str], env: Dict[str, str]) -> None:
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.lines: "queue.Queue[str]" = queue.Queue()
        self.seen: Dict[int, str] = {}  # every process seen below the runner (orphans are no longer below it)
        self.output: List[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put("")

    def wait_for(self, pattern: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            assert line, "runner ended:\n" + "".join(self.output)
            self.output.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no {pattern!r} after {timeout:.0f}s:\n" + "".join(self.output))

    def terminate_group(self) -> Dict[int, str]:
        """SIGTERM to the whole process group, as systemd or `docker stop` send it; what ran below it."""
        processes = descendants(self.proc.pid)
        self.seen |= processes
        os.killpg(self.proc.pid, signal.SIGTERM)
        return processes

    def kill_all(self) -> None:
        """Clean-up after a failed test: whatever is left of this runner's processes (never anyone else's)."""
        for pid in still_running(self.seen | descendants(self.proc.pid)):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


def assert_all_stopped(runner: Runner, processes: Dict[int, str], ports: Dict[str, int]) -> float:
    """Within STOP_LIMIT s: no process of the stack left, no port held; returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < STOP_LIMIT:
        if not still_running(processes) and runner.proc.poll() is not None:
            break
        time.sleep(0.2)
    left = {pid: cmdline(pid) for pid in still_running(processes)}
    assert not left, f"still running {STOP_LIMIT}s after SIGTERM: {left}\n" + "".join(runner.output)
    assert runner.proc.poll() is not None
    for name, port in ports.items():
        assert not port_open(port), f"{name} port {port} still held"
    return time.monotonic() - started


def stack_env(tmp_path: Path, ports: Dict[str, int], **extra: str) -> Dict[str, str]:
    return dict(os.environ) | {k: str(v) for k, v in ports.items()} | {"DATA_DIR": str(tmp_path)} | extra


def free_ports() -> Dict[str, int]:
    return {"PORT": free_port(), "ENGINE_PORT": free_port(), "ACTIONS_PORT": free_port()}


# ---------------------------------------------------------------- 1. stopping stops everything
def test_sigterm_to_make_run_stops_every_process_and_make_run_starts_again(tmp_path):
    assert model_path().exists(), "no model for the current data: run `make train` (make test does)"
    ports = free_ports()
    env = stack_env(tmp_path, ports)
    # `make run` itself; setup and train are done (make test does them first) and must not re-install or
    # re-train under other work here: -o marks them done, the recipe that runs is the same.
    cmd = ["make", "--no-print-directory", "-o", "setup", "-o", "train", "run"]
    for attempt in (1, 2):  # the second start proves the first left nothing behind (ports, processes)
        runner = Runner(cmd, env)
        try:
            runner.wait_for(r"Ctrl-C stops everything", START_TIMEOUT)
            assert httpx.get(f"http://127.0.0.1:{ports['PORT']}/healthz", timeout=5).status_code == 200
            processes = runner.terminate_group()
            names = " ".join(cmdline(pid) for pid in processes)
            assert "tools/stack.py" in names and "rasa run actions" in names and "-m gateway" in names, names
            seconds = assert_all_stopped(runner, processes, ports)
            print(f"start {attempt}: {len(processes)} processes stopped {seconds:.1f}s after SIGTERM")
        finally:
            runner.kill_all()


# ---------------------------------------------------------------- 2. an engine crash is survived
PASSWORD = "supervision-pw-0123456789"


def _drain(widget: WidgetClient) -> None:
    """Forget what arrived so far (the rest of an earlier answer, a greeting)."""
    while not widget.messages.empty():
        widget.messages.get_nowait()


async def _ask(widget: WidgetClient, text: str, timeout: float) -> Dict:
    _drain(widget)
    return await widget.ask(text, timeout=timeout)


async def _wait_for_text(widget: WidgetClient, text: str, timeout: float) -> Dict:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            message = await widget.next_message(max(0.1, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            break
        if message.get("text") == text:
            return message
        seen.append(message)
    raise AssertionError(f"no {text!r} within {timeout}s: {seen}")


def _engine_pid(root: int, engine_port: int) -> int:
    for pid in descendants(root):
        words = cmdline(pid).split()
        if "rasa" in " ".join(words) and "run" in words and "actions" not in words and str(engine_port) in words:
            return pid
    raise AssertionError("no engine process")


async def _citizen_gets_a_real_answer(widget: WidgetClient) -> Dict:
    answer = await _ask(widget, "粗大ごみの申し込み方法を教えて", 60)
    assert answer["text"] != texts.ENGINE_DOWN, answer
    return answer


def test_engine_then_gateway_killed_mid_conversation_both_restart_and_nothing_is_lost(tmp_path):
    assert model_path().exists(), "no model for the current data: run `make train` (make test does)"
    ports = free_ports()
    citydata_url = f"sqlite:///{tmp_path / 'citydata.db'}"
    subprocess.run([str(ENGINE_BIN / "python"), "-m", "bot.knowledge.citydata", "load", str(ROOT / "data" / "city_sample"),
                    "--db", citydata_url], cwd=ROOT, env=engine_env(), check=True, stdout=subprocess.DEVNULL)
    env = stack_env(tmp_path, ports, CITYDATA_DB_URL=citydata_url,
                    ASSISTANT_DB_URL=f"sqlite:///{tmp_path / 'assistant.db'}")
    gateway = SimpleNamespace(url=f"http://127.0.0.1:{ports['PORT']}", db_url=f"sqlite:///{tmp_path / 'gateway.db'}")
    runner = Runner([sys.executable, "tools/stack.py"], env)
    try:
        up = runner.wait_for(r"Sapporo assistant is up", START_TIMEOUT)
        startup = float(re.search(r"up \((\d+)s\)", up).group(1))
        runner.wait_for(r"Ctrl-C stops everything", 10)
        create_staff_user(gateway, "clerk", "staff", PASSWORD)
        clerk = staff_login(gateway, "clerk", PASSWORD)
        gateway_pid = next(pid for pid in descendants(runner.proc.pid) if "-m gateway" in cmdline(pid))
        chat = asyncio.run(_engine_crash(runner, gateway, clerk, ports, startup))
        assert gateway_pid in still_running(descendants(runner.proc.pid)), "the gateway was restarted or stopped"
        asyncio.run(_gateway_crash(runner, gateway, clerk, gateway_pid, *chat))
        processes = runner.terminate_group()
        assert_all_stopped(runner, processes, ports)
    finally:
        runner.kill_all()


async def _engine_crash(runner: Runner, gateway, clerk, ports: Dict[str, int], startup: float) -> None:
    citizen, waiting = WidgetClient(gateway.url), WidgetClient(gateway.url)
    await citizen.connect()
    await waiting.connect()
    try:
        await _citizen_gets_a_real_answer(citizen)  # the bot-owned chat works before the crash
        # a second citizen asks for a person, the clerk takes the chat
        await waiting.say("/request_human")
        await waiting.next_message(30)
        conversation_id = f"web:{waiting.session_id}"
        assert clerk.act(conversation_id, "claim").status_code == 200

        engine = _engine_pid(runner.proc.pid, ports["ENGINE_PORT"])
        os.killpg(engine, signal.SIGKILL)  # a crash: no clean-up, no goodbye
        killed_at = time.monotonic()
        runner.wait_for(r"engine exited with code -9", 15)

        # the citizen with the bot gets the apology and the button to a person, at once
        answer = await _ask(citizen, "燃えるごみの日はいつですか", 15)
        assert answer["text"] == texts.ENGINE_DOWN, answer
        assert texts.HUMAN_BUTTON["title"] in [r.get("title") for r in answer.get("quick_replies") or []], answer

        # the chat with the clerk goes on both ways
        await waiting.say("まだつながっていますか")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            transcript = clerk.conversation(conversation_id).json()
            if any(m.get("text") == "まだつながっていますか" for m in transcript.get("messages", [])):
                break
            await asyncio.sleep(0.3)
        else:
            raise AssertionError(f"the clerk never saw the citizen's message: {transcript}")
        assert clerk.act(conversation_id, "reply", {"text": "はい、担当の者です。"}).status_code == 200
        await _wait_for_text(waiting, "はい、担当の者です。", 10)

        # the engine is back within its start-up time (plus the first backoff step) and answers again
        runner.wait_for(r"engine restarted", 15)
        limit = startup * 1.5 + 30
        while time.monotonic() - killed_at < limit:
            if httpx.get(f"{gateway.url}/healthz", timeout=5).status_code == 200:
                break
            await asyncio.sleep(1)
        back = time.monotonic() - killed_at
        assert back < limit, f"engine not back {back:.0f}s after the crash (start-up took {startup:.0f}s)"
        print(f"engine back {back:.0f}s after SIGKILL (first start-up {startup:.0f}s)")
        await _citizen_gets_a_real_answer(citizen)
        return conversation_id, waiting.token, waiting.last_message_id
    finally:
        await citizen.close()
        await waiting.close()


async def _gateway_crash(runner: Runner, gateway, clerk, gateway_pid: int, conversation_id: str, token: str,
                         seen: int) -> None:
    """Then the gateway dies (SIGKILL) with the clerk's chat open: the runner restarts it; the chat is still the
    clerk's, a reply written while the citizen's page is away reaches them when it reconnects with its token,
    and what the citizen writes then reaches the clerk; the transcript has everything from before."""
    os.killpg(os.getpgid(gateway_pid), signal.SIGKILL)
    runner.wait_for(r"gateway exited with code -9", 15)
    runner.wait_for(r"gateway restarted", 30)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{gateway.url}/healthz", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.5)
    else:
        raise AssertionError("the gateway did not come back within 120 s")
    answer = clerk.act(conversation_id, "reply", {"text": "再起動の間の返信です。"})  # the staff session survived
    assert answer.status_code == 200, answer.text
    assert answer.json()["message"]["delivery"] == "offline"  # the citizen's page is not back yet
    back = WidgetClient(gateway.url)
    try:
        await back.connect(token, last_message_id=seen)
        assert back.session_id == conversation_id.split(":", 1)[1]
        await _wait_for_text(back, "再起動の間の返信です。", 15)
        await back.say("戻りました")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            texts_now = [m.get("text") for m in clerk.conversation(conversation_id).json()["messages"]]
            if "戻りました" in texts_now:
                break
            await asyncio.sleep(0.3)
        else:
            raise AssertionError(f"the clerk never saw the citizen's message after the restart: {texts_now}")
        for before in ("まだつながっていますか", "はい、担当の者です。", "再起動の間の返信です。"):
            assert before in texts_now, before
    finally:
        await back.close()
