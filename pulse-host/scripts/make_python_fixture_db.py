#!/usr/bin/env python3
"""Build a SQLite DB with the real Python litellm-pulse 0.3.0 and record what it reports.

The Rust importer (`pulse-host/src/store/import.rs`) is tested against this
file: importing the DB must give the same totals, windows and per-model sums
that the Python package itself computes from it. Both numbers therefore come
from the reference's own code, not from a re-implementation:

* every scrape goes through `Scraper.scrape()` (its parser, reset rule, delta
  computation, `store_snapshot` and `store_model_snapshots`), fed by an
  `httpx.MockTransport` that serves LiteLLM-shaped bodies, with the module's
  clock pinned to the scrape time;
* the expected numbers are `Scraper.summary()`, `Scraper.model_summary()` and
  `Scraper.history_snapshots()` with the clock pinned to `NOW`.

The bodies copy the label shapes of a real LiteLLM 1.x `/metrics` (see
`tests/fixtures/litellm/01-after-batch1.prom`): request counters carry
only `requested_model`, token and spend counters also carry `model`, so the
reference stores no per-model requests (its fault 8) — the import must carry
that over, not invent data.

Usage (needs the reference in a venv):

    python3 -m venv /tmp/refvenv && /tmp/refvenv/bin/pip install litellm-pulse==0.3.0
    /tmp/refvenv/bin/python pulse-host/scripts/make_python_fixture_db.py \
        pulse-host/tests/fixtures/python-0.3.0.db

Writes `<db>` and `<db minus .db>.expected.json`. The output is deterministic.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import sys
from importlib.metadata import version
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import litellm_pulse.scraper as scraper_mod
from litellm_pulse.config import Settings
from litellm_pulse.db import METRIC_KEYS, get_latest
from litellm_pulse.scraper import Scraper

TZ_NAME = "America/New_York"
TZ = ZoneInfo(TZ_NAME)
# Tuesday 3 Feb 2026, 15:00 local: "today", "this week" (since Monday 2 Feb)
# and "this month" (since Sunday 1 Feb) are three different windows, and the
# data starts on Saturday 31 Jan, so all-time differs from all of them.
NOW = datetime(2026, 2, 3, 15, 0, 0, tzinfo=TZ)
FIRST = datetime(2026, 1, 31, 0, 20, 0, tzinfo=TZ)
LAST = datetime(2026, 2, 3, 14, 20, 0, tzinfo=TZ)
# LiteLLM restarts between these two scrapes (local time).
RESTART_AFTER = datetime(2026, 2, 2, 3, 0, 0, tzinfo=TZ)
# Extra scrapes on both sides of local midnight, to pin day edges.
EDGE_SCRAPES = [
    datetime(2026, 2, 1, 23, 59, 59, tzinfo=TZ),
    datetime(2026, 2, 2, 0, 0, 0, tzinfo=TZ),
]
HISTORY_LIMIT = 6

MODELS = [
    # requested_model, api_provider, per-request cost, joins after (local time)
    ("gpt-4o-mini", "openai", 0.0001557, FIRST),
    ("claude-haiku", "anthropic", 0.00041, FIRST),
    ("local-llama", "hosted_vllm", 0.0, datetime(2026, 1, 31, 18, 0, 0, tzinfo=TZ)),
]

_now = NOW


class PinnedDatetime(datetime):
    """`datetime` whose `now()` answers the scrape time the script chose."""

    @classmethod
    def now(cls, tz=None):  # noqa: D102 - mirrors datetime.now
        return _now.astimezone(tz) if tz is not None else _now.replace(tzinfo=None)


def scrape_times() -> list[datetime]:
    """Hourly scrapes with drifting seconds, plus the midnight edge scrapes."""
    times = []
    t = FIRST
    i = 0
    while t <= LAST:
        times.append(t + timedelta(seconds=(i * 7) % 53))
        t += timedelta(hours=1)
        i += 1
    times.extend(EDGE_SCRAPES)
    return sorted(times)


class Litellm:
    """A toy LiteLLM: per-model counters that grow with traffic and reset on restart."""

    def __init__(self) -> None:
        self.rng = random.Random(20260203)
        self.reset()

    def reset(self) -> None:
        self.c: dict[tuple[str, str], float] = {}

    def add(self, family: str, model: str, value: float) -> None:
        self.c[(family, model)] = self.c.get((family, model), 0.0) + value

    def traffic(self, at: datetime) -> None:
        for name, _provider, cost, joins in MODELS:
            if at < joins:
                continue
            n = self.rng.randint(1, 6)
            failed = self.rng.randint(0, 1)
            inp = n * self.rng.randint(20, 400)
            out = n * self.rng.randint(5, 120)
            self.add("litellm_proxy_total_requests_metric_total", name, n)
            self.add("litellm_proxy_failed_requests_metric_total", name, failed)
            self.add("litellm_input_tokens_metric_total", name, inp)
            self.add("litellm_output_tokens_metric_total", name, out)
            self.add("litellm_total_tokens_metric_total", name, inp + out)
            self.add("litellm_spend_metric_total", name, n * cost)
            self.add("litellm_deployment_total_requests_total", name, n)
            if name == "claude-haiku":
                self.add("litellm_input_cached_tokens_metric_total", name, inp // 4)
            if name == "gpt-4o-mini":
                self.add("litellm_output_reasoning_tokens_metric_total", name, out // 3)
        self.in_flight = self.rng.randint(0, 3)

    def body(self) -> str:
        lines = [
            "# HELP litellm_in_flight_requests in-flight requests",
            "# TYPE litellm_in_flight_requests gauge",
            f"litellm_in_flight_requests {float(self.in_flight)}",
        ]
        families = sorted({f for f, _ in self.c})
        for family in families:
            lines.append(f"# TYPE {family.removesuffix('_total')} counter")
            for name, provider, _cost, _joins in MODELS:
                value = self.c.get((family, name))
                if value is None:
                    continue
                common = (
                    f'api_key_alias="None",api_provider="{provider}",'
                    f'hashed_api_key="litellm_proxy_master_key"'
                )
                if family.startswith("litellm_proxy_"):
                    labels = f'{common},requested_model="{name}",team="None",user="default_user_id"'
                elif family.startswith("litellm_deployment_"):
                    labels = f'{common},litellm_model_name="{name}",model_group="{name}"'
                else:
                    labels = f'{common},model="{name}",requested_model="{name}",team="None"'
                lines.append(f"{family}{{{labels}}} {value!r}")
        return "\n".join(lines) + "\n"


async def run(db_path: Path) -> dict:
    global _now
    scraper_mod.datetime = PinnedDatetime
    settings = Settings(db_path=str(db_path), tz_name=TZ_NAME, tz=TZ, history_size=168)
    scraper = Scraper(settings)
    scraper.open_db()
    litellm = Litellm()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text=litellm.body()))
    restarted = False
    times = scrape_times()
    async with httpx.AsyncClient(transport=transport) as client:
        for at in times:
            if not restarted and at > RESTART_AFTER:
                litellm.reset()
                restarted = True
            litellm.traffic(at)
            _now = at
            await scraper.scrape(client)
            assert scraper.last_error is None, scraper.last_error

    _now = NOW
    summary = scraper.summary()
    models = scraper.model_summary()
    history = scraper.history_snapshots(HISTORY_LIMIT)
    latest = get_latest(scraper.db)
    counts = {
        "scrapes": scraper.db.execute("SELECT COUNT(*) FROM scrapes").fetchone()[0],
        "model_snapshots": scraper.db.execute("SELECT COUNT(*) FROM model_snapshots").fetchone()[0],
        "resets": scraper.db.execute("SELECT COUNT(*) FROM scrapes WHERE is_reset = 1").fetchone()[0],
        "negative_deltas": scraper.db.execute(
            "SELECT COUNT(*) FROM model_snapshots WHERE delta < 0"
        ).fetchone()[0],
    }
    scraper.close_db()
    return {
        "generator": "pulse-host/scripts/make_python_fixture_db.py",
        "litellm_pulse_version": version("litellm-pulse"),
        "timezone": TZ_NAME,
        "now": NOW.isoformat(),
        "now_ms": int(NOW.timestamp()) * 1000,
        "first_scrape_ms": int(times[0].timestamp()) * 1000,
        "last_scrape_ms": int(times[-1].timestamp()) * 1000,
        "metric_keys": METRIC_KEYS,
        "counts": counts,
        "latest_raw": latest,
        "summary": summary,
        "models": models["models"],
        "history_limit": HISTORY_LIMIT,
        "history": history["snapshots"],
        "history_ts_ms": [
            int(datetime.fromisoformat(s["timestamp"]).timestamp()) * 1000
            for s in history["snapshots"]
        ],
    }


def main() -> None:
    db_path = Path(sys.argv[1] if len(sys.argv) > 1 else "pulse-host/tests/fixtures/python-0.3.0.db")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    expected = asyncio.run(run(db_path))
    # One self-contained, compact file: leave WAL mode and drop free pages.
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("VACUUM")
    conn.close()
    out = db_path.with_suffix(".expected.json")
    out.write_text(json.dumps(expected, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {db_path} ({db_path.stat().st_size} bytes) and {out}")


if __name__ == "__main__":
    main()
