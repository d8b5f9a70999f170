"""The telemetry and failures CSV contract (docs/elevators.md) and the daily grid.

Telemetry: one row per elevator per day, columns :data:`TELEMETRY_COLUMNS`; failures: one
row per failure, columns ``elevator_id, date``. Dates are ISO ``YYYY-MM-DD`` (a timestamp
is cut to its date). Validation happens here, at the boundary; the feature code assumes
clean arrays.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.elevators.errors import TelemetryError

__all__ = [
    "TELEMETRY_COLUMNS", "FAILURE_COLUMNS", "COUNT_COLUMNS", "MEASURE_COLUMNS",
    "Grid", "read_telemetry", "read_failures", "validate_telemetry", "validate_failures",
    "to_grid", "write_csv",
]

#: Daily counters (integers >= 0).
COUNT_COLUMNS = ("trips", "door_cycles", "door_reopens", "fault_count")
#: Daily measurements: RMS car vibration (m/s²), mean leveling error (mm), motor
#: temperature (°C), age (years), days since the last maintenance visit.
MEASURE_COLUMNS = ("vibration_rms", "leveling_error_mm", "motor_temp_c", "age_years",
                   "days_since_maintenance")
TELEMETRY_COLUMNS = ("elevator_id", "date", "trips", "door_cycles", "door_reopens",
                     "fault_count", "vibration_rms", "leveling_error_mm", "motor_temp_c",
                     "age_years", "days_since_maintenance")
FAILURE_COLUMNS = ("elevator_id", "date")


def _read(path: str | Path, what: str) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file {str(path)!r} does not exist")
    try:
        return pd.read_csv(path, dtype={"elevator_id": str}, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise TelemetryError(f"{what} file {str(path)!r} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise TelemetryError(f"{what} file {str(path)!r} is not a CSV: {exc}") from None


def _dates(df: pd.DataFrame, what: str) -> pd.Series:
    parsed = pd.to_datetime(df["date"].astype(str).str.strip(), errors="coerce", format="mixed")
    bad = parsed.isna()
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        raise TelemetryError(f"{what} row {i + 2}: date={df['date'].iloc[i]!r} is not a date")
    return parsed.dt.tz_localize(None).dt.normalize() if parsed.dt.tz is not None else parsed.dt.normalize()


def validate_telemetry(df: pd.DataFrame, what: str = "telemetry") -> pd.DataFrame:
    """Return a clean copy of a telemetry table (sorted, typed) or raise TelemetryError.

    Raises
    ------
    TelemetryError
        Missing columns, an empty table, non-numeric, negative or non-finite values,
        duplicate ``(elevator_id, date)`` rows; the message names the row and value.
    """
    missing = [c for c in TELEMETRY_COLUMNS if c not in df.columns]
    if missing:
        raise TelemetryError(f"{what} lacks column(s) {', '.join(missing)}")
    if len(df) == 0:
        raise TelemetryError(f"{what} has no rows")
    out = df[list(TELEMETRY_COLUMNS)].copy()
    out["elevator_id"] = out["elevator_id"].astype(str).str.strip()
    if (out["elevator_id"] == "").any() or df["elevator_id"].isna().any():
        i = int(np.argmax((df["elevator_id"].isna() | (out["elevator_id"] == "")).to_numpy()))
        raise TelemetryError(f"{what} row {i + 2}: elevator_id is empty")
    out["date"] = _dates(out, what)
    for col in COUNT_COLUMNS + MEASURE_COLUMNS:
        values = pd.to_numeric(out[col], errors="coerce")
        bad = ~np.isfinite(values.to_numpy(dtype=float))
        if bad.any():
            i = int(np.argmax(bad))
            raise TelemetryError(f"{what} row {i + 2}: {col}={df[col].iloc[i]!r} is not a finite number")
        if col != "motor_temp_c" and (values < 0).any():
            i = int(np.argmax((values < 0).to_numpy()))
            raise TelemetryError(f"{what} row {i + 2}: {col}={values.iloc[i]} must be >= 0")
        out[col] = values.astype(float)
    bad = out["door_reopens"] > out["door_cycles"]
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        raise TelemetryError(
            f"{what} row {i + 2}: door_reopens={out['door_reopens'].iloc[i]:g} exceeds "
            f"door_cycles={out['door_cycles'].iloc[i]:g}")
    dup = out.duplicated(["elevator_id", "date"])
    if dup.any():
        i = int(np.argmax(dup.to_numpy()))
        raise TelemetryError(f"{what} row {i + 2}: duplicate day {out['date'].iloc[i].date()} "
                             f"for elevator {out['elevator_id'].iloc[i]!r}")
    return out.sort_values(["elevator_id", "date"], kind="stable").reset_index(drop=True)


def validate_failures(df: pd.DataFrame, what: str = "failures") -> pd.DataFrame:
    """Return a clean failures table (``elevator_id``, ``date``) or raise TelemetryError."""
    missing = [c for c in FAILURE_COLUMNS if c not in df.columns]
    if missing:
        raise TelemetryError(f"{what} lacks column(s) {', '.join(missing)}")
    out = df[list(FAILURE_COLUMNS)].copy()
    out["elevator_id"] = out["elevator_id"].astype(str).str.strip()
    out["date"] = _dates(out, what) if len(out) else pd.to_datetime(out["date"])
    return out.drop_duplicates().reset_index(drop=True)


def read_telemetry(path: str | Path) -> pd.DataFrame:
    """Read and validate a telemetry CSV."""
    return validate_telemetry(_read(path, "telemetry"), f"telemetry {Path(path).name}")


def read_failures(path: str | Path) -> pd.DataFrame:
    """Read and validate a failures CSV."""
    return validate_failures(_read(path, "failures"), f"failures {Path(path).name}")


def write_csv(df: pd.DataFrame, path: str | Path) -> None:
    """Write a telemetry or failures table as CSV (dates ISO, floats with 6 decimals)."""
    out = df.copy()
    out["date"] = pd.to_datetime(out["date"]).dt.strftime("%Y-%m-%d")
    out.to_csv(path, index=False, float_format="%.6g")


@dataclass
class Grid:
    """Telemetry on a dense elevator × day grid; missing days are NaN.

    ``values[name]`` is a float array ``(n_elevators, n_days)``; ``start`` the date of
    column 0; ``ids`` the elevator ids of the rows (sorted).
    """

    ids: list[str]
    start: dt.date
    values: dict[str, np.ndarray]

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_elevators, n_days)``."""
        return self.values["trips"].shape

    def day_index(self, date: dt.date) -> int:
        """Column of ``date`` (may be outside the grid)."""
        return (date - self.start).days


def to_grid(df: pd.DataFrame) -> Grid:
    """Put a validated telemetry table on a dense elevator × day grid."""
    ids = sorted(df["elevator_id"].unique().tolist())
    start = df["date"].min().date()
    n_days = (df["date"].max().date() - start).days + 1
    row = pd.Categorical(df["elevator_id"], categories=ids).codes
    col = ((df["date"] - pd.Timestamp(start)).dt.days).to_numpy()
    values = {}
    for name in COUNT_COLUMNS + MEASURE_COLUMNS:
        arr = np.full((len(ids), n_days), np.nan)
        arr[row, col] = df[name].to_numpy(dtype=float)
        values[name] = arr
    return Grid(ids, start, values)
