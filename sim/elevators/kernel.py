"""Numba kernels of the elevator fleet degradation simulator.

Layers (STYLE 8): every elevator draws from its own counter-based random stream
(:mod:`sim.rng`), so results do not depend on the thread count; a serial kernel :func:`simulate_one` that runs one elevator day by day into preallocated
rows; a parallel driver :func:`simulate_fleet_kernel` (``prange`` over elevators). The
Python wrapper in :mod:`sim.elevators.simulator` validates and names the result.

The parameter vector ``P`` is indexed by the ``I_*`` constants below; its meaning and the
default values are documented in :class:`sim.elevators.simulator.FleetParams`.
"""

from __future__ import annotations

import math

from numba import prange

from sim.numba_config import jit, pjit
from sim.rng import normal, poisson, seed_state, uniform

# -- parameter vector layout --------------------------------------------------------------
PARAM_NAMES = (
    "trips_median", "trips_sigma", "kd", "km", "p_shock", "shock_size",
    "q0", "q_door", "q_drive", "h_base", "h_door", "h_drive",
    "r_wear", "r_defect", "f_defect_door", "f_defect_drive", "v_defect", "l_defect",
    "m_door", "m_drive", "p_catch", "maint_interval_d",
    "g_develop", "h_incipient", "s_developed",
)
(I_TRIPS_MEDIAN, I_TRIPS_SIGMA, I_KD, I_KM, I_P_SHOCK, I_SHOCK_SIZE,
 I_Q0, I_Q_DOOR, I_Q_DRIVE, I_H_BASE, I_H_DOOR, I_H_DRIVE,
 I_R_WEAR, I_R_DEFECT, I_F_DEF_DOOR, I_F_DEF_DRIVE, I_V_DEF, I_L_DEF,
 I_M_DOOR, I_M_DRIVE, I_P_CATCH, I_MAINT,
 I_G_DEV, I_H_INC, I_S_DEV) = range(len(PARAM_NAMES))

#: Integer output columns (``out_i[e, d, k]``).
INT_COLUMNS = ("trips", "door_cycles", "door_reopens", "fault_count", "days_since_maintenance")
#: Float output columns (``out_f[e, d, k]``).
FLOAT_COLUMNS = ("vibration_rms", "leveling_error_mm", "motor_temp_c", "age_years")

# -- the model of one elevator -----------------------------------------------------------
@jit
def oracle_p7(P, wd, wm, age, defect, developed, next_maint):
    """Return the true probability of a failure in the next 7 days given the hidden state.

    Exact for the simulator's five-state chain (healthy; a door or drive defect, each
    incipient or developed) with the known maintenance day (which also cuts the wear),
    holding the wear otherwise at today's value (a week of usage adds about 1% to it).
    """
    agef = 1.0 + age / 20.0
    g = P[I_G_DEV]
    qd = P[I_Q_DOOR] * (P[I_Q0] + wd) * agef
    qm = P[I_Q_DRIVE] * (P[I_Q0] + wm) * agef
    hb = min(1.0, P[I_H_BASE] * (1.0 + wd + wm))
    s0 = 1.0 if defect == 0 else 0.0
    s1 = 1.0 if defect == 1 and not developed else 0.0   # door, incipient
    s2 = 1.0 if defect == 2 and not developed else 0.0   # drive, incipient
    s3 = 1.0 if defect == 1 and developed else 0.0       # door, developed
    s4 = 1.0 if defect == 2 and developed else 0.0       # drive, developed
    for k in range(1, 8):
        if k == next_maint:
            keep = 1.0 - P[I_P_CATCH]
            s0 += (s1 + s2 + s3 + s4) * P[I_P_CATCH]
            s1 *= keep
            s2 *= keep
            s3 *= keep
            s4 *= keep
            wd *= P[I_M_DOOR]
            wm *= P[I_M_DRIVE]
            qd = P[I_Q_DOOR] * (P[I_Q0] + wd) * agef
            qm = P[I_Q_DRIVE] * (P[I_Q0] + wm) * agef
            hb = min(1.0, P[I_H_BASE] * (1.0 + wd + wm))
        n1 = s0 * qd
        n2 = s0 * qm
        d1 = s1 * g
        d2 = s2 * g
        s0 = s0 - n1 - n2
        s3 += d1
        s4 += d2
        s1 += n1 - d1
        s2 += n2 - d2
        hi = min(1.0, hb + P[I_H_INC])
        s0 *= 1.0 - hb
        s1 *= 1.0 - hi
        s2 *= 1.0 - hi
        s3 *= 1.0 - min(1.0, hb + P[I_H_DOOR])
        s4 *= 1.0 - min(1.0, hb + P[I_H_DRIVE])
    return 1.0 - (s0 + s1 + s2 + s3 + s4)


