"""Slow, obviously correct references of the elevator kernels and features (plain Python).

Written from the model description in :mod:`sim.elevators.simulator`, one elevator and one
day at a time, with Python integers for the splitmix64 generator.
"""

from __future__ import annotations

import math

import numpy as np

MASK = (1 << 64) - 1


class SplitMix:
    def __init__(self, seed: int, index: int):
        self.s = (seed * 0xBF58476D1CE4E5B9 + (index + 1) * 0x9E3779B97F4A7C15) & MASK
        self.next()

    def next(self) -> int:
        self.s = (self.s + 0x9E3779B97F4A7C15) & MASK
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def u(self) -> float:
        return (self.next() >> 11) * 2.0 ** -53

    def n(self) -> float:
        u1 = 1.0 - self.u()
        u2 = self.u()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)

    def poisson(self, lam: float) -> int:
        if lam <= 0:
            return 0
        if lam < 30:
            limit, k, p = math.exp(-lam), 0, self.u()
            while p > limit:
                k += 1
                p *= self.u()
            return k
        return max(0, int(math.floor(lam + math.sqrt(lam) * self.n() + 0.5)))


def oracle(p, wd, wm, age, defect, next_maint) -> float:
    """P(failure in 7 days): enumerate the chain state by state (no vector tricks)."""
    agef = 1 + age / 20
    qd = p["q_door"] * (p["q0"] + wd) * agef
    qm = p["q_drive"] * (p["q0"] + wm) * agef
    hb = p["h_base"] * (1 + wd + wm)
    prob = {0: 0.0, 1: 0.0, 2: 0.0}
    prob[defect] = 1.0
    hazard = {0: hb, 1: min(1.0, hb + p["h_door"]), 2: min(1.0, hb + p["h_drive"])}
    for k in range(1, 8):
        if k == next_maint:
            found = (prob[1] + prob[2]) * p["p_catch"]
            prob = {0: prob[0] + found, 1: prob[1] * (1 - p["p_catch"]),
                    2: prob[2] * (1 - p["p_catch"])}
            wd, wm = wd * p["m_door"], wm * p["m_drive"]
            qd = p["q_door"] * (p["q0"] + wd) * agef
            qm = p["q_drive"] * (p["q0"] + wm) * agef
            hb = p["h_base"] * (1 + wd + wm)
            hazard = {0: hb, 1: min(1.0, hb + p["h_door"]), 2: min(1.0, hb + p["h_drive"])}
        start = {1: prob[0] * qd, 2: prob[0] * qm}
        prob = {0: prob[0] - start[1] - start[2], 1: prob[1] + start[1], 2: prob[2] + start[2]}
        prob = {s: prob[s] * (1 - hazard[s]) for s in prob}
    return 1 - sum(prob.values())


def simulate(n, days, seed, p, start_weekday=0):
    """Return (ints[n, days, 5], floats[n, days, 4], fail[n, days], p7[n, days])."""
    I = np.zeros((n, days, 5), dtype=np.int64)
    F = np.zeros((n, days, 4))
    fail = np.zeros((n, days), dtype=np.int8)
    p7 = np.zeros((n, days))
    for e in range(n):
        r = SplitMix(seed, e)
        age0 = 0.5 + 19.5 * r.u()
        trips_mean = p["trips_median"] * math.exp(p["trips_sigma"] * r.n())
        stops, load = 1.6 + r.u(), 0.3 + 0.6 * r.u()
        r0, f0 = 0.004 + 0.026 * r.u(), 0.02 + 0.13 * r.u()
        vib0, lev0, temp0 = 0.05 + 0.2 * r.u(), 1.0 + 3.0 * r.u(), 35.0 + 15.0 * r.u()
        wd = 0.5 * r.u()
        wm = 0.05 * age0 * r.u()
        interval = int(p["maint_interval_d"])
        next_maint = 1 + int(r.u() * interval)
        dsm = interval - next_maint
        defect, sev, dage = 0, 0.0, 0
        for d in range(days):
            age = age0 + d / 365.25
            agef = 1 + age / 20
            next_maint -= 1
            if next_maint <= 0:
                wd *= p["m_door"]
                wm *= p["m_drive"]
                if defect and r.u() < p["p_catch"]:
                    defect = 0
                dsm = 0
                next_maint = interval - 2 + int(r.u() * 5.0)
            wf = 0.85 if (start_weekday + d) % 7 >= 5 else 1.0
            trips = r.poisson(trips_mean * wf)
            cycles = r.poisson(trips * stops)
            wd += cycles * p["kd"] * agef
            wm += trips * load * p["km"] * agef
            if r.u() < p["p_shock"]:
                size = -math.log(1 - r.u()) * p["shock_size"]
                if r.u() < 0.5:
                    wd += size
                else:
                    wm += size
            if defect == 0:
                qd = p["q_door"] * (p["q0"] + wd) * agef
                qm = p["q_drive"] * (p["q0"] + wm) * agef
                u = r.u()
                defect = 1 if u < qd else (2 if u < qd + qm else 0)
                if defect:
                    sev, dage = 0.4 + 1.1 * r.u(), 0
            else:
                dage += 1
            hb = p["h_base"] * (1 + wd + wm)
            h = hb + {0: 0.0, 1: p["h_door"], 2: p["h_drive"]}[defect]
            failed = r.u() < h
            ramp = min(1.0, (dage + 1) / 2.0) if defect else 0.0
            door, drive = float(defect == 1), float(defect == 2)
            reopens = r.poisson(cycles * (r0 * (1 + p["r_wear"] * wd)
                                          + door * r0 * p["r_defect"] * sev * ramp))
            faults = r.poisson(f0 * (1 + wm) + door * p["f_defect_door"] * sev * ramp
                               + drive * p["f_defect_drive"] * sev * ramp)
            vib = vib0 * (1 + 0.3 * wm) + drive * p["v_defect"] * vib0 * sev * ramp
            vib = max(0.001, vib + 0.08 * vib0 * r.n())
            lev = lev0 * (1 + 0.2 * wm) + drive * p["l_defect"] * sev * ramp + 0.4 * abs(r.n())
            temp = temp0 + 8 * load * trips / trips_mean + 3 * drive * sev + 1.5 * r.n()
            if failed:
                faults += 1
                if defect == 1:
                    wd *= 0.3
                elif defect == 2:
                    wm *= 0.5
                else:
                    wd *= 0.7
                    wm *= 0.7
                defect = 0
            I[e, d] = (trips, cycles, reopens, faults, dsm)
            F[e, d] = (vib, lev, temp, age)
            fail[e, d] = int(failed)
            p7[e, d] = oracle(p, wd, wm, age, defect, next_maint)
            dsm += 1
    return I, F, fail, p7


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
