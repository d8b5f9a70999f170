"""Billing: units from the twin, fee rules, monthly bill run, payments, late fees, reports."""

from services.billing.money import allocate_by_weight, fen, parse_money, tiered_charge
from services.billing.payments import account, create_intent, handle_callback, record_payment, sign
from services.billing.readings import import_readings_csv
from services.billing.reports import arrears, collection_rate, late_fee, reconciliation, run_dunning
from services.billing.rules import FeeRules, load_rules
from services.billing.run import run_bills
from services.billing.units import sync_units, unit_records

__all__ = [
    "FeeRules", "account", "allocate_by_weight", "arrears", "collection_rate", "create_intent", "fen",
    "handle_callback", "import_readings_csv", "late_fee", "load_rules", "parse_money", "reconciliation",
    "record_payment", "run_bills", "run_dunning", "sign", "sync_units", "tiered_charge", "unit_records",
]
