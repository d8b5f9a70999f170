"""Drill store and dask ensembles (a real LocalCluster)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sim.evacuation import DrillError, parse_scenario, simulate
from sim.evacuation.drills import DrillStore, compare_results, variant_scenario
from tests.conftest import run_cli
from tests.evacuation.common import exit_, floor, rect, scenario


def _two_exit():
    walk = rect(0, 0, 16, 6)
    return scenario([floor("F", walk)], [exit_("W", "F", rect(0, 2, 0.5, 4)), exit_("O", "F", rect(15.5, 2, 16, 4))],
                    groups=[{"floor": "F", "area": rect(2, 0, 12, 6), "count": 20,
                             "speed_mps": {"normal": [1.34, 0.26, 0.8, 1.8]}}])


def test_store_runs_and_compare(tmp_path):
    st = DrillStore(tmp_path)
    st.create("演练-1", _two_exit(), description="night")
    with pytest.raises(DrillError, match="already exists"):
        st.create("演练-1", _two_exit())
    with pytest.raises(DrillError, match="drill name"):
        st.create("../x", _two_exit())
    a = st.run("演练-1")
    b = st.run("演练-1", blocked=["W"])
    assert st.names() == ["演练-1"] and len(st.runs("演练-1")) == 2
    cmp = compare_results({"open": a["result"], "west blocked": b["result"]})
    rows = cmp["runs"]
    assert rows["open"]["exits"]["W"] > 0 and rows["west blocked"]["exits"] == {"W": 0, "O": 20}
    assert rows["west blocked"]["delta_s_vs_first"] == pytest.approx(
        b["result"]["evacuation_time_s"] - a["result"]["evacuation_time_s"])
    assert rows["west blocked"]["evacuation_time_s"] > rows["open"]["evacuation_time_s"]


@pytest.mark.slow
def test_ensemble_on_a_local_cluster_matches_direct_runs(tmp_path):
    p = tmp_path / "s.json"
    p.write_text(json.dumps(_two_exit()))
    r = run_cli("drill", "ensemble", str(p), "--seeds", "3", "--variant", "west=W", "--workers", "1")
    assert r.returncode == 0, r.stderr
    assert "ensemble 6/6 done" in r.stderr
    out = json.loads(r.stdout)["variants"]
    for name, blocked in (("base", []), ("west", ["W"])):
        times = [simulate(parse_scenario(variant_scenario(_two_exit(), seed=s, blocked=blocked)))["evacuation_time_s"]
                 for s in (1, 2, 3)]
        assert out[name]["runs"] == times
        assert out[name]["mean_s"] == pytest.approx(np.mean(times), abs=1e-4)
        assert out[name]["p95_s"] == pytest.approx(np.percentile(times, 95), abs=1e-4)


def test_convergence_measures_by_hand():
    from sim.evacuation.drills import convergence

    # two runs: mean curves [10, 0] then [10, 1]: ERD = 1 / 10; mean time 1 -> 2: change 1.0
    c = convergence([[10, 0], [10, 2]], [1.0, 3.0])
    assert c["erd"] == [pytest.approx(0.1)] and c["tet_change"] == [pytest.approx(1.0)]
    assert c["converged_at"] is None
    # a shorter curve is held at its last value; identical runs converge as soon as the
    # criterion held for `runs` successive additions
    c = convergence([[5, 3, 0]] + [[5, 3, 0, 0]] * 4, [2.0] * 5, runs=3)
    assert c["erd"] == [0.0] * 4 and c["converged_at"] == 4
    # an incomplete run (no evacuation time) blocks convergence from there on
    c = convergence([[5, 0]] * 5, [2.0, 2.0, None, 2.0, 2.0], runs=1)
    assert c["converged_at"] == 2 and c["tet_change"][1:] == [None] * 3
    assert convergence([], [])["converged_at"] is None


@pytest.mark.parametrize("eps", [0.2, 0.001])
def test_convergence_threshold_is_respected(eps):
    from sim.evacuation.drills import convergence

    rng = np.random.default_rng(3)
    curves = [list(100 - np.arange(50) * (2 + eps * rng.standard_normal())) for _ in range(20)]
    curves = [[max(v, 0.0) for v in c] for c in curves]
    times = [float(50 + eps * 10 * rng.standard_normal()) for _ in range(20)]
    c = convergence(curves, times, threshold=0.01, runs=3)
    k = c["converged_at"]
    if eps < 0.01:
        assert k == 4
    else:
        assert k is None or all(e < 0.01 for e in c["erd"][k - 4:k - 1])
