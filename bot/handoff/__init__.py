"""Human takeover: the queue, assignment, pausing the bot, live routing, handing back."""
