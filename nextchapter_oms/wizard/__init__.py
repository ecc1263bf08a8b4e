from . import oms_line_cancel
