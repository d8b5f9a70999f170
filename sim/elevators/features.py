"""Engineered rolling features of the daily telemetry grid, and 7-day labels.

Every feature of day ``t`` uses telemetry of days ``<= t`` only. Most are *relative to the
elevator's own baseline* (the 28 days ending a week before ``t``): an elevator that
always reopens its doors a lot is not at risk for that, one whose reopen rate doubled this
week is. Relative features are what carries the model to fleets with other usage levels
and other sensors (see docs/elevators.md, "Why these features").

Missing days (NaN in the grid) are left out of sums and means; a window with no data
gives NaN, which the gradient-boosting model handles natively.
"""

from __future__ import annotations

import numpy as np

from sim.elevators.telemetry import Grid

__all__ = ["FEATURES", "BASE_LAG_D", "BASE_LEN_D", "compute_features", "labels_7d"]

#: Baseline window: ``BASE_LEN_D`` days ending ``BASE_LAG_D`` days before the scored day.
BASE_LAG_D = 7
BASE_LEN_D = 28

FEATURES = (
    "reopen_rate_1", "reopen_rate_3", "reopen_rate_7", "reopen_log_ratio_3",
    "reopen_log_ratio_7", "reopen_z_1", "reopen_z_3", "reopen_z_7",
    "faults_1", "faults_3", "faults_7", "fault_z_3", "fault_z_7",
    "vibration_z_3", "leveling_z_3", "temp_z_3", "trips_ratio_7",
    "age_years", "days_since_maintenance", "history_days",
    "reopen_z_since_maint", "fault_z_since_maint",
    # the last day alone: a defect that develops shows its jump before a 3-day mean does
    "fault_z_1", "vibration_z_1", "leveling_z_1",
)


