"""Marks words for translation where they are defined (Babel extracts ``N_("...")``); the
pages translate them when they show them."""


def N_(text: str) -> str:
    return text
