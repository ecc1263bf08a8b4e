from . import oms_line_cancel
from . import oms_credit_note_create
