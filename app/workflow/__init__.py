"""The case workflow as plain domain code: the state machine, working time and scores (no Flask, no SQL)."""
