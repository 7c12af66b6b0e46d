"""Stateful conformance: Hypothesis drives the formal model and a Parsec-protocol service in lockstep.

The issue "Stateful conformance". `machine` holds the RuleBasedStateMachine, `target` what it drives (a socket it
does not own, or a service process it owns), `trace` the minimal, replayable trace of a divergence, `settings` the
budgets and example database, `progress` the terminal progress bar, `runner` the campaign loop, `concrete` the key
templates and result checks, `service` the owned service process. `parsec-tm fuzz` (parsec_tm/cli/fuzz.py) is the
command line over `runner.run_campaign`.
"""
