"""Crowd-driven cleaning: foot traffic, soiling, SimPy crews and policies, plans.

See docs/cleaning.md.
"""

from sim.cleaning.areas import CleaningArea, SiteLayout, build_layout
from sim.cleaning.compare import Scenario, compare_policies, crew_from_staff, prepare_scenario
from sim.cleaning.crews import POLICIES, Cleaner, CrewParams, fifo_worker, run_policy, run_timetable
from sim.cleaning.errors import (CleaningError, CleaningParameterError, SiteLayoutError,
                                 TrafficError)
from sim.cleaning.live import LiveAdjustment, Move, adjust_plan
from sim.cleaning.plan import plan_day, plan_work_orders
from sim.cleaning.soiling import SoilParams, mat_removal, minutes_over_threshold
from sim.cleaning.timetable import FairTimetable, fair_timetable, timetable_rounds
from sim.cleaning.traffic import FlowParams, build_routes, read_traffic_csv, simulate_traffic

__all__ = [
    "Cleaner", "CleaningArea", "CleaningError", "CleaningParameterError", "CrewParams",
    "FairTimetable", "FlowParams", "LiveAdjustment", "Move", "POLICIES", "Scenario", "SiteLayout", "SiteLayoutError",
    "SoilParams", "TrafficError", "adjust_plan", "build_layout", "build_routes", "compare_policies",
    "crew_from_staff", "fair_timetable", "fifo_worker", "mat_removal", "minutes_over_threshold",
    "plan_day", "plan_work_orders", "prepare_scenario", "read_traffic_csv", "run_policy",
    "run_timetable", "simulate_traffic", "timetable_rounds",
]
