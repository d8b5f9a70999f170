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


#: States of the chain: healthy, door incipient, drive incipient, door developed, drive
#: developed (and, in the 7-day matrix, failed).
HEALTHY, DOOR_INC, DRIVE_INC, DOOR_DEV, DRIVE_DEV, FAILED = range(6)


def _state(defect: int, developed: bool) -> int:
    if defect == 0:
        return HEALTHY
    return (DOOR_DEV if developed else DOOR_INC) if defect == 1 else (DRIVE_DEV if developed else DRIVE_INC)


def _hazards(p, hb) -> np.ndarray:
    """Failure hazard of a day spent in each of the five live states."""
    return np.minimum(1.0, np.array([hb, hb + p["h_incipient"], hb + p["h_incipient"],
                                     hb + p["h_door"], hb + p["h_drive"]]))


def p7_matrix(p, wd, wm, age, defect, developed, next_maint) -> float:
    """P(failure on days 1..7): a product of 6×6 transition matrices.

    Written from the model text: each day a healthy elevator develops an incipient door
    (``qd``) or drive (``qm``) defect, an incipient defect (one that was present at the
    start of the day) becomes developed with ``g_develop``, then the elevator fails with the
    hazard of the state it is in that day; a failure is absorbing here (we ask for the
    first one). On the maintenance day the wear is multiplied by ``m_door`` / ``m_drive``
    and a defect (either stage) is found with ``p_catch``.
    """
    agef = 1 + age / 20
    g = p["g_develop"]

    def day_matrix(wd, wm):
        qd = p["q_door"] * (p["q0"] + wd) * agef
        qm = p["q_drive"] * (p["q0"] + wm) * agef
        h = _hazards(p, p["h_base"] * (1 + wd + wm))
        move = np.zeros((6, 6))  # the day's transitions before the failure draw
        move[HEALTHY, [HEALTHY, DOOR_INC, DRIVE_INC]] = (1 - qd - qm, qd, qm)
        move[DOOR_INC, [DOOR_INC, DOOR_DEV]] = (1 - g, g)
        move[DRIVE_INC, [DRIVE_INC, DRIVE_DEV]] = (1 - g, g)
        move[DOOR_DEV, DOOR_DEV] = move[DRIVE_DEV, DRIVE_DEV] = 1.0
        move[FAILED, FAILED] = 1.0
        fail = np.eye(6)
        for k in range(5):
            fail[k, k], fail[k, FAILED] = 1 - h[k], h[k]
        return move @ fail

    catch = np.eye(6)
    for k in (DOOR_INC, DRIVE_INC, DOOR_DEV, DRIVE_DEV):
        catch[k, k], catch[k, HEALTHY] = 1 - p["p_catch"], p["p_catch"]
    state = np.zeros(6)
    state[_state(defect, developed)] = 1.0
    for k in range(1, 8):
        if k == next_maint:
            state = state @ catch
            wd, wm = wd * p["m_door"], wm * p["m_drive"]
        state = state @ day_matrix(wd, wm)
    return float(state[FAILED])


def p7_closed_form(p, wd, wm, age, defect, developed) -> float:
    """P(failure within 7 days) without a maintenance visit in the window, by first passage.

    A day survived: healthy and still healthy ``a = (1 - qd - qm)(1 - hb)``; incipient and
    still incipient ``c = (1 - g)(1 - h_i)``; developed ``b_j = 1 - h_j``. Survival over
    ``n`` days from a developed defect is ``b**n``; from an incipient one it is ``c**n``
    plus the paths that develop on day ``k``: ``c**(k-1) g b**(n-k+1)``, a geometric sum
    ``c**n + g b (b**n - c**n) / (b - c)``; from healthy, the paths that start a defect on
    day ``k`` (and spend that day incipient): ``a**7 + sum_k a**(k-1) q (1 - h_i) S_inc(7-k)``.
    """
    agef = 1 + age / 20
    g = p["g_develop"]
    qd = p["q_door"] * (p["q0"] + wd) * agef
    qm = p["q_drive"] * (p["q0"] + wm) * agef
    hb = p["h_base"] * (1 + wd + wm)
    hi = min(1.0, hb + p["h_incipient"])
    c = (1 - g) * (1 - hi)
    b = {1: 1 - min(1.0, hb + p["h_door"]), 2: 1 - min(1.0, hb + p["h_drive"])}

    def s_inc(n, j):
        return c ** n + g * b[j] * (b[j] ** n - c ** n) / (b[j] - c)

    if defect:
        return 1 - (b[defect] ** 7 if developed else s_inc(7, defect))
    a = (1 - qd - qm) * (1 - hb)
    survive = a ** 7
    for k in range(1, 8):
        survive += a ** (k - 1) * (qd * (1 - hi) * s_inc(7 - k, 1) + qm * (1 - hi) * s_inc(7 - k, 2))
    return 1 - survive


