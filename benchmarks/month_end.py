"""Benchmark: the month-end payment peak on PostgreSQL, through the real service over HTTP.

Builds a fresh PostgreSQL database (like the tests: ``CREATE DATABASE`` on the server at
TWIN_BENCH_PG_URL, default 127.0.0.1:5432), mirrors ``--owners`` billing units of
``--communities`` estates (unit ids ``C<k>-B<bb>-<nnnn>``; one deployment serves them all)
with one owner user each, runs the month's bills with the billing module (``run_bills``,
default fee rules: property fee by area, parking, shared charges), and starts the real
service (uvicorn, one worker) in a child process. Then, in this process (asyncio + httpx):

- **payments**: every owner starts a payment intent for their bill
  (``POST /api/billing/payment-intents``) at a time drawn from the hour's arrival profile
  (triangular, peak at 40 % of the hour = 2 × the hour's mean rate), the hour compressed
  into ``--minutes``; ``--double-click`` of them start a second intent for the same bill
  within a second (both charged by the gateway: the extra must become credit, never a
  second payment of the bill);
- **the gateway** confirms each intent with the signed callback
  (``POST /api/billing/payment-callback``) 0.5–5 s later (``--fail`` of them ``failed``),
  and behaves like real ones: some callbacks at once, before the payer could confirm;
  some delayed 20–60 s; some sent again 1–15 s after being acknowledged; some sent twice
  at the same instant (concurrent duplicates); a double click's two callbacks in reverse
  order; every attempt that gets no 2xx (timeout, 5xx, 404 of an intent not yet visible)
  retried with backoff 0.5, 1, 2, 4, 8, 16, 32 s;
- **normal load** at ``--read-rps`` (Poisson): owners reading their bills and account,
  staff listing their work orders; and ``GET /api/health`` at ``--health-rps`` as the
  baseline measured under the same load.

Prints p50/p95/p99/max latency per operation (intent and callback separately; a callback
counts every HTTP attempt), the offered and achieved rates next to the real hour's rates,
the p99 ratios to the health check's, and the database checks: every bill paid at most
once (allocations = ``paid`` ≤ total), payments = intents the gateway charged (one each,
same amount), failed intents without a payment, the double clicks' extra as credit,
reconciliation balanced, and no callback lost (every one the gateway sent was finally
acknowledged). Targets: intent and callback p99 ≤ 200 ms, zero double payments, zero lost
callbacks. Exit status 1 if a check fails.

    python benchmarks/month_end.py [--owners 10000] [--communities 5] [--minutes 5]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MONTH = "2026-11"
STAFF = 20
HOUR_S = 3600.0
PEAK_AT = 0.4  # the mode of the triangular arrival profile, as a fraction of the hour


def unit_ids(owners: int, communities: int) -> list[str]:
    """``owners`` unit ids spread over ``communities`` estates of 200-unit buildings."""
    per = -(-owners // communities)
    return [f"C{i // per + 1}-B{(i % per) // 200 + 1:02d}-{i % per % 200 + 1:04d}" for i in range(owners)]


def bench_community():
    """The deployment's units and staff (registers only), from MONTH_END_OWNERS/COMMUNITIES."""
    from twin.model import BillingUnit, Community, Staff

    owners = int(os.environ["MONTH_END_OWNERS"])
    communities = int(os.environ["MONTH_END_COMMUNITIES"])
    units = [BillingUnit(u, "apartment", u.rsplit("-", 1)[0], 60.0 + (i * 37) % 80, owner=f"业主{i}",
                         phone="13800000000") for i, u in enumerate(unit_ids(owners, communities))]
    skills = [["水电"], ["门窗"], ["电梯"], ["公共设施"], ["保洁"], ["绿化"], ["安防"], ["其他"]]
    staff = [Staff(f"W{i:02d}", f"工人{i}", "technician", skills[i % 8]) for i in range(STAFF)]
    return Community("month-end", billing_units=units, staff=staff)