def _cum(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative sums of values (NaN as 0) and of counts, padded with a leading 0."""
    ok = np.isfinite(a)
    s = np.zeros((a.shape[0], a.shape[1] + 1))
    c = np.zeros_like(s)
    np.cumsum(np.where(ok, a, 0.0), axis=1, out=s[:, 1:])
    np.cumsum(ok, axis=1, out=c[:, 1:])
    return s, c


def _window(cum: np.ndarray, lag: int, length: int) -> np.ndarray:
    """Sum over days ``t-lag-length+1 .. t-lag`` for every ``t`` (clipped at day 0)."""
    n_days = cum.shape[1] - 1
    t = np.arange(n_days)
    hi = np.clip(t - lag + 1, 0, n_days)
    lo = np.clip(t - lag - length + 1, 0, n_days)
    return cum[:, hi] - cum[:, lo]


def _mean(a, lag, length):
    s, c = _cum(a)
    n = _window(c, lag, length)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, _window(s, lag, length) / np.maximum(n, 1), np.nan), n


def _var_window(cum: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Sum over days ``t-length[:, t]+1 .. t`` (per-cell window length >= 1)."""
    n_days = cum.shape[1] - 1
    t = np.arange(n_days)[None, :]
    hi = np.broadcast_to(t + 1, length.shape)
    lo = np.clip(t + 1 - length, 0, n_days).astype(np.int64)
    return np.take_along_axis(cum, hi, axis=1) - np.take_along_axis(cum, lo, axis=1)


def _last(a: np.ndarray) -> np.ndarray:
    """Forward-fill along days: the last known value at or before each day."""
    idx = np.where(np.isfinite(a), np.arange(a.shape[1])[None, :], 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    out = np.take_along_axis(a, idx, axis=1)
    return out


def _zscore(a: np.ndarray, length: int) -> np.ndarray:
    """(recent mean - baseline mean) / baseline spread, for a continuous measurement."""
    recent, _ = _mean(a, 0, length)
    base, nb = _mean(a, BASE_LAG_D, BASE_LEN_D)
    sq, _ = _mean(a * a, BASE_LAG_D, BASE_LEN_D)
    with np.errstate(invalid="ignore"):
        sd = np.sqrt(np.maximum(sq - base * base, 0.0))
        z = (recent - base) / (sd + 0.05 * np.abs(base) + 1e-9)
    return np.where(nb >= 3, z, np.nan)


def compute_features(grid: Grid) -> np.ndarray:
    """Return the feature array ``(n_elevators, n_days, len(FEATURES))`` of a grid."""
    v = grid.values
    cyc_s, _ = _cum(v["door_cycles"])
    rep_s, _ = _cum(v["door_reopens"])
    flt_s, flt_c = _cum(v["fault_count"])
    out: dict[str, np.ndarray] = {}
    base_cyc = _window(cyc_s, BASE_LAG_D, BASE_LEN_D)
    base_rep = _window(rep_s, BASE_LAG_D, BASE_LEN_D)
    with np.errstate(invalid="ignore", divide="ignore"):
        base_rate = np.where(base_cyc > 0, base_rep / base_cyc, np.nan)
        for w in (1, 3, 7):
            cyc = _window(cyc_s, 0, w)
            rep = _window(rep_s, 0, w)
            rate = np.where(cyc > 0, rep / cyc, np.nan)
            out[f"reopen_rate_{w}"] = rate
            expected = cyc * base_rate
            out[f"reopen_z_{w}"] = (rep - expected) / np.sqrt(expected + 1.0)
            if w > 1:
                out[f"reopen_log_ratio_{w}"] = np.log((rate + 1e-3) / (base_rate + 1e-3))
        base_f = _window(flt_s, BASE_LAG_D, BASE_LEN_D)
        base_n = _window(flt_c, BASE_LAG_D, BASE_LEN_D)
        base_fpd = np.where(base_n > 0, base_f / np.maximum(base_n, 1), np.nan)
        for w in (1, 3, 7):
            f = _window(flt_s, 0, w)
            n = _window(flt_c, 0, w)
            out[f"faults_{w}"] = np.where(n > 0, f / np.maximum(n, 1), np.nan)
            exp_f = n * base_fpd
            out[f"fault_z_{w}"] = (f - exp_f) / np.sqrt(exp_f + 0.5)
        trips7, _ = _mean(v["trips"], 0, 7)
        trips_b, _ = _mean(v["trips"], BASE_LAG_D, BASE_LEN_D)
        out["trips_ratio_7"] = trips7 / np.where(trips_b > 0, trips_b, np.nan)
    for w in (1, 3):
        out[f"vibration_z_{w}"] = _zscore(v["vibration_rms"], w)
        out[f"leveling_z_{w}"] = _zscore(v["leveling_error_mm"], w)
    out["temp_z_3"] = _zscore(v["motor_temp_c"], 3)
    out["age_years"] = _last(v["age_years"])
    last_dsm = _last(v["days_since_maintenance"])
    known = np.isfinite(v["days_since_maintenance"])
    idx = np.where(known, np.arange(known.shape[1])[None, :], 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    out["days_since_maintenance"] = last_dsm + (np.arange(known.shape[1])[None, :] - idx)
    _, cnt = _cum(v["trips"])
    out["history_days"] = _window(cnt, 0, 10_000)
    # evidence since the last maintenance visit (a visit usually clears a defect), <= 7 days
    since = np.nan_to_num(np.clip(out["days_since_maintenance"] + 1, 1, 7), nan=7).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        cyc = _var_window(cyc_s, since)
        rep = _var_window(rep_s, since)
        expected = cyc * base_rate
        out["reopen_z_since_maint"] = (rep - expected) / np.sqrt(expected + 1.0)
        f = _var_window(flt_s, since)
        exp_f = _var_window(flt_c, since) * base_fpd
        out["fault_z_since_maint"] = (f - exp_f) / np.sqrt(exp_f + 0.5)
    return np.stack([out[name] for name in FEATURES], axis=-1)


def labels_7d(fail_grid: np.ndarray) -> np.ndarray:
    """Return ``y[e, t] = 1`` when a failure falls on days ``t+1 .. t+7`` (0/1 int8).

    Days whose 7-day window runs past the grid are labelled with what is known; callers
    must drop the last 7 days (see :func:`sim.elevators.model.training_rows`).
    """
    f = np.nan_to_num(fail_grid).astype(np.int64)
    c = np.zeros((f.shape[0], f.shape[1] + 1), dtype=np.int64)
    np.cumsum(f, axis=1, out=c[:, 1:])
    t = np.arange(f.shape[1])
    hi = np.clip(t + 8, 0, f.shape[1])
    lo = np.clip(t + 1, 0, f.shape[1])
    return ((c[:, hi] - c[:, lo]) > 0).astype(np.int8)
