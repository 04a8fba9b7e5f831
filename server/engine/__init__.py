"""Scheduling, retries, leases, cancellation and the completion log."""