def expected_failures(p, age, maint_days, wd0, wm0) -> np.ndarray:
    """Expected failures per day of one elevator (a renewal chain), given its observed ages.

    For the test process ``kd = km = p_shock = 0`` and ``m_door = m_drive = 0``: the wear is
    its initial value ``(wd0, wm0)`` until the first maintenance day and 0 after it.
    States at the start of a day: healthy, door or drive defect (incipient or developed); a
    maintenance visit that day finds a defect with ``p_catch``; then a defect may start or
    an incipient one develop, then the elevator fails with the hazard of its state; a
    failure (repair) returns it to healthy. ``wd0``/``wm0`` may be arrays (quadrature
    nodes over the unknown initial wear): the result is averaged over them.
    """
    wd, wm = np.asarray(wd0, dtype=float), np.asarray(wm0, dtype=float)
    g = p["g_develop"]
    s = [np.ones_like(wd)] + [np.zeros_like(wd) for _ in range(4)]
    out = np.zeros(len(age))
    maintained = set(int(d) for d in maint_days)
    for d, a in enumerate(age):
        if d in maintained:
            wd, wm = wd * p["m_door"], wm * p["m_drive"]
            found = sum(s[1:]) * p["p_catch"]
            s = [s[0] + found] + [x * (1 - p["p_catch"]) for x in s[1:]]
        agef = 1 + a / 20
        qd = p["q_door"] * (p["q0"] + wd) * agef
        qm = p["q_drive"] * (p["q0"] + wm) * agef
        hb = p["h_base"] * (1 + wd + wm)
        t = [s[0] * (1 - qd - qm), s[1] * (1 - g) + s[0] * qd, s[2] * (1 - g) + s[0] * qm,
             s[3] + s[1] * g, s[4] + s[2] * g]
        hi = np.minimum(1.0, hb + p["h_incipient"])
        h = [hb, hi, hi, np.minimum(1.0, hb + p["h_door"]), np.minimum(1.0, hb + p["h_drive"])]
        fail = sum(t[k] * h[k] for k in range(5))
        out[d] = float(np.mean(fail))
        s = [t[0] * (1 - h[0]) + fail] + [t[k] * (1 - h[k]) for k in range(1, 5)]  # a repair makes it healthy
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
    for w in (1, 3, 7):
        f = vals("fault_count", t - w + 1, t)
        out[f"fault_z_{w}"] = (sum(f) - len(f) * fpd) / math.sqrt(len(f) * fpd + 0.5) if fb else np.nan
    for name, key, w in (("vibration_rms", "vibration_z_3", 3), ("leveling_error_mm", "leveling_z_3", 3),
                         ("vibration_rms", "vibration_z_1", 1), ("leveling_error_mm", "leveling_z_1", 1)):
        recent, base = vals(name, t - w + 1, t), vals(name, t - 34, t - 7)
        if len(base) >= 3 and recent:
            m, sd = np.mean(base), np.sqrt(max(np.mean(np.square(base)) - np.mean(base) ** 2, 0))
            out[key] = (np.mean(recent) - m) / (sd + 0.05 * abs(m) + 1e-9)
        else:
            out[key] = np.nan
    dsm_known = [d for d in range(t + 1) if np.isfinite(v["days_since_maintenance"][e, d])]
    out["days_since_maintenance"] = (v["days_since_maintenance"][e, dsm_known[-1]] + t - dsm_known[-1]
                                     if dsm_known else np.nan)
    return out
