{
    "name": "NextChapter Order Management",
    "summary": "Order management for web shops: orders by status, fulfilment, "
    "credit notes and refunds, returns",
    "version": "18.0.1.0.0",
    "category": "Sales/Sales",
    "website": "https://github.com/nextchapter/nextchapter_oms",
    "author": "NextChapter",
    "license": "LGPL-3",
    "application": True,
    "installable": True,
    "depends": [
        "sale_stock",
        "stock_delivery",
    ],
    "data": [
        "security/nextchapter_oms_security.xml",
        "security/ir.model.access.csv",
        "data/ir_sequence_data.xml",
        "data/mail_template_data.xml",
        "data/ir_cron_data.xml",
        "wizard/oms_line_cancel_views.xml",
        "wizard/oms_credit_note_create_views.xml",
        "views/oms_refund_views.xml",
        "views/oms_return_reason_views.xml",
        "views/oms_return_notice_views.xml",
        "views/oms_return_views.xml",
        "views/portal_templates.xml",
        "views/sale_order_views.xml",
        "views/stock_picking_views.xml",
        "views/res_config_settings_views.xml",
        "views/oms_integration_log_views.xml",
        "views/nextchapter_oms_menus.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "nextchapter_oms/static/tests/tours/*.js",
        ],
    },
    "demo": [
        "demo/nextchapter_oms_demo.xml",
        "demo/oms_return_demo.xml",
    ],
}
