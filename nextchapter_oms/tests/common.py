"""Shared fixtures for the nextchapter_oms tests.

One company with a generic chart of accounts (Odoo's AccountTestInvoicingCommon), two
warehouses with stock, two customers, storable products without taxes (amounts stay
readable), Odoo's ``payment_demo`` provider, and helpers that drive real flows: order
confirmation, invoice payment, online payment, shipping.
"""

from odoo import Command
from odoo.tests import Form, new_test_user

from odoo.addons.account.tests.common import AccountTestInvoicingCommon


class OmsCommon(AccountTestInvoicingCommon):
    @classmethod
    def default_env_context(cls):
        # keep chatter tracking and mail: several rules are about what gets posted
        return {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.user.groups_id += cls.env.ref("nextchapter_oms.group_oms_manager")
        cls.env.user.groups_id += cls.env.ref("stock.group_stock_manager")
        cls.company = cls.env.company
        cls.company.write({"email": "shop@example.com", "name": "NextChapter Shop"})
        cls.warehouse = cls.env["stock.warehouse"].search(
            [("company_id", "=", cls.company.id)], limit=1
        )
        cls.warehouse.sequence = 10
        cls.warehouse_2 = cls.env["stock.warehouse"].create(
            {"name": "Second Warehouse", "code": "WH2", "sequence": 20}
        )
        cls.stock_location = cls.warehouse.lot_stock_id
        cls.stock_location_2 = cls.warehouse_2.lot_stock_id
        cls.customer = cls.env["res.partner"].create(
            {
                "name": "Anna de Vries",
                "email": "anna@example.com",
                "street": "Prinsengracht 1",
                "city": "Amsterdam",
            }
        )
        cls.customer_2 = cls.env["res.partner"].create(
            {"name": "Joost Jansen", "email": "joost@example.com"}
        )
        cls.product_1 = cls._oms_create_product("Organic T-shirt", 100.0)
        cls.product_2 = cls._oms_create_product("Hoodie", 50.0)
        cls.product_3 = cls._oms_create_product("Mug", 10.0)
        for product in cls.product_1 | cls.product_2 | cls.product_3:
            cls._oms_set_stock(product, cls.stock_location, 100)
        cls.bank_journal = cls.company_data["default_journal_bank"]
        cls.demo_provider = cls._oms_prepare_demo_provider()

    # ------------------------------------------------------------------
    # fixtures
    # ------------------------------------------------------------------

    @classmethod
    def _oms_create_product(cls, name, price):
        return cls.env["product.product"].create(
            {
                "name": name,
                "type": "consu",
                "is_storable": True,
                "list_price": price,
                "taxes_id": [Command.clear()],
                "invoice_policy": "order",
            }
        )

    @classmethod
    def _oms_set_stock(cls, product, location, quantity):
        cls.env["stock.quant"]._update_available_quantity(product, location, quantity)

    @classmethod
    def _oms_prepare_demo_provider(cls):
        provider = cls.env.ref("payment.payment_provider_demo").sudo()
        if provider.company_id != cls.company:
            provider = provider.copy({"company_id": cls.company.id})
        provider.write({"state": "test", "journal_id": cls.bank_journal.id})
        return provider

    @classmethod
    def _oms_new_user(cls, login, groups):
        return new_test_user(
            cls.env,
            login=login,
            groups=groups,
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
            email=f"{login}@example.com",
        )

    # ------------------------------------------------------------------
    # flows
    # ------------------------------------------------------------------

    def _oms_create_order(self, lines=None, partner=None, confirm=True, **values):
        """Create (and confirm) an order; ``lines`` is a list of (product, quantity)."""
        lines = lines or [(self.product_1, 2), (self.product_2, 1)]
        order = self.env["sale.order"].create(
            {
                "partner_id": (partner or self.customer).id,
                "warehouse_id": self.warehouse.id,
                "order_line": [
                    Command.create({"product_id": product.id, "product_uom_qty": qty})
                    for product, qty in lines
                ],
                **values,
            }
        )
        if confirm:
            order.action_confirm()
        return order

    def _oms_invoice(self, order):
        """Create and post the order's invoice."""
        invoice = order._create_invoices()
        invoice.action_post()
        return invoice

    def _oms_register_payment(self, invoice, amount=None):
        """Register a payment on an invoice through Odoo's payment wizard."""
        values = {"journal_id": self.bank_journal.id}
        if amount is not None:
            values["amount"] = amount
        wizard = (
            self.env["account.payment.register"]
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create(values)
        )
        return wizard._create_payments()

    def _oms_pay_online(self, order, amount=None, state="done"):
        """Pay the order online with Odoo's payment_demo provider."""
        tx = self.env["payment.transaction"].create(
            {
                "provider_id": self.demo_provider.id,
                "payment_method_id": self.env.ref("payment_demo.payment_method_demo").id,
                "amount": order.amount_total if amount is None else amount,
                "currency_id": order.currency_id.id,
                "partner_id": order.partner_id.id,
                "reference": self.env["payment.transaction"]._compute_reference(
                    "demo", prefix=order.name
                ),
                "operation": "online_direct",
                "sale_order_ids": [Command.set(order.ids)],
            }
        )
        if state == "done":
            tx._set_done()
        elif state == "authorized":
            tx._set_authorized()
        return tx

    def _oms_ship(self, picking, quantities=None, backorder=True):
        """Validate ``picking`` as a warehouse user would; ``quantities`` maps products
        to the quantity shipped (default: everything reserved). A partial shipment
        leaves a backorder unless ``backorder`` is False."""
        picking.action_assign()
        for move in picking.move_ids:
            if quantities is not None:
                move.quantity = quantities.get(move.product_id, 0.0)
            move.picked = True
        result = picking.button_validate()
        if isinstance(result, dict) and result.get("res_model") == "stock.backorder.confirmation":
            wizard = Form(
                self.env["stock.backorder.confirmation"].with_context(**result["context"])
            ).save()
            if backorder:
                wizard.process()
            else:
                wizard.process_cancel_backorder()
        return picking
