"""Device simulators: every codec has a simulated device that speaks it.

``registry`` names them (``wardlink sim NAME``), ``base`` holds the shared
machinery (ptys, pacing, fault injection), ``patients`` makes the simulated
patients whose identifying data serve as PHI canaries in leak tests.
"""

from wardlink.sim.registry import (
    RunnableSimulator,
    SimOptions,
    all_simulators,
    create_simulator,
    get_simulator,
    register_simulator,
)

__all__ = [
    "RunnableSimulator",
    "SimOptions",
    "all_simulators",
    "create_simulator",
    "get_simulator",
    "register_simulator",
]
