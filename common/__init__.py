"""What both services run, installed in both environments: the 大型ごみ booking store and rules, the
unanswered-question log, the clock, conversation ids. Pure Python + SQLAlchemy Core; nothing Rasa, nothing Sanic."""
