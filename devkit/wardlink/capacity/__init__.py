"""Capacity and cost of a Wardlink fleet: ``estimate(Workload(devices=..., rate=...))``.

A planning tool for architects and operators (``wardlink cloud capacity``,
docs/capacity.md); nothing at run time imports it. ``prices`` holds the limits and
list prices with their sources, ``model`` the arithmetic.
"""

from wardlink.capacity.model import SECONDS_PER_MONTH, Estimate, Line, Workload, estimate
from wardlink.capacity.prices import LIMITS, PRICES, READ_ON, Fact, facts_markdown

__all__ = [
    "LIMITS",
    "PRICES",
    "READ_ON",
    "SECONDS_PER_MONTH",
    "Estimate",
    "Fact",
    "Line",
    "Workload",
    "estimate",
    "facts_markdown",
]
