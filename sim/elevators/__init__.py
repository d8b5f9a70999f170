"""Elevator-failure prediction: fleet simulator, telemetry contract, 7-day risk model."""
