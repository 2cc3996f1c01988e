"""Marks words for translation where they are defined (Babel extracts ``N_("...")``); the
pages translate them when they show them."""


def N_(text: str) -> str:
    return text


# Intake's default categories, in words (a category configured beyond these shows as is).
CATEGORIES = (
    N_("product_quality"), N_("service_attitude"), N_("delivery"), N_("billing"),
    N_("installation"), N_("safety"), N_("environment"), N_("other"),
)  # fmt: skip
