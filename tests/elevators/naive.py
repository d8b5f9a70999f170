"""Independent references of the elevator kernels and features (plain Python / NumPy).

Written from the model description in :mod:`sim.elevators.simulator` and docs/elevators.md,
not from the kernel: the 7-day oracle as a product of transition matrices and in closed
form, the expected failure count of a renewal chain, and the rolling features by direct
loops. The simulator's random draws are checked by statistical tests against these and
against the closed-form moments of the documented distributions
(``tests/elevators/test_simulator.py``).
"""

from __future__ import annotations

import math

import numpy as np


def p7_matrix(p, wd, wm, age, defect, next_maint) -> float:
    """P(failure on days 1..7): a product of 4×4 transition matrices (states 0, 1, 2, failed).

    Written from the model text: each day a healthy elevator develops a door (``qd``) or
    drive (``qm``) defect and then fails with the hazard of the state it is in that day;
    a failure is absorbing here (we ask for the first one). On the maintenance day the
    wear is multiplied by ``m_door`` / ``m_drive`` and a defect is found with ``p_catch``.
    """
    agef = 1 + age / 20

    def day_matrix(wd, wm):
        qd = p["q_door"] * (p["q0"] + wd) * agef
        qm = p["q_drive"] * (p["q0"] + wm) * agef
        hb = p["h_base"] * (1 + wd + wm)
        h = (hb, min(1.0, hb + p["h_door"]), min(1.0, hb + p["h_drive"]))
        m = np.zeros((4, 4))
        m[0] = ((1 - qd - qm) * (1 - h[0]), qd * (1 - h[1]), qm * (1 - h[2]),
                (1 - qd - qm) * h[0] + qd * h[1] + qm * h[2])
        m[1, 1], m[1, 3] = 1 - h[1], h[1]
        m[2, 2], m[2, 3] = 1 - h[2], h[2]
        m[3, 3] = 1.0
        return m

    catch = np.eye(4)
    catch[1] = catch[2] = 0.0
    catch[1, 0] = catch[2, 0] = p["p_catch"]
    catch[1, 1] = catch[2, 2] = 1 - p["p_catch"]
    state = np.zeros(4)
    state[defect] = 1.0
    for k in range(1, 8):
        if k == next_maint:
            state = state @ catch
            wd, wm = wd * p["m_door"], wm * p["m_drive"]
        state = state @ day_matrix(wd, wm)
    return float(state[3])


def p7_closed_form(p, wd, wm, age, defect) -> float:
    """P(failure within 7 days) without a maintenance visit in the window, in closed form.

    With ``a = (1 - qd - qm)(1 - hb)`` (a healthy day survived without a defect) and
    ``b_i = 1 - h_i`` (a day in defect ``i`` survived), the survival is ``b_i**7`` from
    defect ``i`` and, from healthy, ``a**7 + sum_i q_i b_i (b_i**7 - a**7) / (b_i - a)``
    (the defect starts on day ``k`` with weight ``a**(k-1) q_i b_i**(8-k)``: a geometric sum).
    """
    agef = 1 + age / 20
    qd = p["q_door"] * (p["q0"] + wd) * agef
    qm = p["q_drive"] * (p["q0"] + wm) * agef
    hb = p["h_base"] * (1 + wd + wm)
    b = {1: 1 - min(1.0, hb + p["h_door"]), 2: 1 - min(1.0, hb + p["h_drive"])}
    if defect:
        return 1 - b[defect] ** 7
    a = (1 - qd - qm) * (1 - hb)
    survive = a ** 7
    for q, bi in ((qd, b[1]), (qm, b[2])):
        survive += q * bi * (bi ** 7 - a ** 7) / (bi - a)
    return 1 - survive


