"""Smart energy (智慧节能): 15-minute readings of electricity, water, gas and solar meters."""

from datasources.base import SystemSpec
from datasources.energy.connectors import FORMAT
from datasources.energy.schemas import EVENTS
from datasources.energy.simulator import EXPECTED_INTERVAL_S, make_simulator

SPEC = SystemSpec(
    name="energy", title_zh="智慧节能", title_en="Energy", events=EVENTS,
    expected_interval_s=EXPECTED_INTERVAL_S, make_simulator=make_simulator, connectors=FORMAT.connectors(),
)
