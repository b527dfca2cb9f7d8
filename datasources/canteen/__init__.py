"""Smart canteen (智慧餐厅): settlements by card, face or smart tray, online orders, window queues,
sunshine-kitchen camera status (the heartbeat) and food-sample logs."""

from datasources.base import SystemSpec
from datasources.canteen.connectors import FORMAT
from datasources.canteen.schemas import EVENTS
from datasources.canteen.simulator import EXPECTED_INTERVAL_S, make_simulator

SPEC = SystemSpec(
    name="canteen", title_zh="智慧餐厅", title_en="Smart canteen", events=EVENTS,
    expected_interval_s=EXPECTED_INTERVAL_S, make_simulator=make_simulator, connectors=FORMAT.connectors(),
)