@jit
def simulate_one(seed, e, days, start_weekday, P, out_i, out_f, fail, p7):
    """Simulate elevator ``e`` for ``days`` days into row ``e`` of the output arrays."""
    st = seed_state(seed, e)
    age0 = 0.5 + 19.5 * uniform(st)
    trips_mean = P[I_TRIPS_MEDIAN] * math.exp(P[I_TRIPS_SIGMA] * normal(st))
    stops = 1.6 + uniform(st)
    load = 0.3 + 0.6 * uniform(st)
    r0 = 0.004 + 0.026 * uniform(st)
    f0 = 0.02 + 0.13 * uniform(st)
    vib0 = 0.05 + 0.2 * uniform(st)
    lev0 = 1.0 + 3.0 * uniform(st)
    temp0 = 35.0 + 15.0 * uniform(st)
    wd = 0.5 * uniform(st)
    wm = 0.05 * age0 * uniform(st)
    interval = int(P[I_MAINT])
    next_maint = 1 + int(uniform(st) * interval)
    dsm = interval - next_maint + 1  # the last visit was `interval` days before the next
    defect = 0
    developed = False
    sev = 0.0
    dage = 0
    for d in range(days):
        age = age0 + d / 365.25
        agef = 1.0 + age / 20.0
        # maintenance at the start of the day (half-monthly, GB 半月保)
        next_maint -= 1
        if next_maint <= 0:
            wd *= P[I_M_DOOR]
            wm *= P[I_M_DRIVE]
            if defect != 0 and uniform(st) < P[I_P_CATCH]:
                defect = 0
                developed = False
            dsm = 0
            next_maint = interval - 2 + int(uniform(st) * 5.0)
        # usage and wear
        wf = 0.85 if (start_weekday + d) % 7 >= 5 else 1.0
        trips = poisson(st, trips_mean * wf)
        cycles = poisson(st, trips * stops)
        wd += cycles * P[I_KD] * agef
        wm += trips * load * P[I_KM] * agef
        if uniform(st) < P[I_P_SHOCK]:
            size = -math.log(1.0 - uniform(st)) * P[I_SHOCK_SIZE]
            if uniform(st) < 0.5:
                wd += size
            else:
                wm += size
        # onset of a defect (the hidden state precursors reveal)
        if defect == 0:
            qd = P[I_Q_DOOR] * (P[I_Q0] + wd) * agef
            qm = P[I_Q_DRIVE] * (P[I_Q0] + wm) * agef
            u = uniform(st)
            if u < qd:
                defect = 1
            elif u < qd + qm:
                defect = 2
            if defect != 0:
                sev = 0.4 + 1.1 * uniform(st)
                dage = 0
                developed = False
        else:
            dage += 1
            # an incipient defect develops (the P-F interval of reliability-centred maintenance)
            if not developed and uniform(st) < P[I_G_DEV]:
                developed = True
        # failure
        hb = P[I_H_BASE] * (1.0 + wd + wm)
        h = hb
        if defect != 0 and not developed:
            h += P[I_H_INC]
        elif defect == 1:
            h += P[I_H_DOOR]
        elif defect == 2:
            h += P[I_H_DRIVE]
        failed = uniform(st) < h
        # telemetry of the day (GB/T 24476 statistics and fault records); a developed defect
        # shows its precursors ``s_developed`` times stronger
        ramp = min(1.0, (dage + 1) / 2.0) if defect != 0 else 0.0
        if developed:
            ramp *= P[I_S_DEV]
        door = 1.0 if defect == 1 else 0.0
        drive = 1.0 if defect == 2 else 0.0
        reopen_p = r0 * (1.0 + P[I_R_WEAR] * wd) + door * r0 * P[I_R_DEFECT] * sev * ramp
        reopens = poisson(st, cycles * reopen_p)
        fault_lam = (f0 * (1.0 + wm) + door * P[I_F_DEF_DOOR] * sev * ramp
                     + drive * P[I_F_DEF_DRIVE] * sev * ramp)
        faults = poisson(st, fault_lam)
        vib = vib0 * (1.0 + 0.3 * wm) + drive * P[I_V_DEF] * vib0 * sev * ramp
        vib = max(0.001, vib + 0.08 * vib0 * normal(st))
        lev = lev0 * (1.0 + 0.2 * wm) + drive * P[I_L_DEF] * sev * ramp + 0.4 * abs(normal(st))
        temp = temp0 + 8.0 * load * trips / trips_mean + 3.0 * drive * sev + 1.5 * normal(st)
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
            developed = False
        out_i[e, d, 0] = trips
        out_i[e, d, 1] = cycles
        out_i[e, d, 2] = reopens
        out_i[e, d, 3] = faults
        out_i[e, d, 4] = dsm
        out_f[e, d, 0] = vib
        out_f[e, d, 1] = lev
        out_f[e, d, 2] = temp
        out_f[e, d, 3] = age
        fail[e, d] = 1 if failed else 0
        p7[e, d] = oracle_p7(P, wd, wm, age, defect, developed, next_maint)
        dsm += 1


@pjit
def simulate_fleet_kernel(seed, n, days, start_weekday, P, out_i, out_f, fail, p7):
    """Parallel driver: one independent stream per elevator, so thread count is irrelevant."""
    for e in prange(n):
        simulate_one(seed, e, days, start_weekday, P, out_i, out_f, fail, p7)
