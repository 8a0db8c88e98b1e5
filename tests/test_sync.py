"""The generated sync facade: staleness, parity, and life on the loop thread."""

from __future__ import annotations

import asyncio
import gc
import inspect
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import httpx
import pytest

import pacspace_async
import pacspace_sync
from pacspace_sandbox import Sandbox, SandboxServer
from pacspace_sync import _codegen
from pacspace_sync._loop import loop_thread

KEY = "pk_test_PUBLIC.SECRET"


def envelope(data: object) -> dict[str, object]:
    return {"success": True, "data": data}


def slow_client(delay: float = 0.1) -> pacspace_sync.PacSpace:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(delay)
        return httpx.Response(200, json=envelope({"used": 1}))

    return pacspace_sync.PacSpace(
        KEY,
        base_url="https://api.test",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )


def loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "pacspace-sync-loop"]


def test_generated_file_is_fresh() -> None:
    expected = _codegen.formatted(_codegen.render())
    assert _codegen.OUTPUT.read_text() == expected, "run: python -m pacspace_sync._codegen"


def _public(cls: type) -> dict[str, Any]:
    return {n: m for n, m in inspect.getmembers(cls) if not n.startswith("_") and callable(m)}


@pytest.mark.parametrize("name", ["PacSpace", "Balance", "Receipts", "Customers"])
def test_every_async_method_has_a_sync_twin_with_identical_parameters(name: str) -> None:
    async_cls = getattr(pacspace_async._client, name, None) or getattr(
        pacspace_async.resources, name
    )
    sync_cls = getattr(pacspace_sync, name)
    async_methods = {n: m for n, m in _public(async_cls).items() if n != "aclose"}
    sync_methods = _public(sync_cls)
    assert set(async_methods) <= set(sync_methods)
    for method, func in async_methods.items():
        ours, theirs = inspect.signature(sync_methods[method]), inspect.signature(func)
        assert list(ours.parameters.values()) == list(theirs.parameters.values()), method
        expected = theirs.return_annotation
        if inspect.isasyncgenfunction(func):  # an async generator becomes a generator
            assert expected.startswith("AsyncGenerator[") and expected.endswith(", None]")
            expected = f"Generator[{expected[len('AsyncGenerator[') : -1]}, None]"
        assert ours.return_annotation == expected, method
        assert inspect.iscoroutinefunction(sync_methods[method]) is False


def test_errors_models_and_webhooks_are_the_same_objects() -> None:
    assert pacspace_sync.PacSpaceError is pacspace_async.PacSpaceError
    assert pacspace_sync.TimeoutError is pacspace_async.TimeoutError
    assert pacspace_sync.Webhooks is pacspace_async.Webhooks
    assert pacspace_sync.types is pacspace_async.types


def test_one_client_shared_by_threads_runs_calls_concurrently() -> None:
    """Eight threads' calls are in flight together: the server answers none of them until
    all eight have arrived (calls made one after another would never get there)."""
    threads_count = 8
    arrived = 0
    everyone: asyncio.Event | None = None

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal arrived, everyone
        everyone = everyone or asyncio.Event()
        arrived += 1
        if arrived == threads_count:
            everyone.set()
        await asyncio.wait_for(everyone.wait(), 10)
        return httpx.Response(200, json=envelope({"used": 1}))

    pac = pacspace_sync.PacSpace(
        KEY,
        base_url="https://api.test",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        max_retries=0,
    )
    errors: list[BaseException] = []

    def work() -> None:
        try:
            assert pac.balance.usage().used == 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pac.close()
    assert not errors
    assert arrived == threads_count


def test_works_inside_a_running_event_loop() -> None:
    pac = slow_client(0.0)

    async def notebook_cell() -> int | None:
        return pac.balance.usage().used

    assert asyncio.run(notebook_cell()) == 1
    pac.close()


def test_calling_in_from_the_loop_thread_is_an_error_not_a_deadlock() -> None:
    holder: dict[str, pacspace_sync.PacSpace] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        holder["pac"].balance.customers()  # runs on the loop thread
        return httpx.Response(200, json=envelope({}))

    pac = pacspace_sync.PacSpace(
        KEY,
        base_url="https://api.test",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )
    holder["pac"] = pac
    with pytest.raises(RuntimeError, match="deadlock"):
        pac.balance.usage()
    pac.close()


def test_no_thread_or_client_left_after_close_or_garbage_collection() -> None:
    pac = slow_client(0.0)
    pac.balance.usage()
    assert loop_threads()
    pac.close()
    assert not loop_threads()
    pac = slow_client(0.0)
    pac.balance.usage()
    runtime = pac._runtime
    del pac
    gc.collect()
    assert runtime.closed and not loop_threads()


def test_cpu_only_helpers_do_not_hop(monkeypatch: pytest.MonkeyPatch) -> None:
    pac = pacspace_sync.PacSpace(KEY, base_url="https://api.test", webhook_secret="whsec")

    def refuse(*args: object) -> None:
        raise AssertionError("hopped to the loop")

    monkeypatch.setattr(loop_thread, "run", refuse)
    assert pac.balance.receipts.from_url("https://x/receipts/rcpt_1") == "rcpt_1"
    assert "rcpt_1" in pac.balance.receipts.email_body({"receiptId": "rcpt_1"})
    assert pac.webhooks is not None
    headers, body = pac.webhooks.sign({"event": "delta.verified", "data": {}})
    assert pac.webhooks.verify_from_headers(headers, body).event == "delta.verified"
    monkeypatch.undo()
    pac.close()


