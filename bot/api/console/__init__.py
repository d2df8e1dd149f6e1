"""The agent console: web pages for the people who take over conversations from the bot."""

from bot.api.console.views import blueprint

__all__ = ["blueprint"]
