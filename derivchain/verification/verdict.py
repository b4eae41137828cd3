"""The verdict of a comparison: whether forms agree, how that was shown, and how strongly."""

from __future__ import annotations

from dataclasses import field

from ..record import record
from ..result import Result


@record(repr=False)
class Verdict(Result):
    """Whether the forms agree, how that was shown, and how strongly."""

    kind = "verdict"  # the renderers' method for it (see derivchain.result)

    equal: bool
    method: str
    detail: str
    proof: bool
    forms: tuple[str, ...]
    counterexample: dict = field(default_factory=dict, compare=False)
    decided: bool = True

    def __repr__(self) -> str:
        return f"Verdict({self.word}, {self.method})"

    @property
    def word(self) -> str:
        """``equal``, ``NOT equal`` or ``undecided``."""
        return "equal" if self.equal else ("NOT equal" if self.decided else "undecided")

    def __str__(self) -> str:
        word = self.word
        return f"{word} ({self.method}): {self.detail}"


STRENGTH = ["identical", "expansion", "random points mod p", "numeric", "undecided"]


def weakest(verdicts) -> Verdict:
    """Of verdicts on the parts of one claim: the first that is not equal, else the one by the weakest
    method (the claim is shown only as strongly as its weakest part)."""
    verdicts = list(verdicts)
    failed = [v for v in verdicts if not v.equal]
    return failed[0] if failed else max(verdicts, key=lambda v: STRENGTH.index(v.method))
