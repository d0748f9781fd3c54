"""Marks text a visitor reads, so that the app's translation catalogue lists it.

cvae_core knows nothing of languages: it keeps its English sentences and marks them with `N_`, which
returns them unchanged. The app translates them where it shows them (ui.i18n), so the core, the CLI
and the checkpoints stay the same in every language. Babel's extractor finds `N_("...")` calls
(ui/locales/babel.cfg).
"""


def N_(text: str) -> str:  # noqa: N802 -- the name gettext's tools look for
    """The text itself; marked for the catalogue, translated by the app when shown."""
    return text
