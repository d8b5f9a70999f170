"""The 7-day failure-risk model: gradient boosting on rolling features, isotonic calibration.

Why gradient boosting rather than a survival model (docs/elevators.md has the long form):
the question asked is one fixed horizon ("fails within 7 days?") from time-varying
covariates whose effect is strongly non-linear and interacting (a reopen spike matters only
relative to the elevator's own baseline, and less right after a maintenance visit). A Cox
or Weibull AFT model with time-varying covariates is linear in the log-hazard and assumes
proportional hazards; a tree ensemble learns the interactions and is calibrated afterwards
with isotonic regression on elevators it was not fitted on.

Training and calibration split **by elevator**, never by row: rows of one elevator are
strongly correlated, and a row split would leak its baseline into the test.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.isotonic import IsotonicRegression

from sim.elevators.errors import ModelFileError, TelemetryError
from sim.elevators.features import FEATURES, compute_features, labels_7d
from sim.elevators.telemetry import Grid, to_grid

__all__ = ["RiskModel", "DEFAULT_MODEL_PATH", "SCHEMA", "training_rows", "failure_grid",
           "split_by_elevator", "default_model", "train_default_model"]

log = logging.getLogger(__name__)

SCHEMA = "twin.elevators.risk-model/1"
#: The model shipped with the package (trained by :func:`train_default_model`).
DEFAULT_MODEL_PATH = Path(__file__).with_name("default_model.pkl")
#: Days of history a row needs before it is used for training.
MIN_HISTORY_D = 14
#: Training rows beyond this are thinned (every k-th day per elevator) to bound fit time.
MAX_TRAIN_ROWS = 400_000


def failure_grid(grid: Grid, failures: pd.DataFrame) -> np.ndarray:
    """Return the 0/1 failure grid aligned with ``grid`` (failures off the grid dropped)."""
    fail = np.zeros(grid.shape, dtype=np.int8)
    if len(failures) == 0:
        return fail
    row_of = {eid: i for i, eid in enumerate(grid.ids)}
    rows = failures["elevator_id"].map(row_of)
    cols = (failures["date"] - pd.Timestamp(grid.start)).dt.days
    ok = rows.notna() & (cols >= 0) & (cols < grid.shape[1])
    fail[rows[ok].astype(int).to_numpy(), cols[ok].to_numpy()] = 1
    return fail


def training_rows(grid: Grid, fail: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(X, y, elevator_row)`` of the rows usable for training.

    A row is usable when the elevator reported that day, has ``MIN_HISTORY_D`` days of
    history and its 7-day label window lies inside the telemetry period.
    """
    feats = compute_features(grid)
    y = labels_7d(fail)
    n, days = grid.shape
    t = np.arange(days)[None, :]
    ok = (np.isfinite(grid.values["trips"]) & (t >= MIN_HISTORY_D) & (t < days - 7))
    e_idx, d_idx = np.nonzero(ok)
    return feats[e_idx, d_idx], y[e_idx, d_idx].astype(np.int8), e_idx