def app_factory():
    """uvicorn factory: the real app on TWIN_DB_URL with the bench community."""
    from services.app import create_app
    from services.dbcomponent import DatabaseComponent
    from services.settings import Settings

    return create_app(Settings(), community=bench_community(), components=[DatabaseComponent(sla_interval_s=0)])


def prepare(db_url: str, settings) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """Units, users, bills; return (owner tokens by unit, bill totals by unit, staff tokens)."""
    from pwdlib import PasswordHash
    from sqlalchemy import select

    from services.auth import issue_token
    from services.billing.models import Bill
    from services.billing.rules import load_rules
    from services.billing.run import run_bills
    from services.billing.units import sync_units
    from services.db import Database
    from services.models import User, UserUnit

    db = Database(db_url)
    db.migrate()
    community = bench_community()
    one_hash = PasswordHash.recommended().hash("bench-pass-1")  # one argon2 hash for every user
    t = time.perf_counter()
    with db.transaction() as s:
        sync_units(s, community)
        users = [{"username": f"owner-{u.id}", "password_hash": one_hash, "role": "owner"}
                 for u in community.billing_units]
        users += [{"username": f"staff-{st.id}", "password_hash": one_hash, "role": "staff", "staff_id": st.id}
                  for st in community.staff]
        users.append({"username": "operator", "password_hash": one_hash, "role": "operator"})
        s.execute(User.__table__.insert(), users)
        ids = dict(s.execute(select(User.username, User.id)).all())
        s.execute(UserUnit.__table__.insert(), [{"user_id": ids[f"owner-{u.id}"], "unit_id": u.id}
                                                for u in community.billing_units])
        result = run_bills(s, load_rules(), MONTH, community=community)
        totals = {b.unit_id: str(b.total) for b in s.scalars(select(Bill).where(Bill.month == MONTH))}
    print(f"  prepared {len(totals)} units/owners/bills ({result.total} yuan) in "
          f"{time.perf_counter() - t:.1f} s", file=sys.stderr)
    db.dispose()

    class _U:  # what issue_token reads of a user
        def __init__(self, name, role):
            self.username, self.role = name, role

    # tokens are signed with the service's key, as its login endpoint does (one login per
    # owner, an argon2 check each, is not part of the peak; three real logins are checked)
    tokens = {u: issue_token(settings, _U(f"owner-{u}", "owner")) for u in totals}
    staff = [issue_token(settings, _U(f"staff-W{i:02d}", "staff")) for i in range(STAFF)]
    return tokens, totals, staff


class Stats:
    """Latencies (s) and outcomes per operation, and the time requests waited in this
    process for a free connection (the load generator's own queue, not the service's)."""

    def __init__(self, in_flight: int) -> None:
        self.lat: dict[str, list[float]] = defaultdict(list)
        self.codes: dict[str, Counter] = defaultdict(Counter)
        self.queued: list[float] = []
        # at most this many requests in flight: httpx's pool handles a long queue of its own
        # in quadratic time (a first run with 10,000 payers spent the whole core there)
        self.slots = asyncio.Semaphore(in_flight)

    def add(self, op: str, seconds: float, code: int | str) -> None:
        self.lat[op].append(seconds)
        self.codes[op][code] += 1

    async def timed(self, op: str, send):
        """``await send()`` when a slot is free; time the request only (the wait apart)."""
        t0 = time.perf_counter()
        async with self.slots:
            t = time.perf_counter()
            self.queued.append(t - t0)
            try:
                r = await send()
                code: int | str = r.status_code
            except Exception as exc:  # timeouts, resets: counted by name
                r, code = None, type(exc).__name__
            self.add(op, time.perf_counter() - t, code)
        return r, code

    def summary(self, op: str) -> dict:
        xs = sorted(self.lat[op])
        if not xs:
            return {"n": 0}
        q = statistics.quantiles(xs, n=100, method="inclusive") if len(xs) > 1 else [xs[0]] * 99
        return {"n": len(xs), "p50_ms": round(q[49] * 1000, 1), "p95_ms": round(q[94] * 1000, 1),
                "p99_ms": round(q[98] * 1000, 1), "max_ms": round(xs[-1] * 1000, 1),
                "codes": dict(sorted(self.codes[op].items(), key=str))}


