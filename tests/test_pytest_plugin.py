"""The pytest plugin as a user's project sees it, each run in a fresh pytest process.

It costs nothing until a fixture is used, its fixtures work under pytest-asyncio's strict
mode and under anyio's plugin, and the testing page's example runs verbatim on a plain
install (the sandbox extra's modules hidden).
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TESTING = Path(__file__).resolve().parent.parent / "docs" / "testing.md"

# Runs pytest with some modules made unimportable, as on an install without an extra.
HIDING = """
import sys
HIDDEN = set(sys.argv[1].split(",")) - {""}
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Hide())
import pytest
sys.exit(pytest.main(sys.argv[2:]))
"""

SANDBOX_EXTRA = "uvicorn,fpdf,rich,httptools,uvloop"
STRICT = "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"


def run(
    tmp_path: Path, test: str, *args: str, hidden: str = SANDBOX_EXTRA, ini: str = STRICT
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "pytest.ini").write_text(ini)
    (tmp_path / "test_user.py").write_text(textwrap.dedent(test))
    return subprocess.run(
        [sys.executable, "-c", HIDING, hidden, "-q", "-p", "no:cacheprovider", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def documented_testing_example() -> str:
    """The first example of the site's testing page."""
    found = re.search(r"```python\n(.*?)```", TESTING.read_text(), re.S)
    assert found is not None
    return found.group(1)


def test_an_unrelated_test_suite_loads_nothing_heavy(tmp_path: Path) -> None:
    done = run(
        tmp_path,
        """
        import sys

        def test_mine():
            assert not {"starlette", "pacspace_async", "pacspace_sandbox._sandbox"} & set(sys.modules)
        """,
        hidden="starlette," + SANDBOX_EXTRA,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_the_documented_example_runs_verbatim_in_strict_mode(tmp_path: Path) -> None:
    done = run(tmp_path, documented_testing_example())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


def test_the_async_client_works_under_anyio(tmp_path: Path) -> None:
    done = run(
        tmp_path,
        """
        import pytest

        @pytest.fixture
        def anyio_backend():
            return "asyncio"

        @pytest.mark.anyio
        async def test_emit(pacspace_client, pacspace_sandbox):
            meter = pacspace_client.balance.meter("1d", "api_calls")
            meter.add("cust_1", 3)
            delta = await pacspace_client.balance.emit("cust_1", 2, "usage")
            assert delta.record_id

        def test_the_meter_was_sent_at_teardown(pacspace_sandbox):
            pass
        """,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


def test_the_fixtures_work_under_anyio_on_trio(tmp_path: Path) -> None:
    pytest.importorskip("trio")
    done = run(
        tmp_path,
        """
        import pytest
        import sniffio

        seen = {}

        @pytest.fixture
        def anyio_backend():
            return "trio"

        @pytest.fixture
        def spy(pacspace_sandbox):
            yield
            seen["rows"] = pacspace_sandbox.ledger.store.all(
                "SELECT customer_id, amount FROM deltas ORDER BY customer_id"
            )

        @pytest.mark.anyio
        async def test_on_trio(spy, pacspace_client):
            assert sniffio.current_async_library() == "trio"
            status = await pacspace_client.balance.emit_and_wait("cust_a", -2, "usage")
            assert status.status == "VERIFIED"
            results = await pacspace_client.balance.emit_many(
                [{"customerId": "cust_b", "delta": -1, "reason": "usage"}] * 3
            )
            assert all(r.record_id for r in results)
            pacspace_client.balance.meter("1d", "api_calls").add("cust_c", 4)
            pacspace_client.balance.queue_summary({"customerId": "cust_d", "delta": -5})

        def test_teardown_closed_it_and_sent_the_rest():
            got = [(r["customer_id"], str(r["amount"])) for r in seen["rows"]]
            assert got == [
                ("cust_a", "-2"), ("cust_b", "-1"), ("cust_b", "-1"), ("cust_b", "-1"),
                ("cust_c", "4"), ("cust_d", "-5"),
            ], got
        """,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


def test_the_marker_changes_only_what_it_names(tmp_path: Path) -> None:
    done = run(
        tmp_path,
        """
        import pytest

        @pytest.mark.pacspace(fail_rate=1.0)
        @pytest.mark.asyncio
        async def test_failed_at_once(pacspace_client, pacspace_sandbox_config):
            assert pacspace_sandbox_config.verify_latency == 0.0  # kept: verifies at once
            assert pacspace_sandbox_config.seed == 1
            status = await pacspace_client.balance.emit_and_wait("c", -1, "usage", timeout=5)
            assert status.status == "FAILED"

        def test_unmarked(pacspace_sandbox_config):
            assert pacspace_sandbox_config.fail_rate == 0.0

        @pytest.mark.pacspace(fail_rat=1.0)
        def test_a_misspelt_field_is_a_usage_error(pacspace_sandbox_config):
            pass
        """,
    )
    assert "2 passed" in done.stdout, done.stdout + done.stderr
    assert "fail_rat" in done.stdout + done.stderr


def test_teardown_sends_what_the_test_metered(tmp_path: Path) -> None:
    done = run(
        tmp_path,
        """
        import pytest

        seen = {}

        @pytest.fixture
        def spy(pacspace_sandbox):
            yield
            rows = pacspace_sandbox.ledger.store.scalar("SELECT COUNT(*) FROM deltas")
            seen["rows"] = rows

        @pytest.mark.asyncio
        async def test_meter(spy, pacspace_client):
            pacspace_client.balance.meter("1d", "api_calls").add("cust_1", 3)

        def test_after():
            assert seen["rows"] == 1
        """,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("scope", ["session", "function"])
def test_the_client_survives_the_loop_scope(tmp_path: Path, scope: str) -> None:
    done = run(
        tmp_path,
        f"""
        import pytest

        @pytest.mark.asyncio(loop_scope="{scope}")
        async def test_wait(pacspace_client):
            delta = await pacspace_client.balance.emit("cust_1", 2, "usage")
            assert delta.record_id
        """,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_every_fixture_says_what_it_is(tmp_path: Path) -> None:
    done = run(tmp_path, "", "--fixtures")
    out = done.stdout
    for name in (
        "pacspace_sandbox_config",
        "pacspace_sandbox",
        "pacspace_client",
        "pacspace_sync_client",
        "pacspace_server",
    ):
        block = out.split(f"\n{name} ", 1)
        assert len(block) == 2, f"{name} missing from --fixtures"
        assert "no docstring available" not in block[1].split("\n\n", 1)[0], name


def test_a_fixture_that_needs_the_extra_says_what_to_install(tmp_path: Path) -> None:
    done = run(tmp_path, "def test_mine(pacspace_server):\n    pass\n")
    assert done.returncode != 0
    assert 'pip install "pacspace[sandbox]"' in done.stdout + done.stderr
