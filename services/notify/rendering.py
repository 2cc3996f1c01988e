"""Messages from Jinja2 templates, one folder per language (``templates/en``,
``templates/zh-CN``). Each message has ``<name>.txt`` with the blocks ``subject``, ``text`` and
(customer messages) ``sms``, and ``<name>.html``, the e-mail's HTML part, autoescaped."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    pass_context,
    select_autoescape,
)

from services.notify.domain.messages import LANGUAGES, Content, Template
from services.notify.domain.quiet_hours import zone
from shared.config_files import ConfigError


class Renderer:
    def __init__(self, folder: Path, zone: ZoneInfo) -> None:
        self.zone = zone
        self.environments = {}
        for language in LANGUAGES:
            env = Environment(
                loader=FileSystemLoader(folder / language),
                autoescape=select_autoescape(["html"]),
                undefined=StrictUndefined,  # a misspelt variable fails loudly, in tests
                trim_blocks=True,
                lstrip_blocks=True,
                keep_trailing_newline=False,
                auto_reload=False,  # templates are read once: no stat per message
            )
            env.filters["when"] = self._when_filter(language)
            env.filters["role"] = lambda name, language=language: role_name(name, language)
            self.environments[language] = env

    def _when_filter(self, language: str):
        @pass_context
        def when(context: Any, value: datetime | str | None) -> str:
            # A message about a site elsewhere names its zone (``time_zone``); else ours.
            named = context.get("time_zone")
            return local_time(value, language, zone(named) if named else self.zone)

        return when

    def check(self) -> None:
        """Every template of every language loads (at start-up, not at the first message)."""
        for language, env in self.environments.items():
            for template in Template:
                for suffix in ("txt", "html"):
                    try:
                        env.get_template(f"{template.value}.{suffix}")
                    except Exception as exc:
                        raise ConfigError(
                            f"template {language}/{template.value}.{suffix}: {exc}"
                        ) from None

    def render(self, template: Template, language: str, context: dict[str, Any]) -> Content:
        env = self.environments.get(language) or self.environments["en"]
        text_template = env.get_template(f"{template.value}.txt")
        text_ctx = text_template.new_context(dict(context))
        blocks = text_template.blocks

        def block(name: str) -> str | None:
            if name not in blocks:
                return None
            return "".join(blocks[name](text_ctx)).strip()

        html = env.get_template(f"{template.value}.html").render(**context)
        return Content(
            subject=" ".join((block("subject") or "").split()),
            text=(block("text") or "") + "\n",
            html=html,
            sms=block("sms"),
        )


# The directory's roles as staff read them (an unknown role is shown as it is named).
ROLE_NAMES = {
    "en": {"team_lead": "team lead", "customer_relations": "customer relations officer"},
    "zh-CN": {
        "agent": "一线客服",
        "team_lead": "组长",
        "supervisor": "值班主管",
        "customer_relations": "客户关系专员",
        "manager": "经理",
        "executive": "高管",
        "admin": "管理员",
    },
}


def role_name(name: str, language: str) -> str:
    return ROLE_NAMES.get(language, {}).get(name, name.replace("_", " "))


def local_time(value: datetime | str | None, language: str, zone: ZoneInfo) -> str:
    """A moment as customers read it, in the deployment's time zone."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = value.astimezone(zone)
    if language == "zh-CN":
        return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
    return f"{local:%Y-%m-%d %H:%M} ({local:%Z})" if local.tzname() else f"{local:%Y-%m-%d %H:%M}"
