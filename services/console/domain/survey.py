"""The survey page's words: the six levels of DOMAIN.md, best first (score 6..1)."""

from __future__ import annotations

from services.console.domain.words import N_

LEVELS: tuple[tuple[str, str], ...] = (
    ("very_satisfied", N_("Very satisfied: I would buy from you again")),
    ("satisfied", N_("Satisfied: I would probably buy from you again")),
    ("neutral", N_("Neither satisfied nor dissatisfied")),
    ("resigned", N_("I put up with it, for now")),
    ("dissatisfied", N_("Dissatisfied")),
    ("very_dissatisfied", N_("Very dissatisfied: I will tell others")),
)
LEVEL_NAMES = frozenset(name for name, _ in LEVELS)

FACTOR_LABELS = {
    "speed": N_("How quickly it was handled"),
    "attitude": N_("The staff's attitude"),
    "solution": N_("The solution"),
    "compensation": N_("The compensation"),
    "communication": N_("How we kept you informed"),
    "follow_up": N_("The follow-up"),
    "product": N_("The product itself"),
    "other": N_("Something else"),
}