def test_a_timed_out_wait_leaves_nothing_running(
    pacspace_server: SandboxServer, pacspace_sandbox: Sandbox
) -> None:
    pacspace_sandbox.config.verify_latency = 60
    with pacspace_sync.PacSpace(pacspace_sandbox.api_key, base_url=pacspace_server.url) as pac:
        with pytest.raises(pacspace_sync.TimeoutError):
            pac.balance.emit_and_wait("c", 1, "r", timeout=0.3)
        assert pac._runtime.client().balance._waiter.pending == 0


def run_script(
    code: str, env: dict[str, str] | None = None, **kwargs: Any
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        **kwargs,
    )


def test_fork_gives_the_child_a_fresh_loop_and_the_parent_keeps_working(
    pacspace_server: SandboxServer, pacspace_sandbox: Sandbox
) -> None:
    script = f"""
        import os
        from pacspace_sync import PacSpace
        pac = PacSpace({pacspace_sandbox.api_key!r}, base_url={pacspace_server.url!r})
        pac.balance.emit("parent", 1, "before fork")
        pid = os.fork()
        if pid == 0:
            pac.balance.emit("child", 1, "in child")
            os._exit(0 if pac.balance.derive("child").count is not None else 1)
        _, status = os.waitpid(pid, 0)
        pac.balance.emit("parent", 1, "after fork")
        print("child", os.waitstatus_to_exitcode(status))
        pac.close()
    """
    process = run_script(script)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "child 0" in out
    store = pacspace_sandbox.ledger.store
    assert store.scalar("SELECT COUNT(*) FROM deltas WHERE customer_id = 'child'") == 1
    assert store.scalar("SELECT COUNT(*) FROM deltas WHERE customer_id = 'parent'") == 2


def test_ctrl_c_interrupts_a_long_wait_quickly(
    pacspace_server: SandboxServer, pacspace_sandbox: Sandbox
) -> None:
    pacspace_sandbox.config.verify_latency = 120
    script = f"""
        import sys, time
        from pacspace_sync import PacSpace
        pac = PacSpace({pacspace_sandbox.api_key!r}, base_url={pacspace_server.url!r})
        record = pac.balance.emit("c", 1, "r")
        print("waiting", flush=True)
        try:
            pac.balance.wait_for_verified(record.record_id, timeout=100)
        except KeyboardInterrupt:
            print("interrupted", time.monotonic(), flush=True)
            time.sleep(0.3)
            print("pending", pac._runtime.client().balance._waiter.pending, flush=True)
            sys.exit(0)
    """
    process = run_script(script)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "waiting"
    time.sleep(0.5)
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    lines = dict(line.split(" ", 1) for line in out.strip().splitlines())
    # At once rather than at the 100 s timeout (the bound is loose: a loaded machine).
    assert float(lines["interrupted"]) - sent < 2.0
    assert lines["pending"] == "0"


def test_the_summary_scheduler_runs_on_the_facade_loop(
    pacspace_server: SandboxServer, pacspace_sandbox: Sandbox
) -> None:
    with pacspace_sync.PacSpace(
        pacspace_sandbox.api_key,
        base_url=pacspace_server.url,
        submission={"cadenceMs": 100, "maxRequestsPerMinute": 6000},
    ) as pac:
        meter = pac.balance.meter(window="1s")
        meter.add("metered", 2)  # in this thread, no hop
        pac.balance.queue_summary({"customerId": "scheduled", "delta": 4})  # starts the scheduler
        assert pac.balance.get_summary_queue_state().is_running
        store = pacspace_sandbox.ledger.store
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and store.scalar("SELECT COUNT(*) FROM deltas") < 2:
            time.sleep(0.05)
    assert store.scalar("SELECT COUNT(*) FROM deltas WHERE customer_id = 'scheduled'") == 1
    assert store.scalar("SELECT COUNT(*) FROM deltas WHERE customer_id = 'metered'") == 1


def test_a_call_cancelled_before_it_starts_leaves_no_coroutine_behind() -> None:
    """Ctrl-C can land before the loop thread starts the call: the coroutine is closed,
    not left to warn "never awaited" when collected, and the call counts as done."""
    import gc
    import warnings

    from pacspace_sync._loop import _Call

    async def work() -> int:
        return 1

    loop = asyncio.new_event_loop()
    try:
        call = _Call(loop, work())
        call.cancel()  # the caller's Ctrl-C, queued ahead of the start
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call.start()
            assert call.done.acquire(blocking=False)  # a waiting caller would wake
            del call
            gc.collect()
        assert not [w for w in caught if "never awaited" in str(w.message)]
    finally:
        loop.close()


