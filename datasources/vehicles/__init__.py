"""Official vehicles (公务用车): GPS positions (the heartbeat), trips with purpose and approval,
refuelling, garage work and a daily compliance record per vehicle."""

from datasources.base import SystemSpec
from datasources.vehicles.connectors import FORMAT
from datasources.vehicles.schemas import EVENTS
from datasources.vehicles.simulator import EXPECTED_INTERVAL_S, make_simulator

SPEC = SystemSpec(
    name="vehicles", title_zh="公务用车", title_en="Official vehicles", events=EVENTS,
    expected_interval_s=EXPECTED_INTERVAL_S, make_simulator=make_simulator, connectors=FORMAT.connectors(),
)
