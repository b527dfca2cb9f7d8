"""Smart passage (智慧通行 / 一号通): person and vehicle gate passes, visitor passes through
application and approval, and gate status (the heartbeat)."""

from datasources.base import SystemSpec
from datasources.passage.connectors import FORMAT
from datasources.passage.schemas import EVENTS
from datasources.passage.simulator import EXPECTED_INTERVAL_S, make_simulator

SPEC = SystemSpec(
    name="passage", title_zh="智慧通行", title_en="Passage", events=EVENTS,
    expected_interval_s=EXPECTED_INTERVAL_S, make_simulator=make_simulator, connectors=FORMAT.connectors(),
)