class Gateway:
    """A payment gateway: signs callbacks, retries until acknowledged, re-notifies sometimes."""

    BACKOFF_S = (0.5, 1, 2, 4, 8, 16, 32)

    def __init__(self, client, key: bytes, stats: Stats, rng: random.Random) -> None:
        self.client, self.key, self.stats, self.rng = client, key, stats, rng
        self.sent: dict[str, str] = {}      # intent id -> status the gateway reported
        self.acked: set[str] = set()        # intent ids with at least one 2xx answer
        self.refused: list[tuple[str, int, str]] = []

    async def deliver(self, intent_id: str, status: str, amount: str) -> None:
        """One notification: POST until a 2xx (or a permanent 4xx), with backoff."""
        from services.billing.payments import SIGNATURE_HEADER, sign

        self.sent[intent_id] = status
        body = json.dumps({"intent_id": intent_id, "status": status, "amount": amount,
                           "gateway_ref": f"GW-{intent_id[:12]}"}).encode()
        headers = {SIGNATURE_HEADER: sign(self.key, body), "content-type": "application/json"}
        for wait in (*self.BACKOFF_S, None):
            # timeouts, resets: retried like a 5xx
            r, code = await self.stats.timed("callback", lambda: self.client.post(
                "/api/billing/payment-callback", content=body, headers=headers))
            if isinstance(code, int) and code < 300:
                self.acked.add(intent_id)
                return
            if isinstance(code, int) and code in (401, 409, 422):
                self.refused.append((intent_id, code, r.text[:200]))
                return
            if wait is None:
                return
            await asyncio.sleep(wait)

    async def notify(self, intent_id: str, status: str, amount: str, *, first_delay_s: float) -> None:
        """The gateway's behaviour for one charged (or failed) intent."""
        rng = self.rng
        early, late = rng.random() < 0.05, rng.random() < 0.05
        await asyncio.sleep(0 if early else rng.uniform(20, 60) if late else first_delay_s)
        if rng.random() < 0.05:  # two copies at the same instant
            await asyncio.gather(self.deliver(intent_id, status, amount), self.deliver(intent_id, status, amount))
        else:
            await self.deliver(intent_id, status, amount)
        if rng.random() < 0.20:  # re-notified although acknowledged
            await asyncio.sleep(rng.uniform(1, 15))
            await self.deliver(intent_id, status, amount)


