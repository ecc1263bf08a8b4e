from . import test_oms_state
from . import test_order_form
from . import test_access
from . import test_i18n
from . import test_ui_tour
from . import test_fulfilment_shipment