def split_by_elevator(n: int, frac: float, seed: int) -> np.ndarray:
    """Return a boolean mask over ``n`` elevators choosing ``frac`` of them (seeded)."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(n, dtype=bool)
    mask[rng.permutation(n)[: max(1, int(round(frac * n)))]] = True
    return mask


@dataclass
class RiskModel:
    """A fitted 7-day failure-risk model.

    Lifecycle: :meth:`fit` (or :meth:`load`) → :meth:`predict_proba` / :meth:`predict`
    → :meth:`save`. ``meta`` records the training data summary.
    """

    gbm: HistGradientBoostingClassifier
    iso: IsotonicRegression
    features: tuple[str, ...] = FEATURES
    meta: dict = field(default_factory=dict)

    # -- fitting ----------------------------------------------------------------------
    @classmethod
    def fit(cls, telemetry: pd.DataFrame, failures: pd.DataFrame, *, seed: int = 0,
            calib_frac: float = 0.25) -> "RiskModel":
        """Fit on a validated telemetry table and its failures.

        Raises
        ------
        TelemetryError
            Too few usable rows or no failure in the usable rows.
        """
        grid = to_grid(telemetry)
        X, y, rows = training_rows(grid, failure_grid(grid, failures))
        if len(y) < 200 or y.sum() < 5:
            raise TelemetryError(
                f"training needs >= 200 usable rows and >= 5 positive rows; got {len(y)} rows, "
                f"{int(y.sum())} positive (each elevator needs {MIN_HISTORY_D + 8}+ days)")
        if len(y) > MAX_TRAIN_ROWS:
            keep = (np.arange(len(y)) % int(np.ceil(len(y) / MAX_TRAIN_ROWS))) == 0
            X, y, rows = X[keep], y[keep], rows[keep]
        calib = split_by_elevator(grid.shape[0], calib_frac, seed)[rows]
        if grid.shape[0] < 4 or y[calib].sum() < 2 or y[~calib].sum() < 3:
            calib = np.zeros_like(calib)
        gbm = _new_gbm(seed).fit(X[~calib], y[~calib])
        raw_cal = gbm.predict_proba(X[calib] if calib.any() else X)[:, 1]
        y_cal = y[calib] if calib.any() else y
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw_cal, y_cal)
        meta = {"rows": int(len(y)), "positives": int(y.sum()), "elevators": grid.shape[0],
                "start": str(grid.start), "days": grid.shape[1],
                "calibration_rows": int(calib.sum())}
        return cls(gbm, iso, FEATURES, meta)

    # -- scoring ----------------------------------------------------------------------
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Calibrated P(failure within 7 days) for feature rows ``X``."""
        if len(X) == 0:
            return np.zeros(0)
        return self.iso.predict(self.gbm.predict_proba(X)[:, 1])

    def predict(self, telemetry: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
        """Score every elevator of a validated telemetry table as of a date.

        Uses telemetry up to and including ``as_of``. Returns columns ``elevator_id``,
        ``p_fail_7d`` (sorted by elevator id).

        Raises
        ------
        TelemetryError
            ``as_of`` before the first or after the last telemetry date.
        """
        grid = to_grid(telemetry)
        t = grid.day_index(as_of)
        last = grid.start + dt.timedelta(days=grid.shape[1] - 1)
        if t < 0 or t >= grid.shape[1]:
            raise TelemetryError(f"as_of={as_of} is outside the telemetry period "
                                 f"{grid.start}..{last}")
        X = compute_features(grid)[:, t, :]
        reported = np.isfinite(grid.values["trips"][:, : t + 1]).any(axis=1)
        ids = [eid for eid, ok in zip(grid.ids, reported) if ok]
        p = self.predict_proba(X[reported])
        return pd.DataFrame({"elevator_id": ids, "p_fail_7d": p})

    # -- files ------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the model (pickle with a schema tag)."""
        payload = {"schema": SCHEMA, "features": list(self.features), "gbm": self.gbm,
                   "iso": self.iso, "meta": self.meta}
        Path(path).write_bytes(pickle.dumps(payload, protocol=4))

    @classmethod
    def load(cls, path: str | Path) -> "RiskModel":
        """Read a model written by :meth:`save`.

        Only load model files you trust: the format is a Python pickle.

        Raises
        ------
        ModelFileError
            Not a model file of this package, or one for other features.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"model file {str(path)!r} does not exist")
        try:
            payload = pickle.load(io.BytesIO(path.read_bytes()))
        except Exception as exc:
            raise ModelFileError(f"model file {str(path)!r} cannot be read: {exc}") from None
        if not isinstance(payload, dict) or payload.get("schema") != SCHEMA:
            raise ModelFileError(f"model file {str(path)!r} is not a {SCHEMA} file")
        if tuple(payload["features"]) != FEATURES:
            raise ModelFileError(f"model file {str(path)!r} was trained on other features")
        return cls(payload["gbm"], payload["iso"], FEATURES, payload.get("meta", {}))


def _new_gbm(seed: int) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(
        max_iter=150, learning_rate=0.06, max_leaf_nodes=15, min_samples_leaf=200,
        l2_regularization=1.0, early_stopping=False, random_state=seed)


#: Fleet used to train the shipped default model (parameters vary per elevator inside
#: the simulator; several fleets with other process parameters widen the training domain).
DEFAULT_TRAINING = {"fleet": 400, "days": 730, "seed": 20240601}


def train_default_model() -> RiskModel:
    """Train the default model from simulated fleets (deterministic, about a minute)."""
    from sim.elevators.training_domain import domain_fleets

    tel, fails = domain_fleets(**DEFAULT_TRAINING)
    model = RiskModel.fit(tel, fails, seed=DEFAULT_TRAINING["seed"])
    model.meta["trained_on"] = f"simulated fleets {DEFAULT_TRAINING}"
    return model


_DEFAULT: RiskModel | None = None


def default_model() -> RiskModel:
    """Return the shipped default model (trained afresh if the file cannot be loaded)."""
    global _DEFAULT
    if _DEFAULT is None:
        try:
            _DEFAULT = RiskModel.load(DEFAULT_MODEL_PATH)
        except (ModelFileError, FileNotFoundError) as exc:
            log.warning("default model unavailable (%s); training one from the simulator", exc)
            _DEFAULT = train_default_model()
    return _DEFAULT