async def drive(base: str, tokens: dict[str, str], totals: dict[str, str], staff: list[str], key: bytes,
                args) -> tuple[Stats, Gateway, dict, float]:
    import httpx

    rng = random.Random(args.seed)
    stats = Stats(args.connections)
    limits = httpx.Limits(max_connections=args.connections, max_keepalive_connections=args.connections)
    client = httpx.AsyncClient(base_url=base, timeout=10, limits=limits)
    gateway = Gateway(client, key, stats, random.Random(args.seed + 1))
    span_s = args.minutes * 60
    units = sorted(tokens)
    payers = rng.sample(units, args.payers) if args.payers < len(units) else units
    arrivals = sorted((rng.triangular(0, span_s, PEAK_AT * span_s), u) for u in payers)
    doubles = set(rng.sample(payers, int(len(payers) * args.double_click)))
    failing = set(rng.sample(payers, int(len(payers) * args.fail)))
    intents: dict[str, list[tuple[str, str]]] = defaultdict(list)  # unit -> [(intent id, status)]
    tasks: list[asyncio.Task] = []
    start = time.perf_counter()

    async def start_intent(unit: str) -> str | None:
        r, code = await stats.timed("intent", lambda: client.post(
            "/api/billing/payment-intents", json={"unit_id": unit, "amount": totals[unit]},
            headers={"Authorization": f"Bearer {tokens[unit]}"}))
        return r.json()["id"] if code == 201 else None

    async def payer(unit: str) -> None:
        status = "failed" if unit in failing else "succeeded"
        first = await start_intent(unit)
        if first is None:
            return
        intents[unit].append((first, status))
        delay = rng.uniform(0.5, 5)
        if unit in doubles:  # a double click: a second intent, both charged, callbacks reversed
            await asyncio.sleep(rng.uniform(0.05, 1))
            second = await start_intent(unit)
            if second is not None:
                intents[unit].append((second, "succeeded"))
                await asyncio.gather(gateway.notify(second, "succeeded", totals[unit], first_delay_s=delay),
                                     gateway.notify(first, status, totals[unit], first_delay_s=delay + 0.5))
                return
        await gateway.notify(first, status, totals[unit], first_delay_s=delay)

    async def reader(i: int) -> None:
        unit = units[(i * 7919) % len(units)]
        h = {"Authorization": f"Bearer {tokens[unit]}"}
        op = ("bills", "account", "work_orders")[i % 3]
        if op == "bills":
            await stats.timed(op, lambda: client.get("/api/billing/bills", params={"unit_id": unit}, headers=h))
        elif op == "account":
            await stats.timed(op, lambda: client.get(f"/api/billing/units/{unit}/account", headers=h))
        else:
            await stats.timed(op, lambda: client.get("/api/work-orders", params={"mine": "true"}, headers={
                "Authorization": f"Bearer {staff[i % len(staff)]}"}))

    async def health() -> None:
        await stats.timed("health", lambda: client.get("/api/health"))

    async def poisson(rate: float, make) -> None:
        if rate <= 0:
            return
        prng = random.Random(args.seed + int(rate * 1000))
        i = 0
        while time.perf_counter() - start < span_s:
            await asyncio.sleep(prng.expovariate(rate))
            tasks.append(asyncio.create_task(make(i)))
            i += 1

    background = [asyncio.create_task(poisson(args.read_rps, reader)),
                  asyncio.create_task(poisson(args.health_rps, lambda i: health()))]
    for at, unit in arrivals:
        lag = start + at - time.perf_counter()
        if lag > 0:
            await asyncio.sleep(lag)
        tasks.append(asyncio.create_task(payer(unit)))
    await asyncio.gather(*background)
    while tasks:  # payers may have spawned nothing new; readers were appended while running
        pending, tasks[:] = list(tasks), []
        await asyncio.gather(*pending)
    elapsed = time.perf_counter() - start
    await client.aclose()
    return stats, gateway, dict(intents), elapsed


