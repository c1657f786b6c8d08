"""Scenario family 'syncflush' (placeholder; run by bench.py when FAMILIES contains it)."""


def run(ctx, args, emit):
    ctx.log("family syncflush: not written yet")


def report(records):
    return ""
