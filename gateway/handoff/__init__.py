"""Where each user turn goes: the router (the bot, a queue, or a person) and the engine client."""
