"""Analytics: whether the bot helps, over a chosen period and per day, read-only from the stores the
bot already has (Rasa's tracker events, hand-offs with their transitions and messages, the inbox's
tables), with a summary table kept current from a watermark (``summary``).

``period`` parses the period; ``summary`` folds new tracker events into per-conversation rows;
``figures`` computes every figure; ``tables`` lays them out as the named tables the page, its CSV
export and ``supportbot report`` all show; ``definitions`` says what each figure means; ``service``
ties them together for the page and the command.
"""
