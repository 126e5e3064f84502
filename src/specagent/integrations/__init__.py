"""specagent inside other real-time frameworks.

* :mod:`specagent.integrations.pipecat`: a Pipecat ``FrameProcessor`` (extra ``pipecat``).

Each module imports its framework, so import the one you use directly.
"""
