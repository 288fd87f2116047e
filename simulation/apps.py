from django.apps import AppConfig


class SimulationConfig(AppConfig):
    """Installed only for its management commands (`demo`, `loop`): it has no models."""

    name = "simulation"
    verbose_name = "Simulation"
