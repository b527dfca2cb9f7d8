"""One-card platform (一卡通): recharges, merchant payments, door swipes, card loss and replacement,
and terminal status (the heartbeat)."""

from datasources.base import SystemSpec
from datasources.onecard.connectors import FORMAT
from datasources.onecard.schemas import EVENTS
from datasources.onecard.simulator import EXPECTED_INTERVAL_S, make_simulator

SPEC = SystemSpec(
    name="onecard", title_zh="一卡通", title_en="One-card", events=EVENTS,
    expected_interval_s=EXPECTED_INTERVAL_S, make_simulator=make_simulator, connectors=FORMAT.connectors(),
)
