import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("nextchapter_oms_order_tour", {
    steps: () => [
        {
            content: "The Orders list shows the OMS status badge",
            trigger: ".o_list_view .o_data_row td[name='oms_state']:contains('Awaiting payment')",
        },
        {
            content: "Open the tour's order",
            trigger: ".o_data_row td[name='partner_id']:contains('Tour Customer')",
            run: "click",
        },
        {
            content: "General tab",
            trigger: ".o_notebook a.nav-link:contains('General')",
            run: "click",
        },
        {
            content: "Status, remarks and the order processed state are shown",
            trigger: ".o_field_widget[name='oms_customer_note'] textarea",
        },
        {
            content: "Items tab",
            trigger: ".o_notebook a.nav-link:contains('Items')",
            run: "click",
        },
        {
            content: "Items list with ordered and not shipped quantities",
            trigger: ".o_field_widget[name='oms_item_line_ids'] .o_data_row td[name='oms_qty_to_ship']:contains('3')",
        },
        {
            content: "Cancel items opens the wizard",
            trigger: ".o_statusbar_buttons button[name='action_oms_cancel_items']",
            run: "click",
        },
        {
            content: "Wizard lists the cancellable line",
            trigger: ".modal .o_field_widget[name='line_ids'] .o_data_row",
        },
        {
            content: "Close the wizard",
            trigger: ".modal .modal-footer button.btn-secondary",
            run: "click",
        },
        {
            content: "Memo tab",
            trigger: ".o_notebook a.nav-link:contains('Memo')",
            run: "click",
        },
        {
            content: "Memo editor",
            trigger: ".o_field_widget[name='oms_memo']",
        },
        {
            content: "E-mails tab",
            trigger: ".o_notebook a.nav-link:contains('E-mails')",
            run: "click",
        },
        {
            content: "Send an e-mail",
            trigger: ".o_notebook .tab-pane.active button[name='action_oms_send_email']",
            run: "click",
        },
        {
            content: "The composer opens addressed to the customer",
            trigger: ".modal .o_field_widget[name='partner_ids'] .o_tag:contains('Tour Customer')",
        },
    ],
});
