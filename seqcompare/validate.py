"""Numbers from users and clients: a whole number or a finite one, or a UserError naming the setting."""

from __future__ import annotations

import math

from seqcompare import UserError
from seqcompare.i18n import said


def whole(value, what: str) -> int:
    """A whole number, or a UserError naming the setting (2.5, inf, "two" and True are refused)."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if isinstance(value, bool) or not number.is_integer():
        raise UserError("errors.whole", what=what, value=repr(value))
    return int(number)


def random_seed(value, notices: list):
    """A random-seed box's value as given, or 0 for a cleared box (None or ""), which `notices` then says."""
    if value is None or value == "":
        notices.append(said("notices.seed_default", seed=0))
        return 0
    return value


def finite(value, what: str) -> float:
    """A finite number, or a UserError naming the setting ("soon", NaN, inf and True are refused)."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise UserError("errors.number", what=what) from None
    if isinstance(value, bool):
        raise UserError("errors.number_not", what=what, value=repr(value))
    if not math.isfinite(number):
        raise UserError("errors.finite", what=what)
    return number
