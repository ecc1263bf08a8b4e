from . import sale_order
from . import account_move
from . import oms_refund
from . import sale_order_line
from . import stock_picking
from . import res_company
from . import res_config_settings
