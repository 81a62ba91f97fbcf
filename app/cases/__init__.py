"""The closed loop of a case: intake from every channel, reading and lists, the state machine and working
time, the workflow service, dispatch rules and settings, supervision and fallback."""