def check_database(db_url: str, gateway: Gateway, intents: dict[str, list[tuple[str, str]]],
                   totals: dict[str, str]) -> dict:
    """The invariants, read back from the database."""
    import sqlalchemy as sa

    from services.billing.models import Allocation, Bill, Payment, PaymentIntent
    from services.billing.reports import reconciliation
    from services.db import Database

    db = Database(db_url)
    out: dict = {}
    with db.transaction(write=False) as s:
        alloc = dict(s.execute(sa.select(Allocation.bill_id, sa.func.sum(Allocation.amount))
                               .group_by(Allocation.bill_id)).all())
        bills = s.execute(sa.select(Bill.id, Bill.unit_id, Bill.total, Bill.paid, Bill.status)).all()
        out["bills_overpaid"] = sum(1 for b in bills if Decimal(alloc.get(b.id, 0)) > b.total or b.paid > b.total)
        out["bills_paid_mismatch"] = sum(1 for b in bills if Decimal(alloc.get(b.id, 0)) != b.paid)
        stored = {i.id: i for i in s.scalars(sa.select(PaymentIntent))}
        pays = {p.reference: p for p in s.scalars(sa.select(Payment))}
        charged = {iid for lst in intents.values() for iid, st in lst if st == "succeeded" and iid in gateway.sent}
        failed = {iid for lst in intents.values() for iid, st in lst if st == "failed" and iid in gateway.sent}
        out["gateway_charged"] = len(charged)
        out["payments"] = len(pays)
        out["lost_callbacks"] = sum(1 for iid in charged if f"intent:{iid}" not in pays
                                    or stored[iid].status != "succeeded")
        out["wrong_amounts"] = sum(1 for iid in charged if f"intent:{iid}" in pays
                                   and pays[f"intent:{iid}"].amount != stored[iid].amount)
        out["failed_with_payment"] = sum(1 for iid in failed if f"intent:{iid}" in pays or stored[iid].status != "failed")
        out["unexpected_payments"] = len(set(pays) - {f"intent:{i}" for i in charged})
        out["not_acknowledged"] = len(set(gateway.sent) - gateway.acked)
        out["refused"] = len(gateway.refused)
        # a unit charged n times for one bill: the bill is paid once, (n - 1) × bill in credit
        paid_units = {u: sum(1 for iid, st in lst if st == "succeeded") for u, lst in intents.items()}
        bill_of = {b.unit_id: b for b in bills}
        out["bills_wrong_state"] = sum(1 for u, n in paid_units.items() if n and
                                       (bill_of[u].status != "paid" or bill_of[u].paid != Decimal(totals[u])))
        out["double_click_units"] = sum(1 for n in paid_units.values() if n >= 2)
        rec = reconciliation(s)
        expected_credit = sum((Decimal(totals[u]) * (n - 1) for u, n in paid_units.items() if n >= 2), Decimal(0))
        out["credit"] = rec["credit"]
        out["credit_expected"] = str(expected_credit)
        out["balanced"] = rec["balanced"] and Decimal(rec["credit"]) == expected_credit
    db.dispose()
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--owners", type=int, default=10_000)
    ap.add_argument("--communities", type=int, default=5)
    ap.add_argument("--payers", type=int, default=None,
                    help="owners who pay in this run (default: all); the others' bills stay open")
    ap.add_argument("--minutes", type=float, default=5, help="the hour compressed into this many minutes")
    ap.add_argument("--read-rps", type=float, default=10, help="normal load: reads per second (Poisson)")
    ap.add_argument("--health-rps", type=float, default=2, help="the baseline: health checks per second")
    ap.add_argument("--double-click", type=float, default=0.02, help="share of owners starting two intents")
    ap.add_argument("--fail", type=float, default=0.03, help="share of payments failing at the gateway")
    ap.add_argument("--connections", type=int, default=100, help="HTTP connections of the load process")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    args.payers = args.owners if args.payers is None else min(args.payers, args.owners)
    import httpx
    import sqlalchemy as sa

    from services.settings import Settings

    admin_url = os.environ.get("TWIN_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    name = f"twin_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    tmp = tempfile.mkdtemp()
    secret, pay_secret = uuid.uuid4().hex * 2, uuid.uuid4().hex * 2
    settings = Settings(db_url=url, data_dir=Path(tmp), secret_key=secret, payment_secret=pay_secret)
    env = {**os.environ, "TWIN_DB_URL": url, "TWIN_DATA_DIR": tmp, "TWIN_SECRET_KEY": secret,
           "TWIN_PAYMENT_SECRET": pay_secret, "TWIN_LOG_LEVEL": "WARNING", "PYTHONPATH": str(REPO),
           "MONTH_END_OWNERS": str(args.owners), "MONTH_END_COMMUNITIES": str(args.communities)}
    os.environ.update({k: env[k] for k in ("MONTH_END_OWNERS", "MONTH_END_COMMUNITIES")})
    server = None
    ok = False
    try:
        tokens, totals, staff = prepare(url, settings)
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "uvicorn", "benchmarks.month_end:app_factory", "--factory",
                                   "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                                   "--no-access-log"], cwd=REPO, env=env)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("server did not start")
            time.sleep(0.3)
        # three real logins (the token endpoint accepts these owners), then work orders to list
        for u in list(totals)[:3]:
            r = httpx.post(f"{base}/api/auth/token", data={"username": f"owner-{u}", "password": "bench-pass-1"},
                           timeout=30)
            assert r.status_code == 200, r.text
        op = httpx.post(f"{base}/api/auth/token", data={"username": "operator", "password": "bench-pass-1"},
                        timeout=30).json()["access_token"]
        for i, u in enumerate(list(totals)[:100]):
            r = httpx.post(f"{base}/api/work-orders", headers={"Authorization": f"Bearer {op}"}, timeout=60,
                           json={"description": ("厨房水龙头漏水", "楼道的灯不亮了", "电梯门关不上", "垃圾桶满了")[i % 4],
                                 "location": {"unit_id": u}})
            assert r.status_code == 201, r.text
        gc.collect()
        gc.freeze()
        from services.auth import payment_callback_key

        stats, gateway, intents, elapsed = asyncio.run(
            drive(base, tokens, totals, staff, payment_callback_key(settings), args))
        server.terminate()
        server.wait(timeout=30)
        server = None
        checks = check_database(url, gateway, intents, totals)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    n_intents = sum(len(v) for v in intents.values())
    span_s = args.minutes * 60
    compress = HOUR_S / span_s
    real_mean = args.owners / HOUR_S
    print(f"db=postgresql owners={args.owners} payers={args.payers} communities={args.communities} "
          f"minutes={args.minutes} (hour compressed {compress:.1f}x) read_rps={args.read_rps} "
          f"health_rps={args.health_rps} connections={args.connections} seed={args.seed}")
    print(f"  real hour, all {args.owners} owners paying: mean {real_mean:.2f} intents/s, peak {2 * real_mean:.2f} "
          f"intents/s (triangular profile)")
    print(f"  offered:   mean {args.payers / span_s:.2f} intents/s, peak {2 * args.payers / span_s:.2f} intents/s "
          f"({args.payers / span_s / real_mean:.2f} x the real hour's); "
          f"achieved {n_intents} intents ({n_intents - len(intents)} double clicks) and "
          f"{stats.summary('callback')['n']} callback attempts in {elapsed:.0f} s "
          f"({n_intents / span_s:.2f} intents/s over the offered span)")
    for op in ("intent", "callback", "bills", "account", "work_orders", "health"):
        print(f"  {op:<11} " + " ".join(f"{k}={v}" for k, v in stats.summary(op).items()))
    q = sorted(stats.queued)
    if q:
        print(f"  waited for a connection in the load generator: p99 {q[int(0.99 * (len(q) - 1))] * 1000:.1f} ms, "
              f"max {q[-1] * 1000:.1f} ms (not in the latencies above)")
    h99 = stats.summary("health").get("p99_ms")
    if h99:
        print("  p99 / health p99: " + " ".join(f"{op}={stats.summary(op)['p99_ms'] / h99:.1f}"
                                               for op in ("intent", "callback", "bills", "account", "work_orders")
                                               if stats.summary(op)["n"]))
    print("  checks: " + " ".join(f"{k}={v}" for k, v in checks.items()))
    for iid, code, text in gateway.refused[:5]:
        print(f"  refused {iid} {code} {text}")
    ok = (checks["bills_overpaid"] == checks["bills_paid_mismatch"] == checks["lost_callbacks"] == 0
          and checks["wrong_amounts"] == checks["failed_with_payment"] == checks["unexpected_payments"] == 0
          and checks["not_acknowledged"] == checks["refused"] == checks["bills_wrong_state"] == 0
          and checks["balanced"] and checks["payments"] == checks["gateway_charged"])
    print(f"  invariants: {'ok' if ok else 'FAILED'}; p99 target 200 ms: intent "
          f"{'met' if stats.summary('intent')['p99_ms'] <= 200 else 'NOT met'}, callback "
          f"{'met' if stats.summary('callback')['p99_ms'] <= 200 else 'NOT met'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
