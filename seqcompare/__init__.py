"""seqcompare: RNN, LSTM and GRU (and LeNet-5) side by side on three real tasks."""

__version__ = "0.1.0"

CELLS = ("rnn", "lstm", "gru")


class UserError(Exception):
    """A problem the user can fix (bad input, missing data); shown as one line, never a traceback.

    Raised with a message key of `seqcompare/locales/*.yaml` and its values, for example
    `UserError("errors.empty_review")` or `UserError("errors.too_long", n=5000, limit=2000)`, it can be
    said in either language: `render("zh-CN")`; `str()` is the English (what the CLI prints). A plain
    sentence that is no key is shown as it is, in every language."""

    def __init__(self, key: str, **values):
        self.key, self.values = key, values
        super().__init__(key)

    def render(self, lang: str = "en") -> str:
        from seqcompare import i18n
        return i18n.t(self.key, lang, **i18n.said_values(self.values, lang)) if i18n.has(self.key) else self.key

    def __str__(self) -> str:
        return self.render("en")
