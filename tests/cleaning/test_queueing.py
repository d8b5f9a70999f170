"""The SimPy worker core against the machine-repair model M/M/c//N (closed form)."""

from __future__ import annotations

import math
import random

import pytest
import simpy

from sim.cleaning.crews import fifo_worker


def machine_repair_closed_form(N: int, c: int, lam: float, mu: float) -> tuple[float, float]:
    """Mean number of broken machines L and mean busy repairers (finite-source queue).

    p_n ∝ N!/((N-n)! n!) r^n for n <= c and N!/((N-n)! c! c^(n-c)) r^n above, r = λ/μ
    (Gross & Harris, Fundamentals of Queueing Theory, machine-repair model).
    """
    r = lam / mu
    w = []
    for n in range(N + 1):
        ways = math.factorial(N) / math.factorial(N - n)
        w.append(ways * r ** n / (math.factorial(n) if n <= c else math.factorial(c) * c ** (n - c)))
    total = sum(w)
    p = [x / total for x in w]
    return sum(n * pn for n, pn in enumerate(p)), sum(min(n, c) * pn for n, pn in enumerate(p))


def simulate(N: int, c: int, lam: float, mu: float, horizon: float, seed: int):
    rng = random.Random(seed)
    env = simpy.Environment()
    queue = simpy.Store(env)
    state = {"broken": 0, "busy": 0, "area": 0.0, "busy_area": 0.0, "t": 0.0}

    def mark():
        dt = env.now - state["t"]
        state["area"] += state["broken"] * dt
        state["busy_area"] += state["busy"] * dt
        state["t"] = env.now

    def machine():
        while True:
            yield env.timeout(rng.expovariate(lam))
            mark()
            state["broken"] += 1
            fixed = env.event()
            queue.put(fixed)
            yield fixed

    def repair(fixed):
        mark()
        state["busy"] += 1
        yield env.timeout(rng.expovariate(mu))
        mark()
        state["busy"] -= 1
        state["broken"] -= 1
        fixed.succeed()

    for _ in range(N):
        env.process(machine())
    for _ in range(c):
        env.process(fifo_worker(env, queue, repair, lambda now: (0.0, math.inf)))
    env.run(until=horizon)
    mark()
    return state["area"] / horizon, state["busy_area"] / horizon


@pytest.mark.parametrize("N,c,lam,mu", [(10, 3, 0.1, 0.5), (6, 1, 0.2, 1.0)])
def test_fifo_workers_match_machine_repair_model(N, c, lam, mu):
    L, busy = machine_repair_closed_form(N, c, lam, mu)
    L_sim, busy_sim = simulate(N, c, lam, mu, horizon=40_000.0, seed=7)
    assert L_sim == pytest.approx(L, rel=0.04)
    assert busy_sim == pytest.approx(busy, rel=0.04)


def test_closed_form_single_machine_by_hand():
    # one machine, one repairer: broken a share λ/(λ+μ) of the time
    L, busy = machine_repair_closed_form(1, 1, 0.2, 0.8)
    assert L == pytest.approx(0.2) and busy == pytest.approx(0.2)


def test_worker_respects_duty_windows():
    env = simpy.Environment()
    queue = simpy.Store(env)
    done = []

    def serve(task):
        yield env.timeout(5)
        done.append((task, env.now))

    # on duty 10-20 each 100 minutes
    def duty(now):
        k = int(now // 100)
        return (k * 100 + 10, k * 100 + 20) if now < k * 100 + 20 else (k * 100 + 110, k * 100 + 120)

    for t in range(4):
        queue.put(t)
    env.process(fifo_worker(env, queue, serve, duty))
    env.run(until=300)
    # two tasks fit in 10-20 (ends 15, 20), next two in 110-120
    assert done == [(0, 15), (1, 20), (2, 115), (3, 120)]
