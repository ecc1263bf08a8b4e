import polib

from odoo.tests import TransactionCase, tagged
from odoo.tools.misc import file_path
from odoo.tools.translate import TranslationModuleReader


@tagged("post_install", "-at_install")
class TestDutchCatalogue(TransactionCase):
    def test_every_term_has_a_dutch_translation(self):
        """The shops work in Dutch: every term the module exports is translated in nl.po."""
        reader = TranslationModuleReader(self.env.cr, modules=["nextchapter_oms"])
        terms = {source for (_module, _type, _name, _res_id, source, _value, _comments) in reader}
        self.assertTrue(terms)
        catalogue = polib.pofile(file_path("nextchapter_oms/i18n/nl.po"))
        translated = {entry.msgid for entry in catalogue if entry.msgstr and not entry.obsolete}
        missing = sorted(terms - translated)
        self.assertFalse(missing, "Untranslated in i18n/nl.po:\n" + "\n".join(missing[:50]))

    def test_dutch_status_labels_load(self):
        self.env["res.lang"]._activate_lang("nl_NL")
        self.env["ir.module.module"]._load_module_terms(
            ["nextchapter_oms"], ["nl_NL"], overwrite=True
        )
        labels = dict(
            self.env["sale.order"]
            .with_context(lang="nl_NL")
            ._fields["oms_state"]
            ._description_selection(self.env(context={"lang": "nl_NL"}))
        )
        self.assertEqual(labels["awaiting_payment"], "Wacht op betaling")
        self.assertEqual(labels["awaiting_shipment"], "Wacht op verzending")
        self.assertEqual(labels["shipped"], "Verzonden")
        self.assertEqual(labels["cancelled"], "Geannuleerd")
