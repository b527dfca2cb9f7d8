"""KPI extractors, one module per access-layer system; importing this package registers them all."""

from analytics.metrics import (  # noqa: F401
    ba,
    canteen,
    energy,
    kindergarten,
    onecard,
    passage,
    property,
    rooms,
    security,
    vehicles,
)
