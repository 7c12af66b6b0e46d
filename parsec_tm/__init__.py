"""parsec-tm: an executable, formal threat model of the Parsec security service.

The command line lives in `parsec_tm.cli`; the work is done by the packages it calls: `dataflow` (the seed as
data and the dataflow graph), `model` and `properties` (the state machine and its Z3 proofs), `refimpl` (the
reference service) and, for stateful fuzzing, `parsec_tm.conformance`.
"""

__version__ = "0.1.0"
