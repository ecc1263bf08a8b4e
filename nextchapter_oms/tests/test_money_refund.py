from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, tagged

from odoo.addons.payment_demo.models.payment_transaction import (
    PaymentTransaction as DemoTransaction,
)

from .test_money_ceiling import MoneyCommon


@tagged("post_install", "-at_install")
class TestMoneyRefund(MoneyCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.oms_user = cls._oms_new_user(
            "oms_money_user", "nextchapter_oms.group_oms_user,account.group_account_invoice"
        )
        cls.oms_manager = cls._oms_new_user(
            "oms_money_manager",
            "nextchapter_oms.group_oms_manager,account.group_account_invoice",
        )
        cls.oms_manager_2 = cls._oms_new_user(
            "oms_money_manager_2",
            "nextchapter_oms.group_oms_manager,account.group_account_invoice",
        )
        cls.execute_cron = cls.env.ref("nextchapter_oms.ir_cron_oms_refund_execute")
        cls.batch_cron = cls.env.ref("nextchapter_oms.ir_cron_oms_refund_batch")

    def _set_mode(self, mode, four_eyes=False):
        self.company.write({"oms_refund_mode": mode, "oms_refund_four_eyes": four_eyes})

    def _refund_of(self, credit_note):
        refund = self.env["oms.refund"].search([("credit_note_id", "=", credit_note.id)])
        self.assertEqual(len(refund), 1, "exactly one refund per credit note")
        return refund

    def _execute_triggers(self):
        return self.env["ir.cron.trigger"].search([("cron_id", "=", self.execute_cron.id)])

    def _assert_refunded_online(self, refund, tx):
        """The refund went back through the original payment: a done refund transaction
        whose outbound payment is reconciled with the credit note."""
        self.assertEqual(refund.state, "done")
        self.assertEqual(refund.transaction_id, tx)
        refund_tx = refund.refund_transaction_id
        self.assertEqual(refund_tx.operation, "refund")
        self.assertEqual(refund_tx.source_transaction_id, tx)
        self.assertEqual(refund_tx.state, "done")
        self.assertEqual(refund_tx.amount, -refund.amount)
        self.assertTrue(refund.provider_reference)
        payment = refund_tx.payment_id
        self.assertTrue(payment)
        self.assertEqual(refund.payment_id, payment)
        self.assertEqual(payment.payment_type, "outbound")
        self.assertEqual(payment.amount, refund.amount)
        credit_note = refund.credit_note_id
        self.assertIn(credit_note.payment_state, ("paid", "in_payment"))
        self.assertTrue(
            credit_note.line_ids.filtered(
                lambda line: line.account_type == "asset_receivable"
            ).reconciled
        )
        self.assertIn(
            payment.move_id,
            credit_note._get_reconciled_payments().move_id
            | credit_note.line_ids.matched_debit_ids.debit_move_id.move_id,
        )
        self.assertIn(
            f"{refund.name}",
            " ".join(refund.order_id.message_ids.mapped("body")),
        )
        self.assertTrue(
            refund.message_ids.filtered(
                lambda m: (
                    refund.order_id.partner_id in m.partner_ids and "refunded" in (m.body or "")
                )
            ),
            "the customer got the refund e-mail",
        )

    # ------------------------------------------------------------------
    # the three modes
    # ------------------------------------------------------------------

    def test_automatic_mode_end_to_end(self):
        self._set_mode("automatic")
        order, _invoice, tx = self._money_paid_order()
        triggers_before = self._execute_triggers()
        credit_note = self._money_credit(order, 80.0)
        refund = self._refund_of(credit_note)
        self.assertEqual(refund.mode, "automatic")
        self.assertEqual(refund.state, "queued", "never executed inside the posting transaction")
        self.assertFalse(refund.refund_transaction_id)
        self.assertGreater(
            len(self._execute_triggers()), len(triggers_before), "execute cron triggered"
        )
        self.env["oms.refund"]._cron_execute_refunds()
        self._assert_refunded_online(refund, tx)
        self.assertEqual(order.oms_amount_paid, 250.0, "a refund is not a payment")
        self.assertEqual(order.oms_creditable_amount, 170.0)

    def test_batch_mode_hold_and_cancel_before_the_cron(self):
        self._set_mode("batch")
        order, _invoice, tx = self._money_paid_order()
        note_1 = self._money_credit(order, 10.0)
        note_2 = self._money_credit(order, 20.0)
        note_3 = self._money_credit(order, 30.0)
        refund_1, refund_2, refund_3 = (self._refund_of(n) for n in (note_1, note_2, note_3))
        self.assertEqual((refund_1 | refund_2 | refund_3).mapped("state"), ["queued"] * 3)

        refund_2.with_user(self.oms_manager).action_hold()
        self.assertEqual(refund_2.state, "to_approve")
        refund_3.with_user(self.oms_manager).action_cancel()
        self.assertEqual(refund_3.state, "cancelled")
        with self.assertRaises(UserError) as error:
            refund_3.with_user(self.oms_manager).action_hold()
        self.assertIn("Only queued batch refunds can be held", str(error.exception))

        # the execute cron leaves batch refunds to the batch
        self.env["oms.refund"]._cron_execute_refunds()
        self.assertEqual(refund_1.state, "queued")

        self.env["oms.refund"]._cron_process_refunds()
        self._assert_refunded_online(refund_1, tx)
        self.assertEqual(refund_2.state, "to_approve")
        self.assertEqual(refund_3.state, "cancelled")
        self.assertFalse(refund_3.refund_transaction_id)

        # approving a held batch refund puts it back in the batch
        refund_2.with_user(self.oms_manager).action_approve()
        self.assertEqual(refund_2.state, "queued")
        self.assertEqual(refund_2.approved_by_id, self.oms_manager)
        self.env["oms.refund"]._cron_execute_refunds()
        self.assertEqual(refund_2.state, "queued")
        self.env["oms.refund"]._cron_process_refunds()
        self._assert_refunded_online(refund_2, tx)
        with self.assertRaises(UserError) as error:
            refund_1.with_user(self.oms_manager).action_cancel()
        self.assertIn("can no longer be cancelled", str(error.exception))

    def test_manual_mode_approval(self):
        self._set_mode("manual")
        order, _invoice, tx = self._money_paid_order()
        credit_note = self._money_credit(order.with_user(self.oms_user), 25.0)
        self.assertEqual(credit_note.create_uid, self.oms_user)
        refund = self._refund_of(credit_note)
        self.assertEqual(refund.state, "to_approve")
        self.assertEqual(refund.mode, "manual")
        # nothing happens until a manager approves
        self.env["oms.refund"]._cron_execute_refunds()
        self.env["oms.refund"]._cron_process_refunds()
        self.assertEqual(refund.state, "to_approve")

        with self.assertRaises(AccessError) as error:
            refund.with_user(self.oms_user).action_approve()
        self.assertIn("Only Order Management managers", str(error.exception))
        self.assertEqual(refund.state, "to_approve")

        triggers_before = self._execute_triggers()
        refund.with_user(self.oms_manager).action_approve()
        self.assertEqual(refund.state, "queued", "executed after the approval commits")
        self.assertEqual(refund.approved_by_id, self.oms_manager)
        self.assertTrue(refund.approved_date)
        self.assertGreater(len(self._execute_triggers()), len(triggers_before))
        self.env["oms.refund"]._cron_execute_refunds()
        self._assert_refunded_online(refund, tx)

    def test_four_eyes_refuses_the_credit_note_author(self):
        self._set_mode("manual", four_eyes=True)
        order, _invoice, tx = self._money_paid_order()
        credit_note = self._money_credit(order.with_user(self.oms_manager), 25.0)
        refund = self._refund_of(credit_note)
        with self.assertRaises(UserError) as error:
            refund.with_user(self.oms_manager).action_approve()
        self.assertIn("Four-eyes approval", str(error.exception))
        self.assertEqual(refund.state, "to_approve")
        refund.with_user(self.oms_manager_2).action_approve()
        self.assertEqual(refund.approved_by_id, self.oms_manager_2)
        self.env["oms.refund"]._cron_execute_refunds()
        self._assert_refunded_online(refund, tx)

    def test_four_eyes_off_lets_the_author_approve(self):
        self._set_mode("manual", four_eyes=False)
        order, _invoice, _tx = self._money_paid_order()
        refund = self._refund_of(self._money_credit(order.with_user(self.oms_manager), 25.0))
        refund.with_user(self.oms_manager).action_approve()
        self.assertEqual(refund.state, "queued")

    def test_list_buttons_approve_many(self):
        self._set_mode("manual")
        refunds = self.env["oms.refund"]
        for _index in range(3):
            order, _invoice, _tx = self._money_paid_order()
            refunds |= self._refund_of(self._money_credit(order, 10.0))
        refunds.with_user(self.oms_manager).action_approve()
        self.assertEqual(refunds.mapped("state"), ["queued"] * 3)
        self.env["oms.refund"]._cron_execute_refunds()
        self.assertEqual(refunds.mapped("state"), ["done"] * 3)

    # ------------------------------------------------------------------
    # failures, retry, payout journal
    # ------------------------------------------------------------------

    def test_provider_failure_fails_one_refund_of_the_batch_then_retry(self):
        self._set_mode("batch")
        refunds = self.env["oms.refund"]
        transactions = self.env["payment.transaction"]
        for _index in range(3):
            order, _invoice, tx = self._money_paid_order()
            refunds |= self._refund_of(self._money_credit(order, 15.0))
            transactions |= tx
        failing_tx = transactions[1]
        send_refund_request = DemoTransaction._send_refund_request

        def flaky_provider(tx_self, **kwargs):
            if tx_self == failing_tx:
                raise ConnectionError("provider timed out")
            return send_refund_request(tx_self, **kwargs)

        with patch.object(
            DemoTransaction, "_send_refund_request", autospec=True, side_effect=flaky_provider
        ):
            self.env["oms.refund"]._cron_process_refunds()
        self.assertEqual(refunds.mapped("state"), ["done", "failed", "done"])
        failed = refunds[1]
        self.assertIn("provider timed out", failed.failure_reason)
        self.assertFalse(failed.refund_transaction_id)
        self.assertFalse(failing_tx.child_transaction_ids, "nothing was sent for it")
        self.assertEqual(failed.credit_note_id.payment_state, "not_paid")

        with self.assertRaises(AccessError):
            failed.with_user(self.oms_user).action_retry()
        failed.with_user(self.oms_manager).action_retry()
        self.assertEqual(failed.state, "queued")
        self.assertFalse(failed.failure_reason)
        self.env["oms.refund"]._cron_process_refunds()
        self._assert_refunded_online(failed, failing_tx)
        with self.assertRaises(UserError) as error:
            failed.with_user(self.oms_manager).action_retry()
        self.assertIn("Only failed refunds can be retried", str(error.exception))

    def test_no_refundable_transaction_pays_out_on_the_journal(self):
        self._set_mode("automatic")
        payout_journal = self.bank_journal
        order, _invoice, _tx = self._money_paid_order(online=False)
        credit_note = self._money_credit(order, 70.0)
        refund = self._refund_of(credit_note)
        self.assertFalse(refund.transaction_id)

        # without a payout journal the refund fails with the reason
        self.env["oms.refund"]._cron_execute_refunds()
        self.assertEqual(refund.state, "failed")
        self.assertIn("no refund payout journal", refund.failure_reason)

        self.company.oms_refund_journal_id = payout_journal
        refund.action_retry()
        self.env["oms.refund"]._cron_execute_refunds()
        self.assertEqual(refund.state, "done")
        payment = refund.payment_id
        self.assertEqual(payment.journal_id, payout_journal)
        self.assertEqual(payment.payment_type, "outbound")
        self.assertEqual(payment.amount, 70.0)
        self.assertFalse(refund.refund_transaction_id)
        self.assertIn(credit_note.payment_state, ("paid", "in_payment"))
        self.assertIn(credit_note, payment.reconciled_invoice_ids)

    def test_transaction_not_refundable_by_provider_uses_the_journal(self):
        self._set_mode("automatic")
        self.company.oms_refund_journal_id = self.bank_journal
        order, _invoice, tx = self._money_paid_order()
        self.env.ref("payment_demo.payment_method_demo").support_refund = "none"
        refund = self._refund_of(self._money_credit(order, 20.0))
        self.assertFalse(refund.transaction_id)
        self.env["oms.refund"]._cron_execute_refunds()
        self.assertEqual(refund.state, "done")
        self.assertTrue(refund.payment_id)
        self.assertFalse(tx.child_transaction_ids)

    # ------------------------------------------------------------------
    # crons, idempotence
    # ------------------------------------------------------------------

    def test_cron_records_run(self):
        self._set_mode("batch")
        order, _invoice, tx = self._money_paid_order()
        batch_refund = self._refund_of(self._money_credit(order, 12.0))
        self.batch_cron.method_direct_trigger()
        self._assert_refunded_online(batch_refund, tx)

        self._set_mode("automatic")
        auto_refund = self._refund_of(self._money_credit(order, 13.0))
        self.execute_cron.method_direct_trigger()
        self._assert_refunded_online(auto_refund, tx)
        self.assertEqual(self.batch_cron.code, "model._cron_process_refunds()")
        self.assertEqual(self.batch_cron.interval_type, "days")

    def test_never_executed_twice(self):
        self._set_mode("manual")
        order, _invoice, tx = self._money_paid_order()
        refund = self._refund_of(self._money_credit(order, 40.0))
        refund.with_user(self.oms_manager).action_approve()
        with self.assertRaises(UserError) as error:
            refund.with_user(self.oms_manager).action_approve()
        self.assertIn("is not waiting for approval", str(error.exception))
        self.env["oms.refund"]._cron_execute_refunds()
        self.env["oms.refund"]._cron_execute_refunds()
        self.env["oms.refund"]._cron_process_refunds()
        self.assertEqual(refund.state, "done")
        self.assertEqual(len(tx.child_transaction_ids), 1, "one refund transaction only")
        self.assertEqual(tx.child_transaction_ids.amount, -40.0)
        # executing a done refund again does nothing
        refund._oms_execute()
        self.assertEqual(len(tx.child_transaction_ids), 1)

    def test_processing_refund_is_settled_never_sent_again(self):
        self._set_mode("automatic")
        order, _invoice, tx = self._money_paid_order()
        refund = self._refund_of(self._money_credit(order, 35.0))
        # a worker claimed it and sent it, then died before recording the outcome
        claimed = refund._oms_claim()
        self.assertEqual(claimed, refund)
        self.assertEqual(refund.state, "processing")
        refund.refund_transaction_id = refund._oms_send_to_provider()
        with patch.object(
            DemoTransaction, "_send_refund_request", autospec=True, side_effect=AssertionError
        ):
            self.env["oms.refund"]._cron_execute_refunds()
        self._assert_refunded_online(refund, tx)
        self.assertEqual(len(tx.child_transaction_ids), 1)

    def test_interrupted_refund_without_outcome_fails(self):
        self._set_mode("automatic")
        order, _invoice, tx = self._money_paid_order()
        refund = self._refund_of(self._money_credit(order, 35.0))
        refund._oms_claim()
        self.env["oms.refund"]._cron_execute_refunds()
        self.assertEqual(refund.state, "processing", "another worker may still be on it")
        refund.processing_date = fields.Datetime.now() - timedelta(hours=1)
        self.env["oms.refund"]._cron_execute_refunds()
        self.assertEqual(refund.state, "failed")
        self.assertIn("interrupted", refund.failure_reason)
        self.assertFalse(tx.child_transaction_ids, "never sent blindly")

    def test_refunds_never_exceed_paid_at_execution(self):
        self._set_mode("batch")
        order, _invoice, tx = self._money_paid_order()
        refund = self._refund_of(self._money_credit(order, 100.0))
        other = self._refund_of(self._money_credit(order, 150.0))
        # the other refund went out for more than its credit note (by hand, outside the
        # OMS): what is left of the payment no longer covers this refund
        other.write({"state": "done", "amount": 200.0})
        self.env["oms.refund"]._cron_process_refunds()
        self.assertEqual(refund.state, "failed")
        self.assertIn("above the", refund.failure_reason)
        self.assertFalse(tx.child_transaction_ids)

    def test_refunds_outside_the_oms_count_at_execution(self):
        self._set_mode("batch")
        order, _invoice, tx = self._money_paid_order()
        refund = self._refund_of(self._money_credit(order, 100.0))
        self.assertEqual(refund.transaction_id, tx)
        # meanwhile 200 of the 250 went back through Odoo's own refund wizard on the payment
        self.env["payment.refund.wizard"].with_context(
            active_model="account.payment", active_id=tx.payment_id.id
        ).create({"payment_id": tx.payment_id.id, "amount_to_refund": 200.0}).action_refund()
        self.assertEqual(len(tx.child_transaction_ids), 1)
        self.env["oms.refund"]._cron_process_refunds()
        self.assertEqual(refund.state, "failed")
        self.assertIn("above the", refund.failure_reason)
        self.assertEqual(len(tx.child_transaction_ids), 1, "nothing more was sent")

    def test_access_rights(self):
        self._set_mode("manual")
        order, _invoice, _tx = self._money_paid_order()
        refund = self._refund_of(self._money_credit(order, 10.0))
        self.assertEqual(refund.with_user(self.oms_user).read(["state"])[0]["state"], "to_approve")
        with self.assertRaises(AccessError):
            refund.with_user(self.oms_user).write({"state": "queued"})
        with self.assertRaises(AccessError):
            refund.with_user(self.oms_user).action_cancel()
        self.assertEqual(order.with_user(self.oms_user).oms_refund_count, 1)

    def test_settings(self):
        self.assertEqual(
            self.env["res.company"].create({"name": "New Shop"}).oms_refund_mode, "manual"
        )
        with Form(self.env["res.config.settings"]) as settings_form:
            settings_form.oms_refund_mode = "batch"
            settings_form.oms_refund_batch_interval_number = 6
            settings_form.oms_refund_batch_interval_type = "hours"
            settings_form.oms_refund_four_eyes = True
            settings_form.oms_refund_journal_id = self.bank_journal
            settings = settings_form.save()
        settings.execute()
        self.assertEqual(self.company.oms_refund_mode, "batch")
        self.assertTrue(self.company.oms_refund_four_eyes)
        self.assertEqual(self.company.oms_refund_journal_id, self.bank_journal)
        self.assertEqual(self.batch_cron.interval_number, 6)
        self.assertEqual(self.batch_cron.interval_type, "hours")

    def test_refund_views_and_menu_actions(self):
        self._set_mode("manual")
        order, _invoice, _tx = self._money_paid_order()
        refund = self._refund_of(self._money_credit(order, 10.0))
        views = self.env["oms.refund"].get_views(
            [(False, "list"), (False, "form"), (False, "search")]
        )
        self.assertIn("action_approve", views["views"]["list"]["arch"])
        self.assertIn("action_retry", views["views"]["list"]["arch"])
        refund_form = Form(refund.with_user(self.oms_manager))
        self.assertEqual(refund_form.state, "to_approve")
        self.assertEqual(refund_form.credit_note_user_id, self.env.user)
        action = order.action_oms_view_refunds()
        self.assertEqual(self.env["oms.refund"].search(action["domain"]), refund)
        for xmlid, state in (
            ("oms_refund_action_to_approve", "to_approve"),
            ("oms_refund_action_failed", "failed"),
            ("oms_refund_action_done", "done"),
        ):
            context = self.env.ref(f"nextchapter_oms.{xmlid}").context
            self.assertIn(f"search_default_{state}", context)
        self.assertEqual(refund.state, "to_approve")
        self.assertIn(refund, self.env["oms.refund"].search([("state", "=", "to_approve")]))