def expected_failures(p, age, maint_days, wd0, wm0) -> np.ndarray:
    """Expected failures per day of one elevator (a renewal chain), given its observed ages.

    For the test process ``kd = km = p_shock = 0`` and ``m_door = m_drive = 0``: the wear is
    its initial value ``(wd0, wm0)`` until the first maintenance day and 0 after it.
    States at the start of a day: healthy, door defect, drive defect; a maintenance visit
    that day finds a defect with ``p_catch``; then a defect may start, then the elevator
    fails with the hazard of its state; a failure (repair) returns it to healthy. ``wd0``/``wm0`` may be arrays (quadrature nodes over the unknown
    initial wear): the result is averaged over them.
    """
    wd, wm = np.asarray(wd0, dtype=float), np.asarray(wm0, dtype=float)
    s = [np.ones_like(wd), np.zeros_like(wd), np.zeros_like(wd)]
    out = np.zeros(len(age))
    maintained = set(int(d) for d in maint_days)
    for d, a in enumerate(age):
        if d in maintained:
            wd, wm = wd * p["m_door"], wm * p["m_drive"]
            found = (s[1] + s[2]) * p["p_catch"]
            s = [s[0] + found, s[1] * (1 - p["p_catch"]), s[2] * (1 - p["p_catch"])]
        agef = 1 + a / 20
        qd = p["q_door"] * (p["q0"] + wd) * agef
        qm = p["q_drive"] * (p["q0"] + wm) * agef
        hb = p["h_base"] * (1 + wd + wm)
        t0, t1, t2 = s[0] * (1 - qd - qm), s[1] + s[0] * qd, s[2] + s[0] * qm
        h1, h2 = np.minimum(1.0, hb + p["h_door"]), np.minimum(1.0, hb + p["h_drive"])
        fail = t0 * hb + t1 * h1 + t2 * h2
        out[d] = float(np.mean(fail))
        s = [t0 * (1 - hb) + fail, t1 * (1 - h1), t2 * (1 - h2)]  # a repair makes it healthy
    return out


def features_row(v: dict, e: int, t: int) -> dict:
    """Features of elevator ``e`` on day ``t`` by direct loops over the days (NaN = absent)."""
    def vals(name, lo, hi):
        return [v[name][e, d] for d in range(max(lo, 0), hi + 1)
                if d >= 0 and np.isfinite(v[name][e, d])]

    def both(lo, hi):  # days where both counters exist are the same rows here
        return sum(vals("door_cycles", lo, hi)), sum(vals("door_reopens", lo, hi))

    out = {}
    bc, br = both(t - 34, t - 7)
    base_rate = br / bc if bc > 0 else np.nan
    for w in (1, 3, 7):
        c, r = both(t - w + 1, t)
        out[f"reopen_rate_{w}"] = r / c if c > 0 else np.nan
        out[f"reopen_z_{w}"] = (r - c * base_rate) / math.sqrt(c * base_rate + 1) if bc > 0 else np.nan
    fb = vals("fault_count", t - 34, t - 7)
    fpd = sum(fb) / len(fb) if fb else np.nan
    for w in (3, 7):
        f = vals("fault_count", t - w + 1, t)
        out[f"fault_z_{w}"] = (sum(f) - len(f) * fpd) / math.sqrt(len(f) * fpd + 0.5) if fb else np.nan
    for name, key in (("vibration_rms", "vibration_z_3"), ("leveling_error_mm", "leveling_z_3")):
        recent, base = vals(name, t - 2, t), vals(name, t - 34, t - 7)
        if len(base) >= 3 and recent:
            m, sd = np.mean(base), np.sqrt(max(np.mean(np.square(base)) - np.mean(base) ** 2, 0))
            out[key] = (np.mean(recent) - m) / (sd + 0.05 * abs(m) + 1e-9)
        else:
            out[key] = np.nan
    dsm_known = [d for d in range(t + 1) if np.isfinite(v["days_since_maintenance"][e, d])]
    out["days_since_maintenance"] = (v["days_since_maintenance"][e, dsm_known[-1]] + t - dsm_known[-1]
                                     if dsm_known else np.nan)
    return out
