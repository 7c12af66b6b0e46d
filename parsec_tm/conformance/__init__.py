"""Stateful conformance: Hypothesis drives the formal model and a Parsec-protocol service in lockstep.

`machine` holds the RuleBasedStateMachine, `target` what it drives (a socket it
does not own, or a service process it owns), `trace` the minimal, replayable trace of a divergence, `replay` the
machine bound to a replay file's target, `settings` the budgets and example database, `progress` the terminal
progress bar, `runner` the campaign loop, `workers` campaigns in parallel processes, `concrete` the key templates
and result checks, `deviations` the declared deviations, `coverage` what a campaign exercised, `junit` the CI
report, `service` the owned service process. `parsec-tm fuzz` (parsec_tm/cli/fuzz.py) is the command line over
`workers.run_spec`. Imports go one way: trace, coverage, deviations, settings, service and concrete import no
other module of the package; the machine imports them; the runner the machine; replay and workers the runner.
"""
