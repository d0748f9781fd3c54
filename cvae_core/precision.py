"""The rounding rule of every figure shown with its standard error: the app's tables and sentences and the findings
the core writes keep the decimals the error supports, and no more."""

import math


def decimals_for(error: float | None) -> int:
    """How many decimals a figure with this standard error supports: down to the first significant digit of the error,
    one digit further when that digit is 1 or 2 (rounding 0.14 to 0.1 would shift it by a third). 0 for an error of 1
    or more; None, zero or not finite: one decimal."""
    if error is None or not math.isfinite(error) or error <= 0:
        return 1
    position = math.floor(math.log10(error))  # 0.61 -> -1, 3.2 -> 0, 0.0016 -> -3
    leading = int(error / 10**position)  # the first significant digit
    return max(0, -position + (1 if leading <= 2 else 0))
