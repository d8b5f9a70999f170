"""Evacuation engine: a collision-free speed model in numba on per-floor distance fields,
with stairs linking floors, groups and demographics, drills and ensembles.

Typical use::

    from sim.evacuation import load_scenario, simulate
    result = simulate(load_scenario("scenario.json"))
"""

from sim.evacuation.errors import DrillError, EvacuationError, ScenarioError
from sim.evacuation.scenario import (
    ModelParams, Scenario, load_scenario, parse_scenario, scenario_schema,
)
from sim.evacuation.engine import prepare, simulate

__all__ = [
    "DrillError", "EvacuationError", "ModelParams", "Scenario", "ScenarioError",
    "load_scenario", "parse_scenario", "prepare", "scenario_schema", "simulate",
]
