from . import test_oms_state