HELD_STREAM = """
    import asyncio, json, httpx, pacspace_sync

    async def handler(request):
        if json.loads(request.content)["reason"] == "u0":
            return httpx.Response(201, json={"success": True, "data": {"recordId": "r_0", "status": "QUEUED"}})
        await asyncio.Event().wait()  # the rest are never answered

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    items = ({"customerId": "c", "delta": -1, "reason": f"u{i}"} for i in range(100))
    with pacspace_sync.PacSpace("pk_test_a.b", base_url="https://api.test", http_client=http) as pac:
        stream = pac.balance.emit_stream(items, concurrency=4)
        print(next(stream).record_id, flush=True)
    {after}
    import threading
    print(any(t.name == "pacspace-sync-loop" for t in threading.enumerate()), flush=True)
    print("done", flush=True)
"""


@pytest.mark.parametrize(
    "after",
    ["pass", "stream.close()", "del stream"],
    ids=["kept-to-exit", "closed-after-the-client", "dropped-after-the-client"],
)
def test_a_stream_outliving_its_client_lets_the_process_exit(after: str) -> None:
    # A script that breaks out of a stream and keeps it in a variable: the client closes,
    # and the stream is closed (or collected) after it, at the latest at interpreter
    # exit. That must not start a loop thread again: it would be left behind, and at
    # interpreter exit the exit waited for it for ever.
    process = run_script(HELD_STREAM.replace("{after}", after))
    try:
        out, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"the process did not exit: {out!r} {err[-800:]!r}")
    assert process.returncode == 0, err
    assert out.split() == ["r_0", "False", "done"]


def test_a_call_in_flight_when_the_client_closes_raises_client_closed() -> None:
    # Another thread closes the client (a shutdown hook) while a call waits on the network:
    # the call ends with the SDK's own error, not asyncio's CancelledError, and never hangs.
    entered = threading.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        entered.set()
        await asyncio.Event().wait()  # never answered
        raise AssertionError("unreachable")

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    pac = pacspace_sync.PacSpace(KEY, base_url="https://api.test", http_client=http)
    raised: list[BaseException] = []

    def call() -> None:
        try:
            pac.balance.usage()
        except BaseException as exc:  # what leaves the public call, whatever it is
            raised.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    assert entered.wait(10)
    pac.close("shutting down")
    caller.join(10)
    assert not caller.is_alive()
    assert len(raised) == 1
    error = raised[0]
    assert isinstance(error, pacspace_async.PacSpaceError), repr(error)
    assert error.code == "CLIENT_CLOSED"
    assert "shutting down" in str(error)


def test_stopping_the_loop_cancels_tasks_started_while_it_drains() -> None:
    # A task cancelled at the loop's stop may start another as cleanup; a blocking caller
    # waiting on that one must be woken too, not left waiting on a closed loop.
    from pacspace_sync._loop import _drain

    loop = asyncio.new_event_loop()
    late: list[asyncio.Task[None]] = []

    async def forever() -> None:
        await asyncio.Event().wait()

    async def cleans_up_with_a_task() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            late.append(loop.create_task(forever()))
            raise

    first = loop.create_task(cleans_up_with_a_task())
    loop.run_until_complete(asyncio.sleep(0))
    _drain(loop)
    loop.close()
    assert first.cancelled()
    assert len(late) == 1 and late[0].cancelled()


def test_a_call_cancelled_before_its_first_step_still_wakes_its_caller() -> None:
    # The loop stops (the last client closed) in the same turn that started a call's task:
    # cancelled before its first step, the task never runs its own code, and its caller
    # must be woken all the same (it waited for ever).
    from pacspace_sync._loop import _Call

    loop = asyncio.new_event_loop()
    ran: list[bool] = []

    async def work() -> str:
        ran.append(True)
        return "never"

    call = _Call(loop, work())

    def cancel_at_once() -> None:
        assert call.task is not None
        call.task.cancel()

    loop.call_soon(call.start)
    loop.call_soon(cancel_at_once)
    loop.run_until_complete(asyncio.sleep(0.01))
    loop.close()
    assert call.done.acquire(timeout=5), "the caller would wait for ever"
    with pytest.raises(asyncio.CancelledError):
        call.outcome()
    assert ran == []


def test_a_call_after_the_last_client_let_the_loop_go_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A thread took the client just before another closed it: its call must end with
    # CLIENT_CLOSED, and must not start a loop thread that no client will ever stop.
    from pacspace_sync import _runtime
    from pacspace_sync._loop import LoopThread

    private = LoopThread()  # not the process's shared one, which other clients may hold
    monkeypatch.setattr(_runtime, "loop_thread", private)
    answer = httpx.Response(200, json=envelope({"used": 1}))
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: answer))
    runtime = _runtime.Runtime(
        lambda: pacspace_async.PacSpace(KEY, base_url="https://api.test", http_client=http)
    )
    client = runtime.client()
    runtime.close_reason = "deploying"
    runtime.close()
    with pytest.raises(pacspace_async.PacSpaceError) as raised:
        runtime._on_loop(client.balance.usage())
    assert raised.value.code == "CLIENT_CLOSED"
    assert "deploying" in str(raised.value)
    assert private._loop is None  # no loop started for the late call
