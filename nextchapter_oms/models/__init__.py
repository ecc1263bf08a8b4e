from . import sale_order
from . import sale_order_line
from . import stock_picking
from . import res_company
from . import res_config_settings
